"""Reading this process's resident memory: now, and the peak since the last reset.

On Linux the kernel keeps a resettable high-water mark: writing "5" to `/proc/self/clear_refs` sets `VmHWM`
back to the current resident size, and `/proc/self/status` reports it, so each test gets its own peak for the
price of two small file operations. Elsewhere (macOS, the BSDs, a Linux that refuses the write) the best figure
is `getrusage`'s `ru_maxrss`, which only ever grows: a test's "peak" is then the process's peak so far, and
`RssProbe.method` says so, so nobody mistakes it for a per-test figure.

Both files stay open for the session (`_ProcSelf`): procfs writes the status text afresh at every read from offset
0, and opening the two files and wrapping them in Python file objects for every test cost 31 µs a test against 12
µs for a write and a `pread` on descriptors kept open (each checked to still be its file), on a suite where that
is paid 5,000 times a shard. A `/proc/self` descriptor names the process that opened it, so a forked child
(pytest-forked, a test forking) opens its own.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, field
from typing import Any

try:
    import resource
except ImportError:  # pragma: no cover - Windows
    resource = None  # type: ignore[assignment]

_STATUS = "/proc/self/status"
_CLEAR_REFS = "/proc/self/clear_refs"
_MB = 1024.0 * 1024.0


def _status_kib(name: str) -> float | None:
    """A `kB` field of /proc/self/status (VmRSS, VmHWM), in KiB; None where the file or field is missing."""
    try:
        with open(_STATUS, "rb") as status:
            return _field_kib(b"\n" + status.read(), name)
    except OSError:
        return None


def _field_kib(status: bytes, name: str) -> float | None:
    """`VmHWM:\t  1234 kB` in the status text, as 1234.0; None where the field is absent or unreadable."""
    key = b"\n" + name.encode("ascii") + b":"
    start = status.find(key)
    if start < 0:
        return None
    end = status.find(b"\n", start + len(key))
    try:
        return float(status[start + len(key):end if end >= 0 else None].split()[0])
    except (IndexError, ValueError):
        return None


class _ProcSelf:
    """/proc/self/status and /proc/self/clear_refs, each opened once per process and reused.

    A descriptor is checked to be the file it was opened as (device and inode) before each use: a test that closes
    descriptors it does not own and opens a file of its own may get the same number, and a "5" written there would
    land in that test's file."""

    # The status text is about 1.5 KB; a field beyond this (none of ours is) is read with a fresh open instead.
    READ_SIZE = 16384

    def __init__(self) -> None:
        self._pid = -1
        self._opened: dict[str, tuple[int, tuple[int, int]]] = {}  # path: (descriptor, (st_dev, st_ino))

    def _descriptor(self, path: str, flags: int) -> int:
        """This process's open descriptor of `path` (-1 where it cannot be opened)."""
        pid = os.getpid()
        if pid != self._pid:
            # A forked child inherited the parent's descriptors, which still name the parent: it opens its own
            # (closing the inherited ones closes only this process's copies).
            self.close()
            self._pid = pid
        known = self._opened.get(path)
        if known is not None:
            descriptor, identity = known
            try:
                status = os.fstat(descriptor)
                if (status.st_dev, status.st_ino) == identity:
                    return descriptor
            except OSError:
                pass
            del self._opened[path]  # closed or taken over by someone else: not ours to close
        try:
            descriptor = os.open(path, flags | os.O_CLOEXEC)
        except OSError:
            return -1
        status = os.fstat(descriptor)
        self._opened[path] = (descriptor, (status.st_dev, status.st_ino))
        return descriptor

    def field_kib(self, name: str) -> float | None:
        descriptor = self._descriptor(_STATUS, os.O_RDONLY)
        if descriptor < 0:
            return _status_kib(name)
        try:
            found = _field_kib(b"\n" + os.pread(descriptor, self.READ_SIZE, 0), name)
        except OSError:
            return _status_kib(name)
        return found if found is not None else _status_kib(name)

    def reset_peak(self) -> bool:
        """Write "5" to clear_refs; False where the kernel refuses (a container without the right)."""
        descriptor = self._descriptor(_CLEAR_REFS, os.O_WRONLY)
        if descriptor < 0:
            return False
        try:
            os.write(descriptor, b"5")
        except OSError:
            return False
        return True

    def close(self) -> None:
        for descriptor, _ in self._opened.values():
            with contextlib.suppress(OSError):
                os.close(descriptor)
        self._opened = {}
        self._pid = -1


def _rusage_peak_mb() -> float | None:
    if resource is None:  # pragma: no cover - Windows
        return None
    peak = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    # Linux reports KiB, macOS bytes (getrusage(2) on each).
    return peak / _MB if sys.platform == "darwin" else peak / 1024.0


def _can_reset_peak(proc: _ProcSelf) -> bool:
    return proc.field_kib("VmHWM") is not None and proc.reset_peak()


@dataclass
class RssProbe:
    """Current and peak resident set size in MB (2**20 bytes), by the best method this platform offers."""

    resettable: bool
    method: str
    proc: _ProcSelf = field(default_factory=_ProcSelf, repr=False, compare=False)

    @classmethod
    def detect(cls) -> RssProbe:
        proc = _ProcSelf()
        if _can_reset_peak(proc):
            return cls(True, "per-test peak from VmHWM, reset through /proc/self/clear_refs", proc)
        proc.close()
        if _rusage_peak_mb() is not None:
            return cls(False, "getrusage ru_maxrss: the peak cannot be reset here, so each test reports the "
                              "process's peak so far, not its own")
        return cls(False, "no memory information on this platform")  # pragma: no cover - Windows

    def reset_peak(self) -> None:
        """Start a new measurement window (a no-op where the peak cannot be reset)."""
        if self.resettable and not self.proc.reset_peak():
            self.resettable = False

    def peak_mb(self) -> float | None:
        """The peak since `reset_peak` (or, where it cannot be reset, since the process started)."""
        if self.resettable:
            kib = self.proc.field_kib("VmHWM")
            if kib is not None:
                return kib / 1024.0
        return _rusage_peak_mb()

    def current_mb(self) -> float | None:
        kib = self.proc.field_kib("VmRSS")
        if kib is not None:
            return kib / 1024.0
        return _current_from_statm()

    def close(self) -> None:
        """Let go of the /proc descriptors (at the session's end; a later read opens them again)."""
        self.proc.close()


def _current_from_statm() -> float | None:
    """No /proc/self/status (a BSD with linprocfs off, macOS): there is no cheap current RSS without psutil."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / _MB


def release_free_heap() -> bool:
    """Hand freed heap pages back to the OS (glibc's `malloc_trim(0)`); False where there is no such call.

    glibc keeps freed memory mapped, so after a test that built and dropped 100 MB of objects the resident size
    stays up although nothing holds the data: without this the growth warning would blame such a test for a leak
    it does not have. Called only when growth is over the threshold, so its cost (milliseconds) is rare.
    """
    global _malloc_trim
    if _malloc_trim is None:
        _malloc_trim = _find_malloc_trim()
    if _malloc_trim is False:
        return False
    _malloc_trim(0)
    return True


def _find_malloc_trim() -> Any:
    if not sys.platform.startswith("linux"):
        return False
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim  # absent on musl: AttributeError
    except (OSError, AttributeError):
        return False


_malloc_trim: Any = None  # None: not looked up yet; False: not available
