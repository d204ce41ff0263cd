"""Reruns inside one report (pytest-rerunfailures) and across reports (CI re-running a job): a test that failed on
every attempt must stay red.

pytest's JUnit writer records each rerun attempt of pytest-rerunfailures as a bare `<testcase>` (it looks passed)
and then the final attempt with its result. `REAL_RERUNFAILURES_REPORT` is that output, captured once from
`pytest --reruns 2 --junitxml=rr.xml` with pytest 9.2 and pytest-rerunfailures 16.7 on the suite in
`RERUN_SUITE`, so the rule is checked on every machine; the tests that run pytest-rerunfailures for real skip
where it is not installed (pip name: `pytest-rerunfailures`).
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import pytest

from sharder.cli import main

RERUN_SUITE = '''\
import pathlib


def test_fails_once():
    marker = pathlib.Path(__file__).with_name(".failed_once")
    if not marker.exists():
        marker.write_text("x")
        raise AssertionError("first attempt fails")


def test_always_fails():
    raise AssertionError("every attempt fails")


def test_passes():
    pass
'''

REAL_RERUNFAILURES_REPORT = (
    '<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" errors="0" '
    'failures="1" skipped="0" tests="3" time="0.616" timestamp="2026-12-01T08:40:46.537898+00:00" hostname="vm">'
    '<testcase classname="tests.test_reruns" name="test_fails_once" time="0.049" />'
    '<testcase classname="tests.test_reruns" name="test_fails_once" time="0.001" />'
    '<testcase classname="tests.test_reruns" name="test_always_fails" time="0.000" />'
    '<testcase classname="tests.test_reruns" name="test_always_fails" time="0.000" />'
    '<testcase classname="tests.test_reruns" name="test_always_fails" time="0.000">'
    '<failure message="AssertionError: every attempt fails">def test_always_fails():\n'
    '&gt;       raise AssertionError("every attempt fails")\nE       AssertionError: every attempt fails\n\n'
    'tests/test_reruns.py:12: AssertionError</failure></testcase>'
    '<testcase classname="tests.test_reruns" name="test_passes" time="0.000" /></testsuite></testsuites>'
)

ALWAYS_FAILS = "tests.test_reruns::test_always_fails"
FAILS_ONCE = "tests.test_reruns::test_fails_once"


def merge_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main(["merge", *args, "--json"])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, json.loads(captured.out)


def merged_counts(path: Path) -> dict[str, int]:
    root = ElementTree.parse(path).getroot()
    return {name: int(root.get(name, "0")) for name in ("tests", "failures", "errors", "skipped")}


def test_a_rerun_that_fails_every_time_is_failed_not_flaky(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "rr.xml"
    report.write_text(REAL_RERUNFAILURES_REPORT, encoding="utf-8")
    code, verdict = merge_json([str(report), "-o", str(tmp_path / "merged.xml")], capsys)
    assert code == 1
    assert [f["nodeid"] for f in verdict["failures"]] == [ALWAYS_FAILS]
    assert [f["nodeid"] for f in verdict["flaky_tests"]] == [FAILS_ONCE]
    assert verdict["reported"] == 3 and verdict["failures"][0]["attempts"] == 3
    assert verdict["failures"][0]["history"][0][0] == "2 earlier failed attempt(s)"
    # the merged report says what the verdict says: pytest's own counters (3 tests, 1 failure), not 6 cases
    assert merged_counts(tmp_path / "merged.xml") == {"tests": 3, "failures": 1, "errors": 0, "skipped": 0}
    merged = ElementTree.parse(tmp_path / "merged.xml").getroot()
    cases = {case.get("name"): [child.tag for child in case] for case in merged.iter("testcase")}
    assert cases["test_always_fails"].count("rerunFailure") == 2 and "failure" in cases["test_always_fails"]
    assert cases["test_fails_once"].count("flakyFailure") == 1
    assert not [tag for tag in cases["test_passes"] if tag != "properties"]


def test_earlier_occurrences_are_failed_attempts_whatever_they_hold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Order decides, not the mix: a failure followed by a pass is flaky, a pass followed by a failure failed."""
    (tmp_path / "order.xml").write_text(
        '<testsuite name="s" tests="2" failures="1">'
        '<testcase classname="m" name="recovers" time="1"><failure message="first"/></testcase>'
        '<testcase classname="m" name="recovers" time="1"/>'
        '<testcase classname="m" name="breaks" time="1"/>'
        '<testcase classname="m" name="breaks" time="1"><failure message="last"/></testcase>'
        '</testsuite>', encoding="utf-8")
    code, verdict = merge_json([str(tmp_path / "order.xml")], capsys)
    assert code == 1
    assert [f["nodeid"] for f in verdict["failures"]] == ["m::breaks"]
    assert [f["nodeid"] for f in verdict["flaky_tests"]] == ["m::recovers"]


def _rerun_report_whose_final_attempt(passes: bool, timestamp: str) -> str:
    final = "" if passes else '<failure message="again"/>'
    return (f'<testsuite name="pytest" tests="1" failures="{0 if passes else 1}" timestamp="{timestamp}">'
            '<testcase classname="tests.test_x" name="test_y" time="1"/>'
            f'<testcase classname="tests.test_x" name="test_y" time="1">{final}</testcase></testsuite>')


@pytest.mark.parametrize(("second_passes", "expected"), [(True, "flaky"), (False, "failed")])
def test_across_reports_flaky_needs_a_final_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], second_passes: bool, expected: str
) -> None:
    """CI re-running the whole job: two reports of the same tests. Flaky only if some report's final attempt
    passed; two reports that each ended in a failure are a failure, however many reruns passed-looking."""
    (tmp_path / "first.xml").write_text(_rerun_report_whose_final_attempt(False, "10:00"), encoding="utf-8")
    (tmp_path / "second.xml").write_text(_rerun_report_whose_final_attempt(second_passes, "11:00"),
                                           encoding="utf-8")
    code, verdict = merge_json([str(tmp_path / "first.xml"), str(tmp_path / "second.xml")], capsys)
    assert verdict["failed" if expected == "failed" else "flaky"] == 1
    assert verdict["flaky" if expected == "failed" else "failed"] == 0
    assert code == (1 if expected == "failed" else 0)


def test_the_progress_log_counts_reruns_a_report_left_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A report holding the test once (its writer dropped the reruns) beside the shard's progress log, which
    recorded every attempt: the log's "rerun" lines make the pass a flaky one."""
    reports = tmp_path / "reports"
    reports.mkdir()
    node_id = "tests/test_x.py::test_y"
    (reports / "shard-1-of-1.xml").write_text(
        '<testsuite name="pytest" tests="1"><properties><property name="sharder_shard" value="1/1"/></properties>'
        f'<testcase classname="tests.test_x" name="test_y" time="0.1"><properties>'
        f'<property name="sharder_nodeid" value="{node_id}"/></properties></testcase></testsuite>',
        encoding="utf-8")
    events = [
        {"event": "session", "format": 1, "shard": "1/1", "order": [node_id], "report": "shard-1-of-1.xml"},
        {"event": "start", "nodeid": node_id},
        {"event": "test", "nodeid": node_id, "outcome": "rerun", "seconds": 0.1, "shard": "1/1", "index": 1},
        {"event": "start", "nodeid": node_id},
        {"event": "test", "nodeid": node_id, "outcome": "passed", "seconds": 0.1, "shard": "1/1", "index": 1},
        {"event": "finish", "exitstatus": 0},
    ]
    (reports / "shard-1-of-1.progress.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events),
                                                         encoding="utf-8")
    code, verdict = merge_json([str(reports), "-o", str(tmp_path / "merged.xml")], capsys)
    assert code == 0 and verdict["flaky"] == 1 and verdict["reported"] == 1
    assert merged_counts(tmp_path / "merged.xml")["tests"] == 1
    code, _ = merge_json([str(reports), "--fail-on-flaky"], capsys)
    assert code == 1


def _rerun_suite(tmp_path: Path) -> Path:
    suite = tmp_path / "suite"
    (suite / "tests").mkdir(parents=True)
    (suite / "tests" / "test_reruns.py").write_text(RERUN_SUITE, encoding="utf-8")
    return suite


def test_real_pytest_rerunfailures_report_fails_the_merge(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("pytest_rerunfailures")
    suite = _rerun_suite(tmp_path)
    ran = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:sharder",
                          "--reruns", "2", "--junitxml=rr.xml", "tests"],
                         cwd=suite, capture_output=True, text=True, check=False)
    assert ran.returncode == 1, ran.stdout
    code, verdict = merge_json([str(suite / "rr.xml")], capsys)
    assert code == 1
    assert [f["nodeid"] for f in verdict["failures"]] == [ALWAYS_FAILS]
    assert [f["nodeid"] for f in verdict["flaky_tests"]] == [FAILS_ONCE]


def test_real_sharder_run_with_reruns_fails_the_merge(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """sharder's own report and progress log of `sharder run --shard 1/1 -- --reruns 2`."""
    pytest.importorskip("pytest_rerunfailures")
    suite = _rerun_suite(tmp_path)
    ran = subprocess.run([sys.executable, "-m", "sharder", "run", "--shard", "1/1", "--junit-dir", "reports", "--",
                          "-p", "no:randomly", "--reruns", "2"], cwd=suite, capture_output=True, text=True, check=False)
    assert ran.returncode == 1, ran.stdout + ran.stderr
    code, verdict = merge_json([str(suite / "reports"), "-o", str(suite / "merged.xml")], capsys)
    assert code == 1
    assert [f["nodeid"] for f in verdict["failures"]] == ["tests/test_reruns.py::test_always_fails"]
    assert [f["nodeid"] for f in verdict["flaky_tests"]] == ["tests/test_reruns.py::test_fails_once"]
    assert merged_counts(suite / "merged.xml") == {"tests": 3, "failures": 1, "errors": 0, "skipped": 0}


def test_a_dead_shards_logged_reruns_count_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No report, only the log of a shard killed after a rerun passed: one test, flaky, counted once."""
    reports = tmp_path / "reports"
    reports.mkdir()
    node_id = "tests/test_x.py::test_y"
    events = [
        {"event": "session", "format": 1, "shard": "1/1", "plan_sizes": [2], "order": [node_id, "tests/test_x.py::z"],
         "report": "shard-1-of-1.xml"},
        {"event": "test", "nodeid": node_id, "outcome": "rerun", "seconds": 0.1, "shard": "1/1", "index": 1},
        {"event": "test", "nodeid": node_id, "outcome": "rerun", "seconds": 0.1, "shard": "1/1", "index": 1},
        {"event": "test", "nodeid": node_id, "outcome": "passed", "seconds": 0.1, "shard": "1/1", "index": 1},
        {"event": "start", "nodeid": "tests/test_x.py::z"},
    ]
    (reports / "shard-1-of-1.progress.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events),
                                                         encoding="utf-8")
    code, verdict = merge_json([str(reports), "-o", str(tmp_path / "merged.xml")], capsys)
    assert code == 1 and verdict["missing"] == 1  # the shard died: never green
    assert [t["nodeid"] for t in verdict["flaky_tests"]] == [node_id] and verdict["failed"] == 0
    assert merged_counts(tmp_path / "merged.xml") == {"tests": 2, "failures": 0, "errors": 1, "skipped": 0}
