"""Every attempt's reports in one merge (CI's "Re-run failed jobs"): each shard is judged by its latest attempt, a
test that failed in an earlier attempt and passed in the latest is flaky, and the store learns each test once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import pytest

from sharder.cli import main
from sharder.core.junit_names import CI_ATTEMPT_PROPERTY
from tests.reports.test_merge_reruns import merge_json

SUITE = '''\
import os
import pathlib


def test_steady():
    pass


def test_fails_once():
    marker = pathlib.Path(os.environ["FLAKY_MARKER"])
    if not marker.exists():
        marker.write_text("failed once")
        raise AssertionError("fails on its first execution only")
'''
STEADY = "tests/test_a.py::test_steady"
FAILS_ONCE = "tests/test_a.py::test_fails_once"


@pytest.fixture(scope="module")
def two_attempts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shard 1/1 run by `sharder run` as GitHub's attempt 1 (test_fails_once fails) and attempt 2 (it passes),
    each into its own folder, as the report job downloads one artifact per attempt."""
    suite = tmp_path_factory.mktemp("attempts") / "suite"
    (suite / "tests").mkdir(parents=True)
    (suite / "tests" / "test_a.py").write_text(SUITE, encoding="utf-8")
    (suite / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("GITHUB_", "CI_"))}
    env.update(GITHUB_ACTIONS="true", GITHUB_RUN_ID="5", FLAKY_MARKER=str(suite.parent / "marker"))
    for attempt, expected in (("1", 1), ("2", 0)):
        ran = subprocess.run([sys.executable, "-m", "sharder", "run", "--shard", "1/1", "--junit-dir",
                              f"reports/sharder-reports-0-{attempt}", "--", "-p", "no:randomly"],
                             cwd=suite, env={**env, "GITHUB_RUN_ATTEMPT": attempt}, capture_output=True, text=True,
                             timeout=300, check=False)
        assert ran.returncode == expected, ran.stdout + ran.stderr
    return suite


def test_each_attempt_stamps_its_report_and_its_log(two_attempts: Path) -> None:
    for attempt in (1, 2):
        folder = two_attempts / "reports" / f"sharder-reports-0-{attempt}"
        suite = ElementTree.parse(folder / "shard-1-of-1.xml").getroot().iter("testsuite").__next__()
        properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
        assert properties[CI_ATTEMPT_PROPERTY] == str(attempt)
        header = json.loads((folder / "shard-1-of-1.progress.jsonl").read_text().splitlines()[0])
        assert header["ci_attempt"] == attempt and header["run_id"] == properties["sharder_run_id"]
        assert isinstance(header["started_at"], float)


def test_a_rerun_shard_is_judged_by_its_latest_attempt_and_the_test_is_flaky(
    two_attempts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = two_attempts / "reports"
    first, second = reports / "sharder-reports-0-1", reports / "sharder-reports-0-2"
    # attempt 1 alone is red; both attempts, in either order, are green with the test flaky
    code, alone = merge_json([str(first)], capsys)
    assert code == 1 and alone["failed"] == 1
    for order in ([first, second], [second, first]):
        code, verdict = merge_json([*map(str, order), "-o", str(tmp_path / "merged.xml")], capsys)
        assert code == 0, verdict["verdict"]
        assert (verdict["failed"], verdict["flaky"], verdict["reported"]) == (0, 1, 2)
        flaky = verdict["flaky_tests"][0]
        assert flaky["nodeid"] == FAILS_ONCE and flaky["attempts"] == 2
        assert flaky["history"] == [["failed", "shard-1-of-1.xml (attempt 1)"],
                                    ["passed", "shard-1-of-1.xml (attempt 2)"]]
        assert "fails on its first execution only" in flaky["message"]
        (shard,) = verdict["shards"]
        assert (shard["status"], shard["attempt"]) == ("ok", "attempt 2")
        assert shard["earlier_attempts"] == [{"attempt": "attempt 1", "status": "failed"}]
    # the merged XML keeps both attempts' cases, one suite each
    root = ElementTree.parse(tmp_path / "merged.xml").getroot()
    assert len(list(root.iter("testcase"))) == 4
    assert main(["merge", str(reports), "--markdown", str(tmp_path / "summary.md")]) == 0
    terminal = capsys.readouterr().out
    assert "FLAKY (1)" in terminal and "ok (attempt 2; earlier: attempt 1 failed)" in terminal
    markdown = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "### Flaky (1)" in markdown and "attempt 1" in markdown


def _tests_in_store(path: Path) -> dict[str, Any]:
    tests: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))["tests"]
    return tests


def test_the_store_learns_each_test_once_and_nothing_from_a_superseded_attempt(
    two_attempts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = two_attempts / "reports"
    first, second = str(reports / "sharder-reports-0-1"), str(reports / "sharder-reports-0-2")
    both = tmp_path / "both.json"
    assert main(["rebalance", first, second, "--durations", str(both)]) == 0
    assert {k: v["runs"] for k, v in _tests_in_store(both).items()} == {STEADY: 1, FAILS_ONCE: 1}
    # as in CI: attempt 1's report job rebalanced and saved the store; attempt 2's merges both attempts again
    store = tmp_path / "store.json"
    assert main(["rebalance", first, "--durations", str(store)]) == 0
    assert {k: v["runs"] for k, v in _tests_in_store(store).items()} == {STEADY: 1}  # the failure taught nothing
    assert main(["rebalance", first, second, "--durations", str(store)]) == 0
    assert {k: v["runs"] for k, v in _tests_in_store(store).items()} == {STEADY: 1, FAILS_ONCE: 1}
    capsys.readouterr()


# ------------------------------------------------------------------------------- written by hand, to the byte


def _report(folder: Path, run_id: str, attempt: int | None, cases: dict[str, bool]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    attempt_property = f'<property name="{CI_ATTEMPT_PROPERTY}" value="{attempt}"/>' if attempt else ""
    failure = '<failure message="boom"/>'
    body = "".join(
        f'<testcase classname="m" name="{node_id.rsplit("::", 1)[1]}" time="0.5"><properties>'
        f'<property name="sharder_nodeid" value="{node_id}"/></properties>'
        f'{"" if passed else failure}</testcase>' for node_id, passed in cases.items())
    failures = sum(not passed for passed in cases.values())
    (folder / "shard-1-of-1.xml").write_text(
        f'<testsuite name="pytest" tests="{len(cases)}" failures="{failures}"><properties>'
        f'<property name="sharder_shard" value="1/1"/><property name="sharder_run_id" value="{run_id}"/>'
        f'{attempt_property}</properties>{body}</testsuite>', encoding="utf-8")


def _log(folder: Path, run_id: str, attempt: int | None, started: float, order: list[str],
         results: dict[str, bool], *, finished: bool = True) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    events: list[dict[str, Any]] = [{"event": "session", "format": 1, "shard": "1/1", "order": order,
                                     "run_id": run_id, "ci_attempt": attempt, "started_at": started,
                                     "report": "shard-1-of-1.xml"}]
    for node_id in order:
        events.append({"event": "start", "nodeid": node_id})
        if node_id in results:
            events.append({"event": "test", "nodeid": node_id, "outcome": "passed" if results[node_id] else "failed",
                           "seconds": 0.5, "shard": "1/1"})
    if finished:
        events.append({"event": "finish", "exitstatus": int(not all(results.values()))})
    (folder / "shard-1-of-1.progress.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events),
                                                        encoding="utf-8")


def _attempt(folder: Path, run_id: str, attempt: int | None, started: float, results: dict[str, bool]) -> None:
    _report(folder, run_id, attempt, results)
    _log(folder, run_id, attempt, started, list(results), results)


def test_a_test_that_passed_earlier_and_fails_in_the_latest_attempt_is_failed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _attempt(tmp_path / "a1", "r1", 1, 100.0, {"m::t1": True, "m::t2": True})
    _attempt(tmp_path / "a2", "r2", 2, 200.0, {"m::t1": False, "m::t2": True})
    code, verdict = merge_json([str(tmp_path / "a2"), str(tmp_path / "a1")], capsys)
    assert code == 1
    assert [t["nodeid"] for t in verdict["failures"]] == ["m::t1"] and verdict["flaky"] == 0
    assert verdict["shards"][0]["attempt"] == "attempt 2" and verdict["shards"][0]["status"] == "failed"


def test_an_earlier_attempt_that_died_does_not_make_a_complete_green_latest_red(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Attempt 1 timed out in m::t2 (its log stops there, no report); attempt 2 ran the shard to the end."""
    _log(tmp_path / "a1", "r1", 1, 100.0, ["m::t1", "m::t2"], {"m::t1": True}, finished=False)
    _attempt(tmp_path / "a2", "r2", 2, 200.0, {"m::t1": True, "m::t2": True})
    code, verdict = merge_json([str(tmp_path)], capsys)
    assert code == 0, verdict["verdict"]
    assert verdict["shards"][0]["earlier_attempts"] == [{"attempt": "attempt 1", "status": "died"}]
    # the other way round, the latest attempt died: red, whatever the earlier one did
    _attempt(tmp_path / "b1", "s1", 1, 100.0, {"m::t1": True, "m::t2": True})
    _log(tmp_path / "b2", "s2", 2, 200.0, ["m::t1", "m::t2"], {"m::t1": True}, finished=False)
    code, verdict = merge_json([str(tmp_path / "b1"), str(tmp_path / "b2")], capsys)
    assert code == 1 and verdict["shards"][0]["status"] == "died"


def test_equal_or_unknown_attempts_are_ordered_by_the_logs_start_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two runs that both say attempt 1 (two local runs), or say nothing (a plain pytest session): the later start
    is the verdict, whichever folder sorts first."""
    for attempt in (1, None):
        base = tmp_path / str(attempt)
        _attempt(base / "z-first", "r1", attempt, 100.0, {"m::t1": False})
        _attempt(base / "a-second", "r2", attempt, 200.0, {"m::t1": True})
        code, verdict = merge_json([str(base)], capsys)
        assert code == 0 and verdict["flaky"] == 1
        assert verdict["shards"][0]["attempt"] == "run 2 of 2"
        (note,) = [note for note in verdict["notes"] if note.startswith("shard 1/1: 2 runs")]
        assert "ordered by their progress logs' start times" in note and "a-second" in note


def test_a_stale_report_in_an_attempt_folder_is_still_set_aside(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Attempt 2's folder holds attempt 1's green report (left on the runner) beside attempt 2's own log, which
    died: the report is not attempt 2's word, and the shard's latest attempt died."""
    _attempt(tmp_path / "a1", "r1", 1, 100.0, {"m::t1": True})
    _report(tmp_path / "a2", "r1", 1, {"m::t1": True})
    _log(tmp_path / "a2", "r2", 2, 200.0, ["m::t1"], {}, finished=False)
    code, verdict = merge_json([str(tmp_path / "a1"), str(tmp_path / "a2")], capsys)
    assert code == 1
    (shard,) = verdict["shards"]
    assert shard["status"] == "died" and shard["attempt"] == "attempt 2" and shard["stale_reports"]
