"""The session timeline on real pytest sessions, and the wall model it feeds, end to end.

A generated suite whose test files sleep at import (the pattern of a suite that imports a heavy library in every
file): `sharder record` measures each file's import, the planner keeps the files whole in `auto`, and the walls it
predicts are the ones the shards then measure, within a tolerance ratio (never an absolute time).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sharder.core.progress_log import read_progress_log
from sharder.durations.store import load_durations
from sharder.planning.plan import read_plan

IMPORT_SLEEP = 0.25
FILES = 6
TESTS_PER_FILE = 3
# hypothesis' plugin imports hypothesis at the terminal summary, a second of noise per session on a loaded
# machine; the generated suite does not use it (nor asyncio, randomly or the cache).
ADDOPTS = "-p no:hypothesispytest -p no:randomly -p no:cacheprovider -p no:asyncio"


def _suite(root: Path) -> Path:
    (root / "tests").mkdir(parents=True)
    (root / "pytest.ini").write_text(f"[pytest]\naddopts = {ADDOPTS}\n")
    for index in range(FILES):
        tests = "".join(f"\n\ndef test_{case}():\n    time.sleep(0.01)\n" for case in range(TESTS_PER_FILE))
        (root / "tests" / f"test_heavy_{index}.py").write_text(f"import time\n\ntime.sleep({IMPORT_SLEEP})\n{tests}")
    return root


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def recorded_suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Recorded once for the module: each session of it costs a few seconds on a loaded machine."""
    root = _suite(tmp_path_factory.mktemp("timing") / "suite")
    _run(["-m", "sharder", "record"], root, _environment())
    return root


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT"):
        env.pop(name, None)
    return env


def test_record_measures_each_files_import_and_the_fixed_cost(recorded_suite: Path) -> None:
    costs = load_durations(recorded_suite / "durations.json").costs
    assert costs is not None and costs.runs == 1
    assert sorted(costs.files) == [f"tests/test_heavy_{index}.py" for index in range(FILES)]
    imports = sorted(costs.files.values())
    # each file slept the same at import: their measured costs agree with each other, and none is free
    assert imports[0] > 0 and imports[-1] / imports[0] < 1.5
    assert costs.fixed_seconds > 0 and costs.startup_seconds > 0


def test_auto_keeps_import_heavy_files_whole_and_predicts_the_walls_it_measures(recorded_suite: Path) -> None:
    sharder_env = _environment()
    for group_by, output in (("test", "by-test.json"), ("auto", "auto.json")):
        _run(["-m", "sharder", "plan", "--from-durations", "--shards", "2", "--group-by", group_by, "-o", output],
             recorded_suite, sharder_env)
    by_test, auto = read_plan(recorded_suite / "by-test.json"), read_plan(recorded_suite / "auto.json")
    assert auto.predicts_wall and by_test.predicts_wall
    # a test-level plan spreads files over both shards and pays their imports twice; auto keeps them whole
    files_of = [{node_id.partition("::")[0] for node_id in shard_bin.tests} for shard_bin in auto.bins]
    assert files_of[0].isdisjoint(files_of[1]) and len(files_of[0] | files_of[1]) == FILES
    assert (auto.wall_makespan or 0) < (by_test.wall_makespan or 0)
    for shard in (1, 2):
        report = recorded_suite / f"shard-{shard}.xml"
        _run(["-m", "pytest", "--shard", f"{shard}/2", "--sharder-plan", "auto.json", f"--junitxml={report}"],
             recorded_suite, sharder_env)
        log = read_progress_log(report.with_name(f"shard-{shard}.progress.jsonl"))
        assert log.timeline is not None
        assert set(log.timeline.files) == files_of[shard - 1]  # the footprint: only its own files imported
        timeline = log.timeline
        predicted = auto.bins[shard - 1].predicted_wall_seconds or 0.0
        # What the plan decides (the files' imports and the tests, which sleep) is predicted within the tolerance;
        # the whole wall adds the process start, CPU-bound, which a loaded machine stretches two-fold between two
        # runs: that ratio only has to show that nothing of the wall is missing (bench/wall.py measures it).
        planned_part = predicted - (auto.fixed_seconds or 0.0)
        measured_part = sum(timeline.files.values()) + timeline.tests_span_seconds
        assert 0.7 <= planned_part / measured_part <= 1.4, (planned_part, timeline)
        assert 0.4 <= predicted / timeline.wall_seconds <= 2.5, (predicted, timeline)
    # after the run: the merge shows each shard's wall beside its plan's, and rebalance learns the costs
    merged = _run(["-m", "sharder", "merge", str(recorded_suite), "--plan", "auto.json", "--json",
                   "-o", "merged.xml"], recorded_suite, sharder_env)
    shards = json.loads(merged.stdout)["shards"]
    assert [shard["wall"]["files"].keys() == files_of[index] for index, shard in enumerate(shards)] == [True, True]
    assert all(shard["predicted_wall_seconds"] > 0 for shard in shards)
    terminal = _run(["-m", "sharder", "merge", str(recorded_suite), "--plan", "auto.json", "-o", "merged.xml"],
                    recorded_suite, sharder_env).stdout
    assert "wall per shard" in terminal and "planned wall s" in terminal
    before = load_durations(recorded_suite / "durations.json").costs
    _run(["-m", "sharder", "rebalance", str(recorded_suite), "--plan", "auto.json"], recorded_suite, sharder_env)
    after = load_durations(recorded_suite / "durations.json").costs
    assert before is not None and after is not None and after.runs == before.runs + 2


def test_the_progress_log_costs_event_survives_a_reader_and_a_forged_one_does_not(tmp_path: Path) -> None:
    log = tmp_path / "shard.progress.jsonl"
    header = {"event": "session", "format": 1, "order": []}
    forged = {"event": "costs", "timeline": {"startup_seconds": -1, "collection_seconds": 0}}
    log.write_text(json.dumps(header) + "\n" + json.dumps(forged) + "\n")
    read = read_progress_log(log)
    assert read.timeline is None and read.bad_lines == 1
