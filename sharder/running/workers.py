"""How many pytest-xdist workers a shard may start: `--parallel N` or `--parallel auto`.

auto = min(CPUs, floor(memory x safety / largest recorded peak)). The peak is a whole worker process's resident
memory at its heaviest test, so the quotient is how many workers fit if each hits its worst test at once:
pessimistic on purpose, because the failure it prevents (the OOM killer taking a worker, or the whole job) costs a
CI run, while one worker too few costs minutes. Arithmetic, and the one reading of the machine it needs
(`available_memory_mb`); the caller prints.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from sharder.core.errors import SharderError

AUTO = "auto"
# Leave a fifth of available memory for the pytest controller, the OS page cache and tests heavier than recorded.
DEFAULT_SAFETY = 0.8
MEMINFO = "/proc/meminfo"


@dataclass(frozen=True)
class WorkerChoice:
    workers: int
    explanation: str


def available_memory_mb(meminfo: str | os.PathLike[str] = MEMINFO) -> float | None:
    """Linux's estimate of memory available to new work without swapping (`MemAvailable`), or None."""
    try:
        with open(meminfo, encoding="ascii", errors="replace") as lines:
            for line in lines:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) / 1024.0
    except (OSError, IndexError, ValueError):
        return None
    return None


def parse_parallel(text: str | int) -> int | str:
    """`auto` or a whole number >= 1 (1 means sequential)."""
    if isinstance(text, bool):
        raise SharderError(f"--parallel {text!r}: expected a whole number >= 1 or 'auto'")
    if isinstance(text, int):
        value = text
    else:
        cleaned = str(text).strip().lower()
        if cleaned == AUTO:
            return AUTO
        if not (cleaned.isascii() and cleaned.isdigit()):
            raise SharderError(f"--parallel {text!r}: expected a whole number >= 1 or 'auto'")
        value = int(cleaned)
    if value < 1:
        raise SharderError(f"--parallel {text!r}: expected a whole number >= 1 or 'auto'")
    return value


def check_safety(safety: float) -> float:
    if not (0 < safety <= 1):
        raise SharderError(f"memory safety factor {safety!r} must be in (0, 1]")
    return safety


def auto_workers(
    cpus: int,
    *,
    memory_mb: float | None,
    memory_source: str,
    largest_peak_mb: float | None,
    heaviest_test: str | None = None,
    safety: float = DEFAULT_SAFETY,
) -> WorkerChoice:
    """`memory_mb` is what may be used before the safety factor (MemAvailable, or a given budget with safety 1)."""
    cpus = max(1, cpus)
    if memory_mb is None:
        return WorkerChoice(cpus, f"no memory information ({memory_source}); using the CPU count: {cpus} workers")
    if largest_peak_mb is None or largest_peak_mb <= 0:
        return WorkerChoice(cpus, f"no recorded peak memory for this shard's tests (record with `sharder record`); "
                                  f"using the CPU count: {cpus} workers")
    usable = memory_mb * safety
    fit = math.floor(usable / largest_peak_mb)
    workers = max(1, min(cpus, fit))
    of = f" ({heaviest_test})" if heaviest_test else ""
    safety_text = f" x safety {safety:g} = {usable:.0f} MB" if safety != 1 else ""
    arithmetic = (f"{memory_source} {memory_mb:.0f} MB{safety_text} / largest recorded peak "
                  f"{largest_peak_mb:.1f} MB{of} = {usable / largest_peak_mb:.2f} -> {fit}; min with {cpus} CPUs")
    if fit < 1:
        return WorkerChoice(1, f"{arithmetic}: not even one worker fits; running 1 (expect memory trouble)")
    return WorkerChoice(workers, f"{arithmetic} -> {workers} worker{'s' if workers != 1 else ''}")
