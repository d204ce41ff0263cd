"""The time a job pays outside pytest's session, on real sessions: measured by `sharder record` and `sharder run`,
kept in the store, counted in the plan's walls, shown by the merge and learned by rebalance.

The generated suite's conftest makes the interpreter's exit slow (an `atexit` handler that sleeps, as the teardown
of a large heap does): pytest's own timeline ends before it, so only the parent can see it. Every check is a
ratio or a lower bound, never an absolute time.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest

from sharder.core.progress_log import read_progress_log
from sharder.durations.store import load_durations, render_durations
from sharder.planning.plan import read_plan
from sharder.running.outside_cost import PytestClock
from tests.example_runs import sharder

EXIT_SLEEP = 0.6
ADDOPTS = "-p no:hypothesispytest -p no:randomly -p no:cacheprovider -p no:asyncio"


def _suite(root: Path) -> Path:
    (root / "tests").mkdir(parents=True)
    (root / "pytest.ini").write_text(f"[pytest]\naddopts = {ADDOPTS}\n")
    (root / "tests" / "conftest.py").write_text(
        f"import atexit\nimport time\n\natexit.register(time.sleep, {EXIT_SLEEP})\n")
    for index in range(4):
        tests = "".join(f"\n\ndef test_{case}():\n    time.sleep(0.02)\n" for case in range(3))
        (root / "tests" / f"test_part_{index}.py").write_text(f"import time\n{tests}")
    return root


def _sharder(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    """The command and its whole process's wall, measured from here."""
    started = time.perf_counter()
    done = sharder(args, cwd)
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stdout + done.stderr
    return done, seconds


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = _suite(tmp_path_factory.mktemp("outside") / "suite")
    _sharder(["record"], root)
    return root


def test_record_measures_the_slow_exit_pytest_cannot_see(recorded: Path) -> None:
    costs = load_durations(recorded / "durations.json").costs
    assert costs is not None and costs.outside_seconds is not None
    assert costs.outside_seconds >= EXIT_SLEEP
    # pytest's own teardown (its last hook) ends before the exit: without the parent's measure the plan misses it
    assert costs.teardown_seconds < EXIT_SLEEP
    assert costs.fixed_seconds >= costs.outside_seconds + costs.startup_seconds


def test_a_shard_logs_its_outside_time_the_plan_counts_it_and_the_merge_and_rebalance_use_it(
    recorded: Path,
) -> None:
    _sharder(["plan", "--shards", "2", "-o", "plan.json"], recorded)
    plan = read_plan(recorded / "plan.json")
    costs = load_durations(recorded / "durations.json").costs
    assert costs is not None and costs.outside_seconds is not None
    assert plan.fixed_seconds == pytest.approx(costs.fixed_seconds)
    walls = []
    for shard in (1, 2):
        _, seconds = _sharder(["run", "--shard", f"{shard}/2", "--plan", "plan.json", "--junit-dir", "reports"],
                              recorded)
        walls.append(seconds)
    timelines = []
    for shard in (1, 2):
        log = read_progress_log(recorded / "reports" / f"shard-{shard}-of-2.progress.jsonl")
        assert log.timeline is not None and log.timeline.outside_seconds is not None
        assert log.timeline.outside_seconds >= EXIT_SLEEP
        timelines.append(log.timeline)
    for timeline, seconds in zip(timelines, walls, strict=True):
        # the session's own wall misses the exit; with it, the job's wall is what a CI job waits for
        assert seconds - timeline.wall_seconds >= EXIT_SLEEP
        assert 0.85 <= timeline.job_seconds / seconds <= 1.0
    merged = json.loads(_sharder(["merge", "--plan", "plan.json", "--json", "reports"], recorded)[0].stdout)
    assert [shard["wall"]["outside_seconds"] for shard in merged["shards"]] == [
        pytest.approx(t.outside_seconds, abs=1e-5) for t in timelines]
    # rebalance blends the shards' measures into the store: from a store that had none it takes them
    store = recorded / "durations.json"
    durations = load_durations(store)
    assert durations.costs is not None
    store.write_text(render_durations(replace(durations, costs=replace(durations.costs, outside_seconds=None))))
    _sharder(["rebalance", "--plan", "plan.json", "reports"], recorded)
    learned = load_durations(store).costs
    assert learned is not None and learned.outside_seconds is not None and learned.outside_seconds >= EXIT_SLEEP


def test_a_costs_line_from_before_this_pytest_started_measures_nothing(tmp_path: Path) -> None:
    """A log whose last line another run wrote (its `at` earlier than this pytest's start) is not this run's."""
    log = tmp_path / "shard-1-of-1.progress.jsonl"
    log.write_text(json.dumps({"event": "costs", "timeline": {}, "at": time.time() - 3600}) + "\n")
    clock = PytestClock(before_seconds=0.2)
    clock.stop()
    assert clock.outside_seconds(log) is None
    log.write_text(json.dumps({"event": "costs", "timeline": {}, "at": time.time()}) + "\n")
    clock.stop()
    assert clock.outside_seconds(log) == pytest.approx(0.2, abs=0.5)
