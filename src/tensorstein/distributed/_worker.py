"""One rank of ``tensorstein run``: set torch's rank variables, run the target, end the job if it raises.

    python -m tensorstein.distributed._worker -- script.py ARGS
    python -m tensorstein.distributed._worker -m module ARGS

MPI is initialised before the target runs, so a rank that raises can print ``[rank R]`` and its traceback
and then call ``MPI_Abort``: ``mpiexec`` stops every rank (none waits forever in a collective) and exits
non-zero.
"""
from __future__ import annotations

import os
import runpy
import sys
import traceback

# (rank, size, local rank, local size) variables of MPICH's hydra, Open MPI and Slurm's srun
_LAUNCHERS = (("PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "MPI_LOCALNRANKS"),
              ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
               "OMPI_COMM_WORLD_LOCAL_SIZE"),
              ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE"))


def set_rank_env(env=os.environ) -> None:
    """RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE from whichever MPI launcher started this process."""
    for rank, size, local, nlocal in _LAUNCHERS:
        if rank in env:
            env["RANK"], env["WORLD_SIZE"] = env[rank], env.get(size, env.get("WORLD_SIZE", "1"))
            env["LOCAL_RANK"] = env.get(local, env["RANK"])
            env["LOCAL_WORLD_SIZE"] = env.get(nlocal, "").split("(")[0] or env.get("LOCAL_WORLD_SIZE", "1")
            break
    env.setdefault("RANK", "0")
    env.setdefault("WORLD_SIZE", "1")
    env.setdefault("LOCAL_RANK", "0")
    env.setdefault("MASTER_ADDR", "127.0.0.1")
    env.setdefault("MASTER_PORT", "29500")


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[0] not in ("-m", "--"):
        print("usage: python -m tensorstein.distributed._worker (-m MODULE | -- SCRIPT) [ARGS...]", file=sys.stderr)
        raise SystemExit(2)
    set_rank_env()
    comm = _mpi_world()
    mode, target, args = argv[0], argv[1], argv[2:]
    sys.argv = [target, *args]
    code = 0
    try:
        if mode == "-m":
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            sys.path.insert(0, os.path.dirname(os.path.abspath(target)))
            runpy.run_path(target, run_name="__main__")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if not isinstance(exc.code, (int, type(None))):
            print(f"[rank {os.environ['RANK']}] {exc.code}", file=sys.stderr)
    except BaseException:  # noqa: BLE001 - any error of the target must end the whole job
        lines = traceback.format_exc().rstrip("\n").splitlines()
        print("\n".join(f"[rank {os.environ['RANK']}] {line}" for line in lines), file=sys.stderr)
        code = 1
    if code:
        sys.stdout.flush()
        sys.stderr.flush()
        if comm is not None:
            comm.Abort(code)
        os._exit(code)


def _mpi_world():
    """MPI's world communicator, initialised now (None without mpi4py: a single process)."""
    try:
        from mpi4py import MPI
    except ImportError:
        return None
    return MPI.COMM_WORLD


if __name__ == "__main__":
    main(sys.argv[1:])
