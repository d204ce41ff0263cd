"""One writer at a time per durations file: an exclusive `fcntl.flock` on a sidecar, `durations.json.lock`.

Two `sharder rebalance` (or `record`) at once each read the store, blended in their own reports and wrote it back;
the second write replaced the first, and one update was lost with both exiting 0. Every read-modify-write now
holds this lock from before its read to after its write (`sharder.stores.update`).

Why `fcntl.flock` and not the `filelock` package: sharder already runs on POSIX only (`core.atomic` sets modes
with `os.fchmod`), `filelock`'s Unix lock is this same `flock` call, and the standard library needs no new
dependency in every CI job that installs sharder. The kernel drops a flock when its holder dies (SIGKILL, the OOM
killer, a cancelled job), so no lock ever outlives its process and none needs breaking by hand.

Why a sidecar: the store is replaced by `os.replace` on every write, so a lock on its own inode would protect a
file the next writer renames away. And the sidecar is removed on release, while still held, so no stray
`durations.json.lock` is left for a `git add -A` to commit: a process that was waiting on the removed file notices
after it gets the lock (the path no longer names the inode it locked) and tries again on the new one.

The wait is bounded (`SHARDER_LOCK_TIMEOUT` seconds, default 60): a writer stuck that long is an error to report
(exit 2), not a reason to hang a CI job until its own timeout.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from sharder.core.errors import SharderError

LOCK_SUFFIX = ".lock"
TIMEOUT_ENV = "SHARDER_LOCK_TIMEOUT"
DEFAULT_TIMEOUT_SECONDS = 60.0
# Between tries while another process holds the lock: short next to an update (tens of ms and more), so a waiter
# starts soon after the holder ends, and long enough that a few waiters cost no CPU to speak of.
POLL_SECONDS = 0.02


def lock_path(path: str | os.PathLike[str]) -> Path:
    target = Path(path)
    return target.with_name(target.name + LOCK_SUFFIX)


def lock_timeout() -> float:
    """Seconds to wait for the lock: `$SHARDER_LOCK_TIMEOUT`, else DEFAULT_TIMEOUT_SECONDS."""
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_TIMEOUT_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise SharderError(f"{TIMEOUT_ENV}={text!r} is not a number of seconds >= 0")
    return seconds


@contextlib.contextmanager
def store_lock(path: str | os.PathLike[str], timeout: float | None = None) -> Iterator[None]:
    """Hold the exclusive lock of the store at `path` for the body of the `with`."""
    sidecar = lock_path(path)
    wait = lock_timeout() if timeout is None else timeout
    fd = _acquire(sidecar, time.monotonic() + wait, wait)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(sidecar)  # while still held: see the module docstring
        os.close(fd)


def _acquire(sidecar: Path, deadline: float, wait: float) -> int:
    while True:
        try:
            sidecar.parent.mkdir(parents=True, exist_ok=True)  # as the atomic write of a first store would
            fd = os.open(sidecar, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise SharderError(f"cannot create the lock file {os.fspath(sidecar)!r}: {exc.strerror}") from None
        try:
            if _try_lock(fd, sidecar, deadline, wait):
                # Who holds it, for a waiter's message; a full disk may refuse the line, not the lock.
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
                    os.write(fd, f"{os.getpid()}\n".encode())
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # the file was removed or replaced while we waited: lock the one there now
        if time.monotonic() >= deadline:
            _give_up(sidecar, wait)


def _try_lock(fd: int, sidecar: Path, deadline: float, wait: float) -> bool:
    """Lock `fd`, waiting until `deadline`; False when the locked file is no longer the one at `sidecar`."""
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                _give_up(sidecar, wait, holder=_holder(fd))
            time.sleep(POLL_SECONDS)
    try:
        current = os.stat(sidecar)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (current.st_dev, current.st_ino) == (mine.st_dev, mine.st_ino)


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""
    return text if text.isdigit() else ""


def _give_up(sidecar: Path, wait: float, holder: str = "") -> None:
    store = sidecar.name[: -len(LOCK_SUFFIX)]
    by = f" (held by process {holder})" if holder else ""
    raise SharderError(
        f"{store} is being updated by another sharder: gave up waiting for its lock {os.fspath(sidecar)!r}{by} "
        f"after {wait:g} s; run again once it has finished (or raise {TIMEOUT_ENV})"
    )
