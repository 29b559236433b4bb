"""``tensorstein run``: launch a script on N ranks under MPI's ``mpiexec`` (like ``torchrun``).

    tensorstein run --nproc-per-node 4 train.py --lr 0.1
    tensorstein run --nproc-per-node 4 --hosts node1,node2 -m mypkg.train

Each rank runs through ``python -m tensorstein.distributed._worker``, which sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``, ``MASTER_ADDR``/``MASTER_PORT`` from the MPI launcher (MPICH, Open MPI
or Slurm's srun) and ends the whole job with a non-zero status when any rank raises.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import sysconfig

__all__ = ["add_parser", "build_command", "main"]

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def add_parser(sub) -> argparse.ArgumentParser:
    """Register ``run`` on an argparse subparsers object (the ``tensorstein`` command)."""
    r = sub.add_parser("run", help="run a script or module on N processes under mpiexec (like torchrun)")
    _arguments(r)
    r.set_defaults(func=lambda args: launch(args))
    return r


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--nproc-per-node", "--nproc_per_node", type=int, default=1, metavar="N",
                   help="processes (ranks) per machine (default 1)")
    p.add_argument("--hosts", default=None, help="comma-separated machine names (default: this machine only)")
    p.add_argument("--threads-per-rank", type=int, default=None, metavar="T",
                   help="BLAS/Numba/OpenMP threads per rank (default: cores / ranks per machine)")
    p.add_argument("--master-port", "--master_port", type=int, default=29500, help=argparse.SUPPRESS)
    p.add_argument("-m", "--module", action="store_true", help="run TARGET as a module, like python -m")
    p.add_argument("target", metavar="TARGET", help="script path (or module name with -m)")
    p.add_argument("target_args", nargs=argparse.REMAINDER, metavar="ARGS", help="arguments for TARGET")


def _mpiexec() -> str:
    here = os.path.join(sysconfig.get_path("scripts"), "mpiexec")
    path = here if os.path.exists(here) else shutil.which("mpiexec")
    if path is None:
        raise FileNotFoundError('mpiexec not found: pip install "tensorstein[distributed]" (mpi4py + mpich)')
    return path


def build_command(args) -> tuple[list, dict]:
    """The ``mpiexec`` command line and environment for the parsed ``run`` arguments."""
    if args.nproc_per_node < 1:
        raise ValueError(f"--nproc-per-node must be >= 1, got {args.nproc_per_node}")
    hosts = [h for h in (args.hosts or "").split(",") if h]
    n = args.nproc_per_node * max(len(hosts), 1)
    threads = args.threads_per_rank or max(1, (os.cpu_count() or 1) // args.nproc_per_node)
    env = dict(os.environ)
    for var in THREAD_VARS:  # an explicit --threads-per-rank wins; otherwise keep what the user exported
        if args.threads_per_rank is not None or var not in env:
            env[var] = str(threads)
    env.update(WORLD_SIZE=str(n), LOCAL_WORLD_SIZE=str(args.nproc_per_node),
               MASTER_ADDR=hosts[0] if hosts else "127.0.0.1", MASTER_PORT=str(args.master_port))
    cmd = [_mpiexec(), "-n", str(n)]
    if hosts:
        cmd += ["-hosts", ",".join(hosts), "-ppn", str(args.nproc_per_node)]
    cmd += [sys.executable, "-m", "tensorstein.distributed._worker", "-m" if args.module else "--",
            args.target, *args.target_args]
    return cmd, env


def launch(args) -> int:
    if not args.module and not os.path.isfile(args.target):
        raise FileNotFoundError(f"{args.target}: no such file")
    cmd, env = build_command(args)
    try:
        return subprocess.run(cmd, env=env, check=False).returncode
    except KeyboardInterrupt:
        return 130


def main(argv=None) -> int:
    """``python -m tensorstein.distributed.run ...`` (the same as ``tensorstein run ...``)."""
    p = argparse.ArgumentParser(prog="tensorstein run", description=__doc__.splitlines()[0])
    _arguments(p)
    args = p.parse_args(argv)
    try:
        return launch(args)
    except (FileNotFoundError, ValueError) as exc:
        print(f"tensorstein run: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
