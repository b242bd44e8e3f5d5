"""Atomic file output: a file this package writes is either absent or complete, never half-written.

Everything is written to a temporary file in the target's folder and renamed over the target only once it is
complete (``os.replace`` is atomic on one file system); on any error, Ctrl-C included, the temporary file is
removed and an existing target is left as it was.

What may be replaced: a regular file or a path that does not exist yet. A symbolic link is written through: the
file it points to is replaced atomically and the link is kept (a dangling link creates its target). Anything
else at the path (a directory, a character or block device such as ``/dev/null``, a FIFO, a socket, or a link
to one of these) is refused with :class:`UnsafeOutputError` before anything is written, so that an output
option can never turn a device node or a pipe into a regular file. ``write_text("-", ...)`` writes to standard
output instead of a file.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# mkstemp creates files readable by the owner only; a finished file should get what open() would give it.
_UMASK = os.umask(0)
os.umask(_UMASK)

#: The name that means "standard output" to :func:`write_text`.
STDOUT = "-"

_KINDS = (
    (stat.S_ISDIR, "a directory", errno.EISDIR),
    (stat.S_ISCHR, "a character device", errno.EINVAL),
    (stat.S_ISBLK, "a block device", errno.EINVAL),
    (stat.S_ISFIFO, "a named pipe (FIFO)", errno.EINVAL),
    (stat.S_ISSOCK, "a socket", errno.EINVAL),
)


class UnsafeOutputError(OSError):
    """The output path holds something that is not a regular file; ``str()`` is one line naming the path."""

    def __init__(self, path: str | os.PathLike, why: str, code: int = errno.EINVAL) -> None:
        super().__init__(code, f"{why}, not a regular file: refusing to replace it", os.fspath(path))

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


def resolve_output(path: str | os.PathLike) -> tuple[Path, os.stat_result | None]:
    """The file a write to ``path`` must replace (symbolic links followed) and its ``stat``, None if absent.

    Raises :class:`UnsafeOutputError` when that is not a regular file.
    """
    given = Path(path)
    try:
        info = os.stat(given)  # follows links as the kernel does, /proc/self/fd/N included
    except (FileNotFoundError, NotADirectoryError):  # new path or dangling link (a file parent: mkdir reports it)
        info = None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeOutputError(given, "a symbolic link that loops") from None
        raise
    link = given.is_symlink()
    target = Path(os.path.realpath(given)) if link else given
    if info is not None:
        for test, kind, code in _KINDS:
            if test(info.st_mode):
                raise UnsafeOutputError(given, kind + (" (the target of the link)" if link else ""), code)
        try:
            same = link and os.stat(target)[:3] == info[:3]  # (mode, inode, device)
        except OSError:
            same = False
        if link and not same:  # a "magic" link (/proc/self/fd/N) has no name to replace the file under
            raise UnsafeOutputError(given, "a link to an open file without a path")
    return target, info


@contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``'s target; rename it over the target when the block succeeds.

    Raises :class:`UnsafeOutputError` (an ``OSError``) before yielding if ``path`` is not a regular file, a
    new path, or a symbolic link to one of these.
    """
    target, info = resolve_output(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        # A replaced file keeps its permissions; a new one gets what open() would give it.
        os.chmod(tmp, stat.S_IMODE(info.st_mode) if info is not None else 0o666 & ~_UMASK)
        resolve_output(path)  # refuse if a special file appeared at the path while we were writing
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: str | os.PathLike, text: str, newline: str | None = None) -> Path | str:
    """Write ``text`` (UTF-8) to ``path`` atomically; ``newline=""`` keeps line endings as given (CSV).

    ``path == "-"`` (the string, as a command line gives it) writes to standard output instead.
    """
    if isinstance(path, str) and path == STDOUT:
        sys.stdout.write(text)
        sys.stdout.flush()
        return path
    with atomic_output(path) as tmp, open(tmp, "w", encoding="utf-8", newline=newline) as f:
        f.write(text)
    return Path(path)
