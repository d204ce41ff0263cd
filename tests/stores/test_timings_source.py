"""Where a plan's timings come from, and what `rebalance --store` leaves for the next run's cache."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from sharder.stores.timings_source import (
    HOW_TO_RECORD,
    PROVENANCE_FILE,
    SAME_ESTIMATE,
    Provenance,
    choose_timings,
    describe_record,
    read_provenance,
    timings_record,
    untimed_note,
    write_provenance,
)

RunSharder = Callable[..., subprocess.CompletedProcess[str]]
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def test_the_cache_wins_then_the_committed_file_then_nothing(tmp_path: Path) -> None:
    cache, committed = tmp_path / ".sharder", tmp_path / "durations.json"
    assert choose_timings(cache, committed, given=False).kind == "none"
    assert "no recorded timings" in choose_timings(cache, committed, given=False).describe()
    committed.write_text("{}")
    assert choose_timings(cache, committed, given=False).kind == "committed"
    cache.mkdir()
    (cache / "durations.json").write_text("{}")
    write_provenance(cache, Provenance("gitlab", "41", None, "main", "abc", (NOW - timedelta(hours=3)).isoformat()))
    chosen = choose_timings(cache, committed, given=False)
    assert (chosen.kind, chosen.path) == ("cache", cache / "durations.json")
    assert chosen.describe(NOW).endswith("written by gitlab run 41 on main, 3 h ago")
    assert choose_timings(cache, committed, given=True).kind == "given"  # --durations PATH says exactly which


def test_no_timed_test_is_said_the_same_way_wherever_the_store_was(tmp_path: Path) -> None:
    """Nothing found, or a file that times none of the tests: both say what that does to the split and how to
    record (the words the plugin uses too)."""
    nothing = untimed_note(choose_timings(None, tmp_path / "durations.json", given=False), 35)
    assert nothing == f"no recorded timings (no CI cache, no committed durations file): {SAME_ESTIMATE}; {HOW_TO_RECORD}"
    (tmp_path / "durations.json").write_text("{}")
    stale = untimed_note(choose_timings(None, tmp_path / "durations.json", given=False), 35)
    assert stale.endswith(f"(no CI cache), but none of the 35 tests is in it: {SAME_ESTIMATE}; {HOW_TO_RECORD}")
    assert "(1 s)" in SAME_ESTIMATE  # the planner's estimate for a test when nothing at all is recorded


@pytest.mark.parametrize("text", ["", "{", "[]", '{"format": "other"}', '{"format": "sharder-provenance"}'])
def test_a_broken_provenance_record_is_no_provenance(tmp_path: Path, text: str) -> None:
    (tmp_path / PROVENANCE_FILE).write_text(text)
    assert read_provenance(tmp_path) is None


def test_the_plan_record_reads_back_as_one_line(tmp_path: Path) -> None:
    cache = tmp_path / ".sharder"
    cache.mkdir()
    (cache / "durations.json").write_text("{}")
    write_provenance(cache, Provenance("github", "7", "2", "main", None, (NOW - timedelta(days=3)).isoformat()))
    record = timings_record(choose_timings(cache, tmp_path / "durations.json", given=False), covered=30, planned=35)
    line = describe_record(json.loads(json.dumps(record)), NOW)
    assert "written by github run 7 (attempt 2) on main, 3 days ago; 30 of 35 planned tests" in line
    # plan.json is input: values of the wrong type are ignored, never printed as provenance
    assert describe_record({"source": "cache", "path": ".sharder/d.json", "provider": 3, "written_at": 5}, NOW) \
        == "timings from the CI cache .sharder/d.json"


@pytest.mark.integration
def test_rebalance_store_seeds_from_the_committed_file_and_records_its_run(
    example_dir: Path, run_sharder: RunSharder
) -> None:
    plan = run_sharder(["plan", "--shards", "2", "--store", ".sharder", "-o", "plan.json"], cwd=example_dir)
    assert plan.returncode == 0 and "timings from the committed durations.json (no CI cache)" in plan.stderr
    for k in (1, 2):
        done = run_sharder(["run", "--shard", f"{k}/2", "--plan", "plan.json", "--junit-dir", "out"], cwd=example_dir)
        assert done.returncode == 0, done.stdout + done.stderr
    committed_before = (example_dir / "durations.json").read_bytes()
    ci = {"GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "123", "GITHUB_RUN_ATTEMPT": "1", "GITHUB_REF_NAME": "main"}
    rebalance = run_sharder(["rebalance", "out", "--plan", "plan.json", "--store", ".sharder"], cwd=example_dir, **ci)
    assert rebalance.returncode == 0, rebalance.stdout + rebalance.stderr
    assert "starts from" in rebalance.stdout
    assert (example_dir / "durations.json").read_bytes() == committed_before  # the repository's file is untouched
    cached = json.loads((example_dir / ".sharder" / "durations.json").read_text())
    assert len(cached["tests"]) == 35
    origin = read_provenance(example_dir / ".sharder")
    assert origin is not None and (origin.provider, origin.run_id, origin.branch) == ("github", "123", "main")
    again = run_sharder(["plan", "--shards", "2", "--store", ".sharder", "-o", "plan2.json"], cwd=example_dir)
    assert "timings from the CI cache .sharder/durations.json, written by github run 123 on main" in again.stderr
