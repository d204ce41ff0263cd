"""Reports far larger than a CI run usually leaves, merged by the real CLI under the fault suite's ceiling.

A merge reads every case of every report and writes each one out again; nothing about it may grow with the size of
the document beyond the records of its results (the whole tree once took 2 GB for 1,000,000 cases).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.faults.conftest import Outcome

CASES = 1_000_000
FAILING_EVERY = 10_000


def _flat_report(path: Path) -> None:
    """One plain `pytest --junitxml` report of a flat suite (about 70 bytes a case, as the issue's 71 MB file)."""
    with path.open("w", encoding="utf-8") as handle:
        handle.write('<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" '
                     f'errors="0" failures="{CASES // FAILING_EVERY}" skipped="0" tests="{CASES}" time="5000.0">')
        for start in range(0, CASES, 10_000):
            handle.write("".join(
                f'<testcase classname="tests.test_mod_{i // 200}" name="test_{i}" time="0.00{i % 10}">'
                '<failure message="assert 1 == 2">E  assert 1 == 2</failure></testcase>'
                if i % FAILING_EVERY == 7 else
                f'<testcase classname="tests.test_mod_{i // 200}" name="test_{i}" time="0.00{i % 10}" />'
                for i in range(start, start + 10_000)
            ))
        handle.write("</testsuite></testsuites>")


def test_a_million_case_report_merges_within_the_ceiling(
    tmp_path: Path, sharder_capped: Callable[..., Outcome], ledger: Callable[[str, str], None]
) -> None:
    (tmp_path / "reports").mkdir()
    _flat_report(tmp_path / "reports" / "junit.xml")
    outcome = sharder_capped(["merge", "reports", "-o", "merged.xml", "--json"], cwd=tmp_path)
    size_mb = (tmp_path / "reports" / "junit.xml").stat().st_size / 1e6
    assert "Traceback" not in outcome.stderr and "MemoryError" not in outcome.stderr, outcome.stderr[-3000:]
    assert outcome.code == 1, outcome.stderr[-3000:]  # the report's own failures, nothing else
    verdict = json.loads(outcome.stdout)
    assert (verdict["reported"], verdict["failed"]) == (CASES, CASES // FAILING_EVERY)
    merged = (tmp_path / "merged.xml").read_bytes()
    assert merged.count(b"<testcase ") == CASES
    assert merged.count(b'<property name="sharder_nodeid" value="tests.test_mod_') == CASES
    assert merged.endswith(b"</testsuites>\n")
    ledger(f"merge -o: one report of {CASES:,} cases ({size_mb:.0f} MB)",
           f"exit 1 ({verdict['failed']} failed, as written): merged within 1 GiB, {CASES:,} cases in merged.xml")
