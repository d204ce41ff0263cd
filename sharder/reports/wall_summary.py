"""Each shard's wall after the run: of which start and collection, tests, teardown, and what the job paid outside
pytest's session (`sharder run`'s start, the interpreter's exit: `sharder.running.outside_cost`); and the wall
its plan predicted.

The merge's "actual s" is the sum of the shard's test times; a CI job waits for its whole pytest process, which on an
import-heavy suite is twice that (issue 17). The numbers come from the shard's own progress log (its `costs`
event, `sharder.core.session_timeline`), so a shard whose log lacks it (an older sharder, xdist, a kill) shows
nothing here rather than a guess. Only numbers are printed: nothing of a test's text.
"""

from __future__ import annotations

from typing import Any

from sharder.core.table import format_table
from sharder.reports.verdict import MergeResult, ShardResult

WALL_HEADER = ("shard", "wall s", "start + collection s", "tests s", "teardown s", "outside pytest s", "planned wall s",
               "off by")


def _timed(result: MergeResult) -> list[ShardResult]:
    return [shard for shard in result.shards if shard.timeline is not None]


def wall_rows(result: MergeResult) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for shard in _timed(result):
        timeline = shard.timeline
        assert timeline is not None
        before = timeline.startup_seconds + timeline.collection_seconds + timeline.session_setup_seconds
        planned = shard.predicted_wall_seconds
        wall = timeline.job_seconds
        off = f"{100 * (wall / planned - 1):+.0f}%" if planned else "-"
        outside = "-" if timeline.outside_seconds is None else f"{timeline.outside_seconds:.1f}"
        rows.append((shard.label, f"{wall:.1f}", f"{before:.1f}", f"{timeline.tests_span_seconds:.1f}",
                     f"{timeline.teardown_seconds:.1f}", outside, f"{planned:.1f}" if planned is not None else "-", off))
    return rows


def terminal_lines(result: MergeResult) -> list[str]:
    """A table of the shards' walls, after a blank line; nothing when no shard's log measured its session."""
    rows = wall_rows(result)
    if not rows:
        return []
    slowest = max(_timed(result), key=lambda shard: shard.timeline.job_seconds if shard.timeline else 0.0)
    return ["", "wall per shard (from each shard's progress log):", format_table(WALL_HEADER, rows),
            f"slowest wall: shard {slowest.label}"]


def markdown_rows(result: MergeResult) -> list[str]:
    return ["| " + " | ".join(row) + " |" for row in wall_rows(result)]


def markdown_intro() -> list[str]:
    return ["| " + " | ".join(WALL_HEADER) + " |", "|" + "---|" * len(WALL_HEADER)]


def wall_json(shard: ShardResult) -> dict[str, Any]:
    """The shard's wall fields for `sharder merge --json` (null when unmeasured)."""
    timeline = shard.timeline
    return {"predicted_wall_seconds": shard.predicted_wall_seconds,
            "wall": None if timeline is None else timeline.to_json()}
