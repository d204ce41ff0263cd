"""Hostile and broken JUnit XML, fed to the real CLI under a memory and CPU ceiling."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.faults.conftest import Outcome, assert_clean_refusal

GOOD_CASE = '<testcase classname="tests.test_a" name="test_ok" time="0.5"/>'


def _suite(body: str, root: str = "testsuites") -> str:
    inner = f'<testsuite name="pytest" tests="1">{body}</testsuite>'
    return inner if root == "testsuite" else f"<testsuites>{inner}</testsuites>"


BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol "lol">\n'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n' for i in range(1, 10))
    + "]>\n"
    + _suite('<testcase classname="a" name="&lol9;"/>')
)
QUADRATIC_BLOWUP = (
    '<?xml version="1.0"?>\n<!DOCTYPE bomb [<!ENTITY a "' + "x" * 50_000 + '">]>\n'
    + _suite('<testcase classname="a" name="b"><failure message="' + "&a;" * 50_000 + '"/></testcase>')
)
EXTERNAL_ENTITY = (
    '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    + _suite('<testcase classname="a" name="&xxe;"/>')
)
PLAIN_DOCTYPE = '<?xml version="1.0"?>\n<!DOCTYPE testsuites>\n' + _suite(GOOD_CASE)

REFUSED = {
    "billion laughs entity bomb": BILLION_LAUGHS,
    "quadratic blowup entity bomb": QUADRATIC_BLOWUP,
    "external entity file:///etc/passwd": EXTERNAL_ENTITY,
    "a DOCTYPE": PLAIN_DOCTYPE,
    "truncated file": _suite(GOOD_CASE)[:-20],
    "empty file": "",
    "wrong encoding declaration": '<?xml version="1.0" encoding="utf-16"?>' + _suite(GOOD_CASE),
    "unknown encoding declaration": '<?xml version="1.0" encoding="no-such-codec"?>' + _suite(GOOD_CASE),
    "not JUnit at all": "<html><body>502 Bad Gateway</body></html>",
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_hostile_or_broken_report_is_refused(
    name: str, tmp_path: Path, sharder_capped: Callable[..., Outcome], ledger: Callable[[str, str], None]
) -> None:
    (tmp_path / "report.xml").write_text(REFUSED[name], encoding="utf-8")
    outcome = sharder_capped(["record", "--from-junit", "report.xml"], cwd=tmp_path)
    ledger(f"record --from-junit: {name}", outcome.observed)
    assert_clean_refusal(outcome)
    assert not (tmp_path / "durations.json").exists()


def test_non_utf8_bytes_are_refused(
    tmp_path: Path, sharder_capped: Callable[..., Outcome], ledger: Callable[[str, str], None]
) -> None:
    (tmp_path / "report.xml").write_bytes(_suite(GOOD_CASE).replace("test_ok", "test_\xff").encode("latin-1"))
    outcome = sharder_capped(["record", "--from-junit", "report.xml"], cwd=tmp_path)
    ledger("record --from-junit: non-UTF-8 bytes", outcome.observed)
    assert_clean_refusal(outcome)


def _durations(tmp_path: Path) -> dict[str, float]:
    from sharder.durations.store import load_durations

    return load_durations(tmp_path / "durations.json").seconds()


def test_fifty_megabytes_in_one_failure_message_is_read_within_the_ceiling(
    tmp_path: Path, sharder_capped: Callable[..., Outcome], ledger: Callable[[str, str], None]
) -> None:
    huge = '<testcase classname="tests.test_a" name="test_big" time="2.0"><failure message="boom">'
    huge += "x" * (50 * 1024 * 1024) + "</failure></testcase>"
    (tmp_path / "report.xml").write_text(_suite(GOOD_CASE + huge), encoding="utf-8")
    outcome = sharder_capped(["record", "--from-junit", "report.xml"], cwd=tmp_path)
    ledger("record --from-junit: 50 MB failure message", outcome.observed)
    assert outcome.code == 0, outcome.stderr[-2000:]
    assert _durations(tmp_path) == {"tests.test_a::test_ok": 0.5}  # read whole; a failure is no timing
    assert "1 case not used: 1 failed" in outcome.stdout


def test_deeply_nested_elements_do_not_crash(
    tmp_path: Path, sharder_capped: Callable[..., Outcome], ledger: Callable[[str, str], None]
) -> None:
    depth = 100_000
    nested = "<x>" * depth + "</x>" * depth
    body = f'<testcase classname="tests.test_a" name="test_deep" time="1.0"><system-out>{nested}</system-out></testcase>'
    (tmp_path / "report.xml").write_text(_suite(body), encoding="utf-8")
    outcome = sharder_capped(["record", "--from-junit", "report.xml"], cwd=tmp_path)
    ledger(f"record --from-junit: {depth:,} nested elements", outcome.observed)
    assert "Traceback" not in outcome.stderr
    assert outcome.code in (0, 2), outcome.stderr[-2000:]
    if outcome.code == 0:
        assert _durations(tmp_path) == {"tests.test_a::test_deep": 1.0}


def test_mixed_roots_and_contradicting_counts_give_the_cases_as_they_are(
    tmp_path: Path, sharder_capped: Callable[..., Outcome], ledger: Callable[[str, str], None]
) -> None:
    (tmp_path / "a.xml").write_text(_suite(GOOD_CASE, root="testsuites").replace('tests="1"', 'tests="99"'))
    other = '<testcase classname="tests.test_b" name="test_two" time="1.5"/>'
    (tmp_path / "b.xml").write_text(_suite(other, root="testsuite").replace('tests="1"', 'tests="0" failures="7"'))
    outcome = sharder_capped(["record", "--from-junit", "a.xml", "b.xml"], cwd=tmp_path)
    ledger("record --from-junit: testsuite and testsuites roots mixed, counts that lie", outcome.observed)
    assert outcome.code == 0, outcome.stderr
    assert _durations(tmp_path) == {"tests.test_a::test_ok": 0.5, "tests.test_b::test_two": 1.5}
