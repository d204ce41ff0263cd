"""Memory figures sharder plans with: the tests' recorded peaks, and memory sizes as users write them.

Peaks are what conftest_lib measured per test (`peak_rss_mb` in durations.json): the whole process's resident
memory at the test's high-water mark, so a peak is what one pytest worker needs while running that test.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sharder.core.errors import SharderError
from sharder.durations.store import Durations
from sharder.planning.plan import Plan

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
_FACTOR_TO_MB = {"k": 1 / 1024, "": 1.0, "m": 1.0, "g": 1024.0, "t": 1024.0 * 1024.0}


@dataclass(frozen=True)
class HeavyTest:
    node_id: str
    peak_rss_mb: float


def parse_memory_size(text: str) -> float:
    """`2G`, `1.5GiB`, `512M`, `512` (MB) -> MB. Used for `--memory-budget`."""
    match = _SIZE.match(str(text))
    if match is None:
        raise SharderError(f"memory size {text!r} is not understood; write e.g. 512M, 2G or 1536 (MB)")
    value = float(match.group(1)) * _FACTOR_TO_MB[match.group(2).lower()]
    if not math.isfinite(value) or value <= 0:
        raise SharderError(f"memory size {text!r} must be more than 0")
    return value


def peaks_of(durations: Durations) -> dict[str, float]:
    return {node_id: t.peak_rss_mb for node_id, t in durations.tests.items() if t.peak_rss_mb is not None}


def heaviest(peaks: Mapping[str, float], node_ids: Iterable[str]) -> HeavyTest | None:
    """The test with the largest recorded peak among `node_ids` (ties: the smallest id, for stable output)."""
    best: HeavyTest | None = None
    for node_id in node_ids:
        peak = peaks.get(node_id)
        if peak is None:
            continue
        if best is None or (peak, best.node_id) > (best.peak_rss_mb, node_id):
            best = HeavyTest(node_id, peak)
    return best


def heaviest_by_shard(plan: Plan, peaks: Mapping[str, float]) -> dict[int, HeavyTest]:
    """Shard number -> its heaviest test by recorded peak; shards with no recorded peak are left out."""
    found: dict[int, HeavyTest] = {}
    if not peaks:  # nothing recorded: spare `sharder plan` a pass over every planned id
        return found
    for shard_bin in filter(lambda b: b.tests, plan.bins):  # a plan's empty shards may be most of them
        heavy = heaviest(peaks, shard_bin.tests)
        if heavy is not None:
            found[shard_bin.shard] = heavy
    return found
