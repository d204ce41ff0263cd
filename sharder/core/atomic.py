"""Atomic file writes: a reader (or a CI job killed mid-write) sees the old file or the new one, never half."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
import weakref
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from sharder.core.errors import SharderError


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to a temp file beside `path`, fsync it, then `os.replace` it over `path`.

    The temp file lives in the target's directory because `os.replace` is only atomic within one filesystem.
    A write the system refuses (a full disk, `ulimit -f`, a read-only or missing directory) is the user's
    environment, not a bug: a `SharderError` naming the file, the old file untouched, the temp file removed.
    """
    atomic_write_chunks(path, (data,))


def atomic_write_chunks(path: str | os.PathLike[str], chunks: Iterable[bytes]) -> None:
    """`atomic_write_bytes` for data that comes in pieces: a merged report of a million cases is written from a
    spool file, never held in memory whole."""
    try:
        _write_replacing(Path(path), chunks)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        hint = _HINTS.get(exc.errno or 0, "")
        raise SharderError(f"cannot write {os.fspath(path)!r}: {reason}{hint}; the old file, if any, is "
                           "unchanged") from None


# errno -> what the user can do about it; EFBIG is `ulimit -f` (RLIMIT_FSIZE) in practice.
_HINTS = {
    errno.ENOSPC: " (the disk is full)",
    errno.EDQUOT: " (disk quota exceeded)",
    errno.EFBIG: " (over the file size limit, ulimit -f)",
}


def _write_replacing(target: Path, chunks: Iterable[bytes]) -> None:
    directory = target.parent if str(target.parent) else Path(".")
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        # mkstemp creates 0600; a report or durations file must get the mode a plain open() would give it.
        os.fchmod(fd, _mode_for(target))
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


class AtomicFile:
    """A file written in place of `path` only when `commit` is called: a temp file beside it, written at will
    (seek included), then fsynced and renamed over it; `discard`, or an error, removes it and `path` stays as it
    was. For a writer that streams more than it can hold and knows its first bytes last (the merged report's
    totals). Every refused write is the `SharderError` `atomic_write_chunks` raises."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        directory = self.path.parent if str(self.path.parent) else Path(".")
        with self._refusals():
            directory.mkdir(parents=True, exist_ok=True)
            fd, self._tmp_name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)
            os.fchmod(fd, _mode_for(self.path))
        self.handle = os.fdopen(fd, "w+b")
        self._closer = weakref.finalize(self, _remove, self.handle, self._tmp_name)

    @contextlib.contextmanager
    def _refusals(self) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            self.discard()
            reason = exc.strerror or str(exc)
            raise SharderError(f"cannot write {os.fspath(self.path)!r}: {reason}{_HINTS.get(exc.errno or 0, '')}; "
                               "the old file, if any, is unchanged") from None

    def write(self, data: bytes) -> None:
        with self._refusals():
            self.handle.write(data)

    def write_at(self, offset: int, data: bytes) -> None:
        with self._refusals():
            self.handle.flush()
            os.pwrite(self.handle.fileno(), data, offset)

    def commit(self) -> None:
        with self._refusals():
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
            os.replace(self._tmp_name, self.path)
        self._closer.detach()

    def discard(self) -> None:
        if hasattr(self, "_closer"):
            self._closer()


def _remove(handle: BinaryIO, name: str) -> None:
    with contextlib.suppress(OSError):  # the flush of what is left fails on a full disk; the file goes anyway
        handle.close()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name)


def _mode_for(target: Path) -> int:
    """The existing file's permission bits, else what open() would create under the current umask."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        umask = os.umask(0o022)  # reading the umask means setting it; put it back at once
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))
