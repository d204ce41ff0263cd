"""xfail and xpass in a merge, against what pytest itself counts: real `sharder run` and `sharder merge` processes
on a small suite written to tmp_path."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from sharder.reports.junit import parse_xml_root, read_report

pytestmark = pytest.mark.integration

RunSharder = Callable[..., subprocess.CompletedProcess[str]]

SUITE = """
import pytest

def test_pass(): pass

@pytest.mark.skip(reason="not here")
def test_skip(): pass

@pytest.mark.xfail(reason="known bug")
def test_xfail(): assert 0

@pytest.mark.xfail(reason="known bug", run=False)
def test_xfail_not_run(): assert 0

@pytest.mark.xfail(reason="fixed?")
def test_xpass(): pass
"""

STRICT = """
import pytest

@pytest.mark.xfail(reason="must fail", strict=True)
def test_xpass_strict(): pass
"""


def _suite(root: Path, *, strict: bool) -> Path:
    (root / "pytest.ini").write_text("[pytest]\naddopts = -p no:randomly\n")
    (root / "test_marks.py").write_text(SUITE)
    if strict:
        (root / "test_strict.py").write_text(STRICT)
    return root


def _pytest_counts(output: str) -> dict[str, int]:
    """pytest's own final line, `1 failed, 2 passed, 1 skipped, 2 xfailed, 1 xpassed in 0.1s`, as counts."""
    line = [text for text in output.splitlines() if re.search(r"\d+ (passed|failed)", text)][-1]
    return {word: int(number) for number, word in re.findall(r"(\d+) (\w+)", line) if word != "in"}


def _shard_and_merge(root: Path, run_sharder: RunSharder) -> tuple[subprocess.CompletedProcess[str],
                                                                   dict[str, int], dict[str, object]]:
    ran = run_sharder(["run", "--shard", "1/1", "--", "-rN"], root)
    merged = run_sharder(["merge", "reports", "-o", "merged.xml", "--markdown", "summary.md", "--json"], root)
    assert "Traceback" not in merged.stderr, merged.stderr
    return merged, _pytest_counts(ran.stdout), json.loads(merged.stdout)


def test_xfailed_tests_are_counted_apart_from_skips_as_pytest_counts_them(tmp_path: Path,
                                                                         run_sharder: RunSharder) -> None:
    root = _suite(tmp_path, strict=False)
    merged, counted, verdict = _shard_and_merge(root, run_sharder)
    assert counted == {"passed": 1, "skipped": 1, "xfailed": 2, "xpassed": 1}
    assert merged.returncode == 0, merged.stdout + merged.stderr  # an expected failure is no failure, not lost
    assert (verdict["skipped"], verdict["xfailed"], verdict["failed"], verdict["reported"]) == (1, 2, 0, 5)
    assert "5 of 5 planned tests reported, 0 failed, 0 missing, 1 skipped, 2 xfailed" in verdict["verdict"]
    markdown = (root / "summary.md").read_text()
    assert "1 skipped, 2 xfailed" in markdown
    # pytest writes a non-strict xpass as a bare passed case: JUnit XML cannot tell it from a pass
    outcomes = {case.node_id: case.outcome for case in read_report(root / "merged.xml").cases}
    assert outcomes == {"test_marks.py::test_pass": "passed", "test_marks.py::test_skip": "skipped",
                        "test_marks.py::test_xfail": "xfailed", "test_marks.py::test_xfail_not_run": "xfailed",
                        "test_marks.py::test_xpass": "passed"}
    # the merged file's counters stay pytest's: an xfail is among a suite's skipped
    root_element = parse_xml_root(root / "merged.xml")
    assert (root_element.get("tests"), root_element.get("skipped"), root_element.get("failures")) == ("5", "3", "0")
    types = [element.get("type") for element in root_element.iter("skipped")]
    assert sorted(types) == ["pytest.skip", "pytest.xfail", "pytest.xfail"]


def test_a_strict_xpass_stays_a_failure_beside_the_xfails(tmp_path: Path, run_sharder: RunSharder) -> None:
    root = _suite(tmp_path, strict=True)
    merged, counted, verdict = _shard_and_merge(root, run_sharder)
    assert counted == {"failed": 1, "passed": 1, "skipped": 1, "xfailed": 2, "xpassed": 1}
    assert merged.returncode == 1
    assert (verdict["failed"], verdict["skipped"], verdict["xfailed"]) == (1, 1, 2)
    assert [test["nodeid"] for test in verdict["failures"]] == ["test_strict.py::test_xpass_strict"]
    assert "1 failed" in verdict["verdict"] and "2 xfailed" in verdict["verdict"]
