"""Tests the store knows only as skipped: what each costs a shard is its skip, not a sibling's estimate.

A skip is no observation of what a test costs when it runs (`sharder.durations.trust`), so it never becomes a record
in `tests`. But a test that is skipped on every run (an optional dependency not installed, another platform's test)
costs a shard only the skip's few milliseconds, while the planner, knowing no time for it, would estimate it from its
module's siblings (`sharder.planning.estimate`): a module of 200 skipped tests beside a 5 s test read as 1,000 s of
work, and the plan shows them all as "estimated". So the store remembers, for a test with no record whose last run
was a skip, the seconds that skip took, in one optional top-level field of version 1 (readers that do not know it
ignore it; pytest-split's flat `.test_durations` cannot hold it, and writing that format drops it):

```json
"skipped": {"tests/test_gpu.py::test_cuda": 0.0004}
```

Every reading of the store's seconds for planning (`Durations.seconds`, `planning_input`) includes them. The day
such a test passes, its time is a record of its own (not a blend with the skip's) and it leaves this field; a test
with a record that is skipped keeps its record. Pruning drops them as it drops records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sharder.core.errors import SharderError

SKIPPED_FIELD = "skipped"
SKIPPED = "skipped"  # the outcome, as the JUnit reader and the plugin name it
# As `store.MAX_TEST_SECONDS` (not imported: the store imports this module): a longer skip is a hostile file.
MAX_SKIP_SECONDS = 1e7


def parse_skipped(document: Mapping[str, Any], source: str, timed: Iterable[str]) -> dict[str, float]:
    """The top-level `skipped` field, checked; absent is empty. An id there must have no record in `tests`."""
    raw = document.get(SKIPPED_FIELD)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SharderError(f"{source}: {SKIPPED_FIELD} must be an object mapping test ids to seconds, got {raw!r:.80}")
    recorded = set(timed)
    skipped: dict[str, float] = {}
    for node_id, seconds in raw.items():
        if not node_id:
            raise SharderError(f"{source}: {SKIPPED_FIELD} holds an empty test id")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 <= seconds <= MAX_SKIP_SECONDS:
            raise SharderError(f"{source}: {SKIPPED_FIELD} of {node_id!r} is {seconds!r:.80}; expected seconds "
                               f"between 0 and {MAX_SKIP_SECONDS:,.0f}")
        if node_id in recorded:
            raise SharderError(f"{source}: {SKIPPED_FIELD} holds {node_id!r}, which has a record in tests: a test "
                               "with a record is planned at its recorded time")
        skipped[node_id] = float(seconds)
    return skipped


def skipped_json(skipped: Mapping[str, float], timed: Mapping[str, object]) -> dict[str, Any]:
    """The top-level field (sorted ids, so the file diffs cleanly) for the skipped tests with no record, or nothing."""
    kept = sorted(node_id for node_id in skipped if node_id not in timed)
    if not kept:
        return {}
    return {SKIPPED_FIELD: {node_id: round(skipped[node_id], 6) for node_id in kept}}


def with_skips(known: Mapping[str, float], seen: Mapping[str, float], timed: Mapping[str, object],
               keep_only: set[str] | None = None) -> dict[str, float]:
    """The skipped tests after an update: `seen` (this run's last-run-was-a-skip tests and their seconds) over
    `known`, without the tests that have a record now (`timed`), and with `keep_only` without the pruned."""
    merged = {**known, **seen}
    return {node_id: seconds for node_id, seconds in merged.items()
            if node_id not in timed and (keep_only is None or node_id in keep_only)}


def planned_seconds(timed: dict[str, float], skipped: Mapping[str, float]) -> dict[str, float]:
    """The seconds to plan with: `timed` (every record's, a dict the caller just built, which this extends in
    place rather than copying 200,000 entries) with every skip-only test's skip after them."""
    for node_id, value in skipped.items():
        timed.setdefault(node_id, value)
    return timed


def last_skips(runs: Iterable[tuple[str, str, float, bool]]) -> dict[str, float]:
    """The tests whose last run was a skip with a usable time, and its seconds, from (id, outcome, seconds, usable)
    in the order they ran (the outcome in the JUnit reader's words: "skipped"; an xfail is no skip)."""
    last: dict[str, float | None] = {}
    for node_id, outcome, seconds, usable in runs:
        last[node_id] = seconds if outcome == SKIPPED and usable else None
    return {node_id: seconds for node_id, seconds in last.items() if seconds is not None}
