"""Atomic file writes that behave like a plain ``open(path, "wb")`` from the outside.

The data goes to ``.<name>.tmp-<pid>-<random>`` beside the target and is ``os.replace``-d over it,
so readers never see half a file. The new file gets the mode a plain ``open()`` would give (the
existing file's mode when overwriting, ``0o666 & ~umask`` otherwise); a symlink is written through
(the link stays, its target is replaced); temp files left by a killed save of the same target are
removed; errors name the target, never the temp file. An existing target that is not a regular file
(``/dev/null``, ``/dev/full``, a FIFO) is written to directly, as ``open()`` would.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Callable

__all__ = ["atomic_write"]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def _clean_stale(directory: str, base: str) -> None:
    prefix = f".{base}.tmp-"
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if not name.startswith(prefix):
            continue
        pid = name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            try:
                os.unlink(os.path.join(directory, name))
            except OSError:
                pass


def _named(exc: OSError, shown: str, directory: str) -> OSError:
    """The same error, naming the target; a short write without errno on a full disk becomes ENOSPC."""
    code, text = exc.errno, exc.strerror
    if code is None:
        try:
            full = os.statvfs(directory).f_bavail == 0
        except OSError:
            full = False
        code, text = (errno.ENOSPC, os.strerror(errno.ENOSPC)) if full else (errno.EIO, f"write failed ({exc})")
    return OSError(code, text, shown)


def atomic_write(path: str | os.PathLike, write: Callable) -> None:
    """Write through ``write(binary_file)`` into a temp file beside ``path``, then rename it over ``path``.

    >>> atomic_write("weights.pt", lambda f: f.write(b"..."))  # doctest: +SKIP
    """
    shown = os.fspath(path)
    target = os.path.realpath(shown)  # write through symlinks
    if os.path.isdir(target):
        raise IsADirectoryError(errno.EISDIR, "Is a directory", shown)
    directory, base = os.path.split(target)
    if not os.path.isdir(directory):
        if os.path.exists(directory):
            raise NotADirectoryError(errno.ENOTDIR, f"{directory} is not a directory", shown)
        raise FileNotFoundError(errno.ENOENT, f"directory {directory} does not exist", shown)
    try:
        old = os.stat(target)
    except OSError:
        old = None
    if old is not None and not stat.S_ISREG(old.st_mode):  # /dev/null, a FIFO...: write to it, as open() does
        try:
            with open(target, "wb") as f:
                write(f)
        except OSError as exc:
            raise _named(exc, shown, directory) from None
        return
    _clean_stale(directory, base)
    tmp = os.path.join(directory, f".{base}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    fd = -1
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as for open()
        if old is not None:
            os.fchmod(fd, stat.S_IMODE(old.st_mode))  # overwriting keeps the file's mode and owner
            if (old.st_uid, old.st_gid) != (os.geteuid(), os.getegid()):
                try:
                    os.fchown(fd, old.st_uid, old.st_gid)
                except OSError:
                    pass
        with os.fdopen(fd, "wb") as f:
            fd = -1
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        tmp = ""
    except OSError as exc:
        raise _named(exc, shown, directory) from None
    finally:
        if fd >= 0:
            os.close(fd)
        if tmp:
            try:
                os.unlink(tmp)
            except OSError:
                pass
