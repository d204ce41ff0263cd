"""Checking and summarising a local run of every shard: did the shards together run exactly the plan?"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from sharder.errors import SharderError
from sharder.junit import read_report
from sharder.plan import Plan
from sharder.runner import PYTEST_OK, PYTEST_TESTS_FAILED
from sharder.shardspec import ShardSpec
from sharder.table import format_table


def report_local_run(plan: Plan, junit_dir: Path, exit_codes: Mapping[int, int]) -> int:
    """Print one row per shard and the verdict; 0 only if every planned test reported and none failed."""
    rows = []
    reported: dict[str, int] = {}
    failed = 0
    for shard_bin in plan.bins:
        spec = ShardSpec(shard_bin.shard, plan.shards)
        path = junit_dir / f"{spec.report_stem}.xml"
        try:
            cases = read_report(path).cases if path.exists() else []
        except SharderError as exc:
            print(f"sharder: shard {spec}: unreadable report: {exc}")
            cases = []
        for case in cases:
            reported[case.node_id] = shard_bin.shard
        shard_failed = sum(case.outcome in ("failed", "error") for case in cases)
        failed += shard_failed
        actual = sum(case.seconds for case in cases)
        code = exit_codes.get(shard_bin.shard)
        status = "ok" if code == PYTEST_OK else ("failed" if code == PYTEST_TESTS_FAILED else f"exit {code}")
        rows.append((str(spec), len(shard_bin.tests), len(cases), shard_failed,
                     f"{shard_bin.predicted_seconds:.1f}", f"{actual:.1f}", status))
    print()
    print(format_table(("shard", "planned", "reported", "failed", "planned s", "actual s", "status"), rows))
    missing = [node_id for node_id in plan.all_tests() if node_id not in reported]
    for node_id in missing[:20]:
        print(f"NEVER REPORTED: {node_id}")
    if len(missing) > 20:
        print(f"... and {len(missing) - 20} more tests never reported")
    total = plan.total_tests
    print(f"\n{total - len(missing)} of {total} planned tests reported, {failed} failed, {len(missing)} missing")
    bad_exit = any(code not in (PYTEST_OK, PYTEST_TESTS_FAILED) for code in exit_codes.values())
    return 1 if (missing or failed or bad_exit) else 0
