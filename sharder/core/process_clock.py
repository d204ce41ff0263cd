"""When this process started, by the kernel's clock: what a shard's wall is counted from.

Shared by the pytest side (a session's startup is its process start to its collection) and by `sharder run` and
`sharder record` (their own start before pytest's is part of what a CI job pays: `sharder.running.outside_cost`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def process_start_time() -> float | None:
    """This process's start in epoch seconds, from /proc on Linux, to the kernel's clock tick (10 ms); None
    where /proc does not tell (other systems, a sandbox without it)."""
    try:
        stat = Path("/proc/self/stat").read_text()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        # The command name (field 2) may hold spaces and parentheses: the fields that follow it start after the
        # last ')'. starttime is field 22, in clock ticks since boot.
        ticks = int(stat.rsplit(")", 1)[1].split()[19])
        age = uptime - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
    return time.time() - age
