"""Reading a user-supplied input file: a regular file of bounded size, or one clear error.

Every file a user names (durations, plans, JUnit reports, progress logs, id lists) is read through here, because
the obvious `Path.read_bytes()` trusts the path: a durations file that is a symlink to `/dev/zero` was read until
memory ran out, and a FIFO blocks `open()` until a writer comes (in CI: until the job's timeout). So:

- `os.stat` first, following symlinks as `open` would, and refuse anything but a regular file before opening it
  (opening some devices does something);
- open with `O_NONBLOCK` (a FIFO swapped in after the stat fails the next check instead of blocking) and `fstat`
  the descriptor: the file actually read, whatever was renamed meanwhile;
- read at most the limit plus one byte: a file that grows while read, or a sparse file, cannot go past it either.

The limit is `DEFAULT_LIMIT_MB` (a 200,000-test durations file is 28 MB, a 100,000-case JUnit report ~15 MB), or
`$SHARDER_MAX_INPUT_MB` for a suite that really has bigger files.
"""

from __future__ import annotations

import os
import stat
from types import TracebackType

from sharder.core.errors import SharderError

DEFAULT_LIMIT_MB = 512
LIMIT_ENV = "SHARDER_MAX_INPUT_MB"
_MB = 1024 * 1024
# What one read asks for once the file has outgrown the size it had when opened.
_CHUNK = 4 * _MB


def input_limit_bytes() -> int:
    """The largest input file sharder reads, in bytes: `$SHARDER_MAX_INPUT_MB` or DEFAULT_LIMIT_MB."""
    text = os.environ.get(LIMIT_ENV, "").strip()
    if not text:
        return DEFAULT_LIMIT_MB * _MB
    try:
        megabytes = float(text)
    except ValueError:
        megabytes = -1.0
    if not 0 < megabytes < 1e9:
        raise SharderError(f"{LIMIT_ENV}={text!r}: expected a number of megabytes > 0")
    return int(megabytes * _MB)


def _what(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _described(name: str) -> str:
    """`'d.json'`, or `'d.json' (a symlink to '/dev/zero')` when the name is a link: the target is the news."""
    if os.path.islink(name):
        return f"{name!r} (a symlink to {os.path.realpath(name)!r})"
    return repr(name)


def _refuse(kind: str, name: str, mode: int) -> SharderError:
    what = _what(mode)
    tail = "" if stat.S_ISDIR(mode) else ", not a regular file"
    return SharderError(f"{kind} file {_described(name)} is {what}{tail}; refused")


def _size(count: int) -> str:
    if count >= _MB:
        return f"{count / _MB:.0f} MB"
    return f"{count / 1024:.0f} KB" if count >= 1024 else f"{count} bytes"


def _too_big(kind: str, name: str, size: int | None, limit: int) -> SharderError:
    size_text = f"is {_size(size)}" if size is not None else "grew past the limit while it was read"
    return SharderError(f"{kind} file {name!r} {size_text}, over the {_size(limit)} limit for an input file "
                        f"(set {LIMIT_ENV} to raise it)")


def _open_checked(path: str | os.PathLike[str], kind: str) -> tuple[int, int, int]:
    """(descriptor, size, limit) of a regular file, or a one-line `SharderError` naming it as a `kind` file."""
    name = os.fspath(path)
    limit = input_limit_bytes()
    try:
        before = os.stat(name)
        if not stat.S_ISREG(before.st_mode):
            raise _refuse(kind, name, before.st_mode)
        if before.st_size > limit:
            raise _too_big(kind, name, before.st_size, limit)
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        if os.path.islink(name):
            raise SharderError(f"{kind} file {_described(name)} does not exist") from None
        raise SharderError(f"{kind} file {name!r} does not exist") from None
    except OSError as exc:
        raise SharderError(f"cannot read {kind} file {name!r}: {exc.strerror}") from None
    opened = os.fstat(fd)
    if not stat.S_ISREG(opened.st_mode):  # replaced between the stat and the open
        os.close(fd)
        raise _refuse(kind, name, opened.st_mode)
    return fd, opened.st_size, limit


def read_input(path: str | os.PathLike[str], kind: str) -> bytes:
    """The bytes of `path`; a missing, unreadable, non-regular or oversized file is a `SharderError`."""
    name = os.fspath(path)
    fd, size, limit = _open_checked(path, kind)
    parts: list[bytes] = []
    total = 0
    want = min(size, limit) + 1  # one read(2) for a file that does not change; the +1 sees it grow
    try:
        with os.fdopen(fd, "rb", buffering=0) as handle:
            while True:
                chunk = handle.read(want)
                if not chunk:
                    break
                parts.append(chunk)
                total += len(chunk)
                if total > limit:
                    raise _too_big(kind, name, None, limit)
                want = min(_CHUNK, limit + 1 - total)
    except OSError as exc:
        raise SharderError(f"cannot read {kind} file {name!r}: {exc.strerror}") from None
    return parts[0] if len(parts) == 1 else b"".join(parts)


class BoundedInput:
    """A checked input file opened for streaming (an XML parser's `read(n)`), that stops at the limit."""

    def __init__(self, path: str | os.PathLike[str], kind: str) -> None:
        self.name = os.fspath(path)
        self.kind = kind
        fd, _, self.limit = _open_checked(path, kind)
        self._handle = os.fdopen(fd, "rb")
        self._total = 0

    def read(self, size: int = -1) -> bytes:
        want = self.limit + 1 - self._total if size < 0 else min(size, self.limit + 1 - self._total)
        try:
            data = self._handle.read(max(want, 1))
        except OSError as exc:
            raise SharderError(f"cannot read {self.kind} file {self.name!r}: {exc.strerror}") from None
        self._total += len(data)
        if self._total > self.limit:
            raise _too_big(self.kind, self.name, None, self.limit)
        return data

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> BoundedInput:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

