"""`sharder local`: every shard run here (J at a time), then the same verdict `sharder merge` gives."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

RunSharder = Callable[..., subprocess.CompletedProcess[str]]


def test_local_runs_shards_in_parallel_and_exits_with_the_merge_verdict(
    example_dir: Path, run_sharder: RunSharder
) -> None:
    (example_dir / "tests" / "test_broken.py").write_text("def test_broken():\n    assert 'shard' == 'shards'\n")
    stale = example_dir / "reports" / "shard-2-of-3.xml"
    stale.parent.mkdir()
    stale.write_text("<testsuites><testsuite", encoding="utf-8")  # an earlier run's leftover must not count
    result = run_sharder(["local", "--shards", "3", "--jobs", "2", "--", "-p", "no:randomly"], cwd=example_dir)
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "36 of 36 planned tests reported, 1 failed, 0 missing" in out
    assert "FAILED tests/test_broken.py::test_broken" in out
    assert "running 3 shards, 2 at a time" in out
    for index in (1, 2, 3):
        assert f"shard {index}/3: pytest exit" in out
        assert (example_dir / "reports" / f"shard-{index}-of-3.log").stat().st_size > 0
    assert (example_dir / "reports" / "merged.xml").is_file()
    assert "UNREADABLE" not in out


def test_local_queue_mode_starts_its_own_redis_and_runs_each_test_once(
    example_dir: Path, run_sharder: RunSharder, redis_server: object,  # redis_server: skip/fail as queue tests do
) -> None:
    from sharder.reports.junit import read_report

    result = run_sharder(["local", "--shards", "3", "--jobs", "3", "--queue"], cwd=example_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "queue mode: a private redis-server at unix://" in result.stdout
    assert "35 of 35 planned tests reported, 0 failed, 0 missing" in result.stdout
    cases = [case.node_id for k in (1, 2, 3)
             for case in read_report(example_dir / "reports" / f"shard-{k}-of-3.xml").cases]
    assert len(cases) == len(set(cases)) == 35  # each test in exactly one job's report
    socket = result.stdout.split("private redis-server at unix://", 1)[1].split(",", 1)[0]
    assert not Path(socket).parent.exists()  # the run's redis-server stopped and its folder is gone


def test_local_plans_exactly_as_plan_does_with_its_grouping(example_dir: Path, run_sharder: RunSharder) -> None:
    """The same tests once read 0.00% imbalance in `local` and 0.21% in `plan`: local ignored setup times."""
    import json

    planned = run_sharder(["plan", "--shards", "2", "--group-by", "module", "-o", "planned.json", "--",
                           "-p", "no:randomly"], cwd=example_dir)
    assert planned.returncode == 0, planned.stderr
    result = run_sharder(["local", "--shards", "2", "--group-by", "module", "--", "-p", "no:randomly"],
                         cwd=example_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    ours = json.loads((example_dir / "reports" / "plan.json").read_text())
    theirs = json.loads((example_dir / "planned.json").read_text())
    assert ours["group_by"] == "module"
    assert (ours["plan_id"], ours["makespan_seconds"]) == (theirs["plan_id"], theirs["makespan_seconds"])
