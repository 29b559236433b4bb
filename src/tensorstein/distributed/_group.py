"""Process groups on MPI: ``init_process_group`` and friends, the work handle, the timeout watchdog.

mpi4py is imported only here and only when a group is created, so ``import tensorstein.distributed``
works without it (``is_available()`` is then False).

>>> import tensorstein.distributed as dist
>>> dist.is_initialized()
False
"""
from __future__ import annotations

import datetime
import importlib.util
import os
import sys
import threading
import time
from enum import Enum
from typing import ClassVar

__all__ = [
    "Backend",
    "GroupMember",
    "ProcessGroup",
    "ReduceOp",
    "Work",
    "barrier",
    "destroy_process_group",
    "get_backend",
    "get_global_rank",
    "get_process_group_ranks",
    "get_rank",
    "get_world_size",
    "group",
    "init_process_group",
    "is_available",
    "is_initialized",
    "is_mpi_available",
    "new_group",
]

default_pg_timeout = datetime.timedelta(minutes=30)
_INSTALL = 'the MPI backend needs mpi4py and an MPI library: pip install "tensorstein[distributed]"'
_NOT_INIT = "Default process group has not been initialized, please make sure to call init_process_group."


class Backend(str):
    """Backend names; ``"mpi"`` runs on mpi4py (``"gloo"`` is accepted and served by MPI on the CPU)."""

    UNDEFINED = "undefined"
    MPI = "mpi"
    GLOO = "gloo"
    NCCL = "nccl"

    def __new__(cls, name: str):
        return str.__new__(cls, name.lower())


class ReduceOp(Enum):
    """Reduction operations, as ``torch.distributed.ReduceOp``."""

    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4
    BAND = 5
    BOR = 6
    BXOR = 7

    def __repr__(self):
        return f"<RedOpType.{self.name}: {self.value}>"

    def __str__(self):
        return f"RedOpType.{self.name}"


def is_available() -> bool:
    """True when mpi4py is installed (checked without importing it)."""
    return importlib.util.find_spec("mpi4py") is not None


is_mpi_available = is_available


class ProcessGroup:
    """A set of ranks with its own MPI communicator (``comm`` is None on ranks outside the group)."""

    def __init__(self, comm, ranks, backend, timeout):
        self.comm = comm
        self.ranks = list(ranks)  # global ranks, in group-rank order
        self.backend = backend
        self.timeout = timeout
        self.timeout_s = timeout.total_seconds()

    def rank(self) -> int:
        return self.comm.Get_rank() if self.comm is not None else -1

    def size(self) -> int:
        return len(self.ranks)

    def group_rank(self, global_rank: int) -> int:
        try:
            return self.ranks.index(global_rank)
        except ValueError:
            raise ValueError(f"Global rank {global_rank} is not part of group {self}") from None

    def __repr__(self):
        return f"ProcessGroup(backend={self.backend!r}, ranks={self.ranks})"


class GroupMember:
    WORLD: ProcessGroup | None = None
    NON_GROUP_MEMBER = -100


class _GroupNamespace:
    @property
    def WORLD(self):
        return GroupMember.WORLD


group = _GroupNamespace()


class _State:
    MPI = None  # the mpi4py.MPI module once a group exists
    world: ProcessGroup | None = None
    debug = False  # TORCH_DISTRIBUTED_DEBUG=DETAIL when the default group was created: compare shapes


def _mpi():
    if _State.MPI is None:
        try:
            from mpi4py import MPI
        except ImportError:
            raise RuntimeError(_INSTALL) from None
        _State.MPI = MPI
    return _State.MPI


def _world() -> ProcessGroup:
    if _State.world is None:
        raise ValueError(_NOT_INIT)
    return _State.world


def _resolve(group_: ProcessGroup | None) -> ProcessGroup:
    return _world() if group_ is None else group_


def is_initialized() -> bool:
    return _State.world is not None


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, store=None,
                       group_name="", pg_options=None, device_id=None):
    """Join the default group: every rank of the ``mpiexec`` (or ``tensorstein run``) job.

    >>> import tensorstein.distributed as dist
    >>> dist.init_process_group("mpi")  # doctest: +SKIP
    """
    if _State.world is not None:
        raise ValueError("trying to initialize the default process group twice!")
    name = Backend(backend or "mpi")
    if name not in (Backend.MPI, Backend.GLOO):
        raise ValueError(f"backend {name!r} is not available in tensorstein (CPU only): use backend='mpi'")
    if init_method not in (None, "env://"):
        raise ValueError(f"init_method {init_method!r} is not supported: the MPI launcher (mpiexec or "
                         "`tensorstein run`) connects the ranks; use init_method='env://' or leave it out")
    if not is_available():
        raise RuntimeError(_INSTALL)
    MPI = _mpi()
    comm = MPI.COMM_WORLD.Dup()
    comm.Set_errhandler(MPI.ERRORS_RETURN)  # MPI errors (e.g. truncated messages) raise instead of aborting
    env_size, env_rank = os.environ.get("WORLD_SIZE"), os.environ.get("RANK")
    for what, given, env, actual in (("world_size", world_size, env_size, comm.Get_size()),
                                     ("rank", rank, env_rank, comm.Get_rank())):
        want = given if given is not None and given >= 0 else (int(env) if env else actual)
        if want != actual:
            raise ValueError(f"init_process_group: {what}={want} but the MPI launcher started this process as "
                             f"{what}={actual}; launch with `tensorstein run --nproc-per-node N` or mpiexec -n N")
    timeout = default_pg_timeout if timeout is None else timeout
    _State.debug = os.environ.get("TORCH_DISTRIBUTED_DEBUG", "").upper() == "DETAIL"
    _State.world = GroupMember.WORLD = ProcessGroup(comm, range(comm.Get_size()), name, timeout)
    _Watchdog.ensure()


def destroy_process_group(group_=None):
    """Free a group's communicator; with no argument, the default group (and every other)."""
    if group_ is None or group_ is _State.world:
        _world()
        _State.world.comm.Free()
        _State.world = GroupMember.WORLD = None
    elif group_.comm is not None:
        group_.comm.Free()
        group_.comm = None


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False):
    """A subgroup of the default group; every rank must call it (ranks outside get a non-member group)."""
    world = _world()
    ranks = sorted(range(world.size()) if ranks is None else (int(r) for r in ranks))
    for r in ranks:
        if not 0 <= r < world.size():
            raise ValueError(f"Invalid rank {r}: ranks must be in [0, {world.size()})")
    MPI = _mpi()
    me = world.rank()
    comm = world.comm.Split(0 if me in ranks else MPI.UNDEFINED, ranks.index(me) if me in ranks else 0)
    comm = None if comm == MPI.COMM_NULL else comm
    if comm is not None:
        comm.Set_errhandler(MPI.ERRORS_RETURN)
    return ProcessGroup(comm, ranks, Backend(backend or world.backend), timeout or world.timeout)


def get_rank(group=None) -> int:
    return _resolve(group).rank()


def get_world_size(group=None) -> int:
    g = _resolve(group)
    return g.size() if g.comm is not None else -1


def get_backend(group=None) -> str:
    return _resolve(group).backend


def get_global_rank(group, group_rank: int) -> int:
    return _resolve(group).ranks[group_rank]


def get_process_group_ranks(group) -> list:
    return list(_resolve(group).ranks)


def barrier(group=None, async_op=False, device_ids=None):
    g = _resolve(group)
    if g.comm is None:
        return None
    if async_op:
        return Work(g, [g.comm.Ibarrier()], None, "barrier")
    with _Watchdog.watch("barrier", g.timeout):
        g.comm.Barrier()
    return None


# ---------------------------------------------------------------- work handles and the timeout
class Work:
    """An operation in flight: ``wait()`` blocks until it is done (and its result is in the tensors)."""

    def __init__(self, group_, requests, finish, name, status=None):
        self._group, self._requests, self._finish, self._name = group_, requests, finish, name
        self._status = status
        self._done = False
        self.result_value = None

    def wait(self, timeout=None) -> bool:
        if not self._done:
            if self._requests:
                with _Watchdog.watch(self._name, timeout or self._group.timeout):
                    if len(self._requests) == 1:
                        self._requests[0].Wait(self._status)
                    else:
                        _State.MPI.Request.Waitall(self._requests)
            self._complete()
        return True

    def is_completed(self) -> bool:
        if not self._done and (not self._requests or _State.MPI.Request.Testall(self._requests)):
            self._complete()
        return self._done

    def _complete(self):
        self._done = True
        if self._finish is not None:
            self.result_value = self._finish()

    def result(self):
        return self.result_value

    def __repr__(self):
        return f"<Work {self._name} {'completed' if self._done else 'pending'}>"


class _Watchdog:
    """Ends the job when a blocking operation runs past the group's timeout (MPI calls cannot be cancelled).

    ``pending`` maps a key to ``(name, deadline, timeout)`` for each wait in progress (dict updates are atomic
    under the GIL, so the hot path takes no lock); a daemon thread checks it every 0.2 s.
    """

    pending: ClassVar[dict] = {}
    _thread = None

    @classmethod
    def ensure(cls):
        if cls._thread is None:
            cls._thread = threading.Thread(target=cls._run, name="tensorstein-dist-watchdog", daemon=True)
            cls._thread.start()

    @classmethod
    def watch(cls, name, timeout):
        return _Watched(name, timeout)

    @classmethod
    def _run(cls):
        while True:
            time.sleep(0.2)
            now = time.monotonic()
            expired = [v for v in list(cls.pending.values()) if now > v[1]]
            if expired:
                name, _, timeout = expired[0]
                rank = _State.world.rank() if _State.world is not None else "?"
                print(f"[rank {rank}] RuntimeError: Watchdog caught collective operation timeout: {name} ran for "
                      f"longer than the process group's timeout of {timeout}; ending the job",
                      file=sys.stderr, flush=True)
                os._exit(1)


class _Watched:
    __slots__ = ("name", "timeout")

    def __init__(self, name, timeout):
        self.name, self.timeout = name, timeout

    def __enter__(self):
        _Watchdog.pending[id(self)] = (self.name, time.monotonic() + self.timeout.total_seconds(), self.timeout)

    def __exit__(self, *exc):
        _Watchdog.pending.pop(id(self), None)
