"""Reading this process's resident memory: now, and the peak since the last reset.

On Linux the kernel keeps a resettable high-water mark: writing "5" to `/proc/self/clear_refs` sets `VmHWM`
back to the current resident size, and `/proc/self/status` reports it, so each test gets its own peak for the
price of two small file operations. Elsewhere (macOS, the BSDs, a Linux that refuses the write) the best figure
is `getrusage`'s `ru_maxrss`, which only ever grows: a test's "peak" is then the process's peak so far, and
`RssProbe.method` says so, so nobody mistakes it for a per-test figure.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

try:
    import resource
except ImportError:  # pragma: no cover - Windows
    resource = None  # type: ignore[assignment]

_STATUS = "/proc/self/status"
_CLEAR_REFS = "/proc/self/clear_refs"
_MB = 1024.0 * 1024.0


def _status_kib(field: str) -> float | None:
    """A `kB` field of /proc/self/status (VmRSS, VmHWM), in KiB; None where the file or field is missing."""
    try:
        with open(_STATUS, encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return float(line.split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return None


def _rusage_peak_mb() -> float | None:
    if resource is None:  # pragma: no cover - Windows
        return None
    peak = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    # Linux reports KiB, macOS bytes (getrusage(2) on each).
    return peak / _MB if sys.platform == "darwin" else peak / 1024.0


def _can_reset_peak() -> bool:
    if _status_kib("VmHWM") is None:
        return False
    try:
        with open(_CLEAR_REFS, "w", encoding="ascii") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


@dataclass
class RssProbe:
    """Current and peak resident set size in MB (2**20 bytes), by the best method this platform offers."""

    resettable: bool
    method: str

    @classmethod
    def detect(cls) -> RssProbe:
        if _can_reset_peak():
            return cls(True, "per-test peak from VmHWM, reset through /proc/self/clear_refs")
        if _rusage_peak_mb() is not None:
            return cls(False, "getrusage ru_maxrss: the peak cannot be reset here, so each test reports the "
                              "process's peak so far, not its own")
        return cls(False, "no memory information on this platform")  # pragma: no cover - Windows

    def reset_peak(self) -> None:
        """Start a new measurement window (a no-op where the peak cannot be reset)."""
        if not self.resettable:
            return
        try:
            with open(_CLEAR_REFS, "w", encoding="ascii") as clear_refs:
                clear_refs.write("5")
        except OSError:
            self.resettable = False

    def peak_mb(self) -> float | None:
        """The peak since `reset_peak` (or, where it cannot be reset, since the process started)."""
        if self.resettable:
            kib = _status_kib("VmHWM")
            if kib is not None:
                return kib / 1024.0
        return _rusage_peak_mb()

    def current_mb(self) -> float | None:
        kib = _status_kib("VmRSS")
        if kib is not None:
            return kib / 1024.0
        return _current_from_statm()


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
