"""Choosing one shard's tests from a collected list: by plan file, by computed plan, or by an explicit id list.

Pure: works on node id strings, so the pytest plugin stays a thin layer and the rules are testable alone.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from sharder.core.errors import SharderError
from sharder.core.shardspec import ShardSpec
from sharder.planning.plan import Plan
from sharder.planning.planner import make_plan
from sharder.pytest_plugin.footprint import in_skipped_file, unplanned_files

# How many example ids an error message names before it says "and N more".
EXAMPLES_IN_MESSAGE = 3


@dataclass(frozen=True)
class Selection:
    """The ids one shard runs (in run order) and what the plan predicted for them."""

    spec: ShardSpec
    ids: tuple[str, ...]
    collected: int
    predicted_seconds: float
    lower_bound_seconds: float
    plan: Plan

    def header(self) -> str:
        return (
            f"sharder: shard {self.spec}, {len(self.ids)} of {self.collected} tests, "
            f"predicted {self.predicted_seconds:.1f} s (lower bound {self.lower_bound_seconds:.1f} s)"
        )


def _examples(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:EXAMPLES_IN_MESSAGE])
    more = len(ids) - EXAMPLES_IN_MESSAGE
    return shown + (f" and {more} more" if more > 0 else "")


def check_plan_matches(
    plan: Plan, collected: Sequence[str], source: str = "the plan", *, skipped_files: Collection[str] = (),
    deselected: Collection[str] = (),
) -> None:
    """The plan and this checkout must name the same tests: never run a different set silently.

    `skipped_files`: planned files the shard's footprint did not collect (`sharder.pytest_plugin.footprint`); their
    planned ids are not expected. Every other file is compared whole, and a collected file no planned id names is reported as
    new: the footprint still collects files the plan does not know, so a test file added after planning shows here.
    `deselected`: collected ids that -k, -m or --deselect took out; they exist, so they are not missing.
    """
    planned = plan.shard_of()
    collected_set = set(collected)
    missing = [node_id for node_id in planned
               if node_id not in collected_set and node_id not in deselected
               and not in_skipped_file(node_id, skipped_files)]
    extra = [node_id for node_id in collected if node_id not in planned]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"{len(missing)} planned tests were not collected ({_examples(missing)})")
        if extra:
            parts.append(f"{len(extra)} collected tests are not in the plan ({_examples(extra)})")
            new_files = unplanned_files(extra, planned)
            if new_files:
                parts.append(f"{len(new_files)} test files are new since the plan was made ({_examples(new_files)})")
        raise SharderError(
            f"{source} does not match this test suite: {'; '.join(parts)}; re-run `sharder plan` on this checkout"
        )


def select_from_plan(
    plan: Plan, spec: ShardSpec, collected: Sequence[str], source: str = "the plan", *,
    skipped_files: Collection[str] = (), deselected: Collection[str] = (),
) -> Selection:
    """The shard's planned tests among those collected, in collection order; a -k or -m given to the run (and not
    to `sharder plan`) narrows the shard to its bin's tests that the expression keeps."""
    check_plan_matches(plan, collected, source, skipped_files=skipped_files, deselected=deselected)
    shard_bin = plan.bin_for(spec)
    wanted = set(shard_bin.tests)
    ids = tuple(node_id for node_id in collected if node_id in wanted)
    lost = sorted(wanted.difference(ids).difference(deselected))
    if lost:  # the footprint skipped a file of this shard: never run a smaller set
        raise SharderError(f"{source}: {len(lost)} of shard {spec}'s tests were not collected ({_examples(lost)})")
    # With files skipped, the check above proved the suite is the plan's, so "N of M" counts the whole suite.
    suite_size = plan.total_tests if skipped_files else len(collected)
    return Selection(spec, ids, suite_size, shard_bin.predicted_seconds, plan.lower_bound_seconds, plan)


def select_computed(
    spec: ShardSpec,
    collected: Sequence[str],
    known_seconds: Mapping[str, float],
    *,
    group_by: str = "test",
    durations_sha256: str = "",
    setup_seconds: Mapping[str, float] | None = None,
) -> Selection:
    """Plan in-process: every shard job computes the same plan from the same durations and ids.

    Given the same inputs as `sharder plan` (setup times included: `auto` grouping prices splits by them), so the
    shard a job runs is the shard `sharder plan` showed.
    """
    plan = make_plan(collected, known_seconds, spec.total, group_by=group_by, durations_sha256=durations_sha256,
                     setup_seconds=setup_seconds)
    return select_from_plan(plan, spec, collected)


def order_by_id_list(wanted: Sequence[str], collected: Sequence[str], *, allow_missing: bool = False) -> list[str]:
    """The ids of `wanted` in `wanted`'s order (a replay), checking each was collected."""
    collected_set = set(collected)
    missing = [node_id for node_id in wanted if node_id not in collected_set]
    if missing and not allow_missing:
        raise SharderError(
            f"{len(missing)} requested tests were not collected ({_examples(missing)}); "
            "they may have been renamed or removed"
        )
    return [node_id for node_id in dict.fromkeys(wanted) if node_id in collected_set]
