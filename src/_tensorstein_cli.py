"""The ``tensorstein`` console script: Ctrl-C exits 130 quietly even while the package is still importing.

The entry point lives outside the package because importing ``tensorstein.cli`` first runs the package's
``__init__`` (NumPy, the op registry), where an interrupt would otherwise print Python's traceback.
"""
import signal
import sys


def main() -> int:
    try:
        from tensorstein.cli import main as cli_main
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the exit
        return 130
    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
