"""Atomic file writes: a reader (or a CI job killed mid-write) sees the old file or the new one, never half."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
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
    output = AtomicFile(path)
    for chunk in chunks:
        output.write(chunk)
    output.commit()


_WRITE_BUFFER_BYTES = 1 << 20

# errno -> what the user can do about it; EFBIG is `ulimit -f` (RLIMIT_FSIZE) in practice.
_HINTS = {
    errno.ENOSPC: " (the disk is full)",
    errno.EDQUOT: " (disk quota exceeded)",
    errno.EFBIG: " (over the file size limit, ulimit -f)",
}


class AtomicFile:
    """A file written in place of `path` only when `commit` is called: a temp file in its directory (`os.replace`
    is atomic only within one filesystem), written at will (seek included), then fsynced and renamed over it;
    `discard`, an error, or the end of the process removes it and `path` stays as it was.

    Where Linux offers it, the temp file has no name until `commit` links it (`O_TMPFILE`): a writer killed while it
    streams (SIGKILL, or SIGTERM, which runs no cleanup) leaves nothing behind, which matters once a write lasts as
    long as a merge of a million cases. A write the system refuses (a full disk, `ulimit -f`, a read-only or
    missing directory) is the user's environment, not a bug: a `SharderError` naming the file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._directory = self.path.parent if str(self.path.parent) else Path(".")
        self._names: list[str] = []  # the temp file's name, once it has one
        with self._refusals():
            self._directory.mkdir(parents=True, exist_ok=True)
            fd = _unnamed_file(self._directory)
            if fd is None:
                fd, name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self._directory)
                self._names.append(name)
            # mkstemp creates 0600; a report or durations file must get the mode a plain open() would give it.
            os.fchmod(fd, _mode_for(self.path))
        # A large buffer: a merge writes its report in pieces of a few KB, and each would be a syscall of its own.
        self.handle = os.fdopen(fd, "w+b", buffering=_WRITE_BUFFER_BYTES)
        self._closer = weakref.finalize(self, _remove, self.handle, self._names)

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
            if not self._names:
                self._names.append(self._link())
            self.handle.close()
            os.replace(self._names[0], self.path)
        self._closer.detach()

    def _link(self) -> str:
        """A name for the unnamed temp file, beside the target. Linked through /proc's directory of descriptors
        (`linkat` following the link): a plain link of `/proc/self/fd/N` is refused as a link across devices."""
        descriptors = os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY)
        try:
            while True:
                name = os.path.join(self._directory, f".{self.path.name}.{secrets.token_hex(6)}.tmp")
                try:
                    os.link(str(self.handle.fileno()), name, src_dir_fd=descriptors, follow_symlinks=True)
                except FileExistsError:
                    continue
                return name
        finally:
            os.close(descriptors)

    def discard(self) -> None:
        if hasattr(self, "_closer"):
            self._closer()


def _unnamed_file(directory: Path) -> int | None:
    """An unnamed file in `directory` (`O_TMPFILE`), or None where the system or filesystem has none (or no
    /proc to link it by)."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        return os.open(directory, flag | os.O_RDWR, 0o600)
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
            return None
        raise


def _remove(handle: BinaryIO, names: list[str]) -> None:
    with contextlib.suppress(OSError):  # the flush of what is left fails on a full disk; the file goes anyway
        handle.close()
    for name in names:
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
