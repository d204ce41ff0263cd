"""JUnit XML from other runners and other pytest settings: every test keeps its own id, counters that contradict
the cases are not green, and times are read or left out, never invented.

Reports of runners we cannot run here (Playwright, jest-junit, unittest-xml-reporting, Maven Surefire) are written
as those tools write them; where pytest is the producer it runs for real.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sharder.cli import main
from sharder.durations.store import load_durations
from sharder.reports.junit import MAX_TEST_SECONDS, parse_number, read_report

PLAYWRIGHT_TWO_PROJECTS = """\
<testsuites id="" name="" tests="4" failures="1" skipped="0" errors="0" time="5.5">
<testsuite name="example.spec.ts" timestamp="2024-05-01T10:00:00.000Z" hostname="chromium" tests="2" failures="0"
 skipped="0" time="2.0" errors="0">
<testcase name="has title" classname="example.spec.ts" time="1.0"></testcase>
<testcase name="get started link" classname="example.spec.ts" time="1.0"></testcase>
</testsuite>
<testsuite name="example.spec.ts" timestamp="2024-05-01T10:00:00.000Z" hostname="firefox" tests="2" failures="1"
 skipped="0" time="3.5" errors="0">
<testcase name="has title" classname="example.spec.ts" time="2.0">
<failure message="example.spec.ts:3:5 has title" type="FAILURE"><![CDATA[  [firefox] > has title
    Error: Timed out 5000ms waiting for expect(locator).toHaveTitle(expected)]]></failure>
</testcase>
<testcase name="get started link" classname="example.spec.ts" time="1.5"></testcase>
</testsuite>
</testsuites>
"""

JEST_SAME_TITLE_IN_TWO_FILES = """\
<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="jest tests" tests="4" failures="1" errors="0" time="2.345">
  <testsuite name="utils" errors="0" failures="0" skipped="0" timestamp="2024-05-01T10:00:00" time="0.9" tests="2">
    <testcase classname="utils works" name="utils works" time="0.4"></testcase>
    <testcase classname="utils handles empty" name="utils handles empty" time="0.5"></testcase>
  </testsuite>
  <testsuite name="utils" errors="0" failures="1" skipped="0" timestamp="2024-05-01T10:00:01" time="1.445" tests="2">
    <testcase classname="utils works" name="utils works" time="1.2"><failure>Error: expect(received)</failure></testcase>
    <testcase classname="utils other" name="utils other" time="0.245"></testcase>
  </testsuite>
</testsuites>
"""

UNITTEST_XML_REPORTING = """\
<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="tests.test_models.UserTest-20240501100000" tests="1" file="tests/test_models.py" time="0.002"
   failures="0" errors="0" skipped="0">
    <testcase classname="tests.test_models.UserTest" name="test_create" time="0.002" file="tests/test_models.py"
     line="5"/>
  </testsuite>
  <testsuite name="tests.test_models.GroupTest-20240501100000" tests="1" file="tests/test_models.py" time="0.003"
   failures="1" errors="0" skipped="0">
    <testcase classname="tests.test_models.GroupTest" name="test_create" time="0.003" file="tests/test_models.py"
     line="15"><failure type="AssertionError" message="2 != 3">AssertionError: 2 != 3</failure></testcase>
  </testsuite>
</testsuites>
"""

DUPLICATE_NAMES_SUITE = '''\
class TestAlpha:
    def test_save(self):
        pass

    class TestInner:
        def test_save(self):
            pass


class TestBeta:
    def test_save(self):
        assert False, "Beta is broken"


def test_save():
    pass
'''


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


def merge_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code, out, _ = run(["merge", *args, "--json"], capsys)
    return code, json.loads(out)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def merged_counts(path: Path) -> tuple[int, int]:
    head = path.read_text(encoding="utf-8").split("<testsuite ", 1)[0]
    tests = int(head.split('tests="', 1)[1].split('"', 1)[0])
    failures = int(head.split('failures="', 1)[1].split('"', 1)[0])
    return tests, failures


# ------------------------------------------------------------------------------------- one id per test


def test_playwright_projects_are_different_tests(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = write(tmp_path / "playwright.xml", PLAYWRIGHT_TWO_PROJECTS)
    code, verdict = merge_json([str(report), "-o", str(tmp_path / "merged.xml")], capsys)
    assert code == 1
    assert verdict["reported"] == 4 and verdict["failed"] == 1 and verdict["flaky"] == 0
    assert [f["nodeid"] for f in verdict["failures"]] == ["example.spec.ts::has title[firefox]"]
    assert merged_counts(tmp_path / "merged.xml") == (4, 1)


def test_jest_same_title_in_two_files_are_different_tests(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Both suites are named `utils` and have no hostname: only their order tells them apart."""
    report = write(tmp_path / "jest.xml", JEST_SAME_TITLE_IN_TWO_FILES)
    code, verdict = merge_json([str(report)], capsys)
    assert code == 1 and verdict["reported"] == 4 and verdict["failed"] == 1 and verdict["flaky"] == 0
    ids = sorted(case.node_id for case in read_report(report).cases)
    assert ids == ["utils handles empty::utils handles empty", "utils other::utils other",
                   "utils works::utils works[#1]", "utils works::utils works[#2]"]
    assert ids == sorted(case.node_id for case in read_report(report).cases)  # the same ids on every read


def test_keys_found_in_one_suite_keep_their_ids(tmp_path: Path) -> None:
    """Only colliding keys are qualified: a foreign report's other cases, and a second suite's, stay as they were."""
    report = write(tmp_path / "two.xml", """<testsuites>
        <testsuite name="a"><testcase classname="pkg.A" name="t1"/></testsuite>
        <testsuite name="b"><testcase classname="pkg.B" name="t1"/><testcase classname="pkg.A" name="t1"/></testsuite>
        </testsuites>""")
    assert [case.node_id for case in read_report(report).cases] == ["pkg.A::t1[a]", "pkg.B::t1", "pkg.A::t1[b]"]


@pytest.fixture
def duplicate_names_suite(tmp_path: Path) -> Path:
    suite = tmp_path / "suite"
    (suite / "tests").mkdir(parents=True)
    (suite / "tests" / "test_dup.py").write_text(DUPLICATE_NAMES_SUITE, encoding="utf-8")
    return suite


def _pytest(suite: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:sharder",
                           "-p", "no:cacheprovider", *args], cwd=suite, capture_output=True, text=True, check=False)


def _collected(suite: Path) -> list[str]:
    out = _pytest(suite, "--collect-only", "-q").stdout
    return [line for line in out.splitlines() if "::" in line]


def test_plain_pytest_report_keeps_its_ids(duplicate_names_suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One suite, so no qualification: the ids are `classname::name` exactly as before."""
    _pytest(duplicate_names_suite, "--junitxml=plain.xml")
    ids = [case.node_id for case in read_report(duplicate_names_suite / "plain.xml").cases]
    assert ids == ["tests.test_dup.TestAlpha::test_save", "tests.test_dup.TestAlpha.TestInner::test_save",
                   "tests.test_dup.TestBeta::test_save", "tests.test_dup::test_save"]


def test_pytest_xunit1_report_keeps_the_classes(
    duplicate_names_suite: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """xunit1 carries `file`: the ids become pytest's own node ids, nested classes included."""
    ran = _pytest(duplicate_names_suite, "-o", "junit_family=xunit1", "--junitxml=xunit1.xml")
    assert ran.returncode == 1, ran.stdout
    monkeypatch.chdir(duplicate_names_suite)
    code, verdict = merge_json(["xunit1.xml"], capsys)
    assert code == 1 and verdict["reported"] == 4 and verdict["flaky"] == 0
    assert [f["nodeid"] for f in verdict["failures"]] == ["tests/test_dup.py::TestBeta::test_save"]
    code, out, _ = run(["record", "--from-junit", "xunit1.xml", "--durations", "d.json"], capsys)
    assert code == 0 and "3 test durations" in out and "1 case not used: 1 failed" in out  # a failure is no timing
    passed = sorted(set(_collected(duplicate_names_suite)) - {"tests/test_dup.py::TestBeta::test_save"})
    assert sorted(load_durations(duplicate_names_suite / "d.json").tests) == passed


def test_unittest_xml_reporting_keeps_the_class(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = write(tmp_path / "xmlrunner.xml", UNITTEST_XML_REPORTING)
    code, verdict = merge_json([str(report)], capsys)
    assert code == 1 and verdict["reported"] == 2 and verdict["flaky"] == 0
    assert [f["nodeid"] for f in verdict["failures"]] == ["tests/test_models.py::GroupTest::test_create"]


def test_a_file_attribute_unrelated_to_the_classname_keys_as_before(tmp_path: Path) -> None:
    """jest-junit's `addFileAttribute`: the classname is a title, not a module, so it is not taken for classes;
    a file given from another root still finds its module."""
    report = write(tmp_path / "f.xml", """<testsuite name="s">
        <testcase classname="utils works" name="utils works" file="src/utils.test.js"/>
        <testcase classname="tests.test_x.TestA" name="test_b" file="src/tests/test_x.py"/>
        <testcase classname="tests.test_x" name="test_c" file="tests\\test_x.py"/>
        </testsuite>""")
    assert [case.node_id for case in read_report(report).cases] == [
        "src/utils.test.js::utils works", "src/tests/test_x.py::TestA::test_b", "tests/test_x.py::test_c"]


# ------------------------------------------------------------------------- counters that contradict cases


def test_cases_are_found_at_any_depth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nested = write(tmp_path / "double.xml", """<testsuites><testsuites name="merged-1"><testsuite name="a">
        <testcase classname="a" name="t1" time="1"><failure message="boom"/></testcase>
        </testsuite></testsuites></testsuites>""")
    bare = write(tmp_path / "bare_case.xml",
                 '<testsuites><testcase classname="b" name="t1" time="1"><failure message="boom"/></testcase></testsuites>')
    for report, node_id in ((nested, "a::t1"), (bare, "b::t1")):
        code, verdict = merge_json([str(report)], capsys)
        assert code == 1 and [f["nodeid"] for f in verdict["failures"]] == [node_id]


def test_declared_tests_without_cases_is_not_green(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = write(tmp_path / "empty_suites.xml", '<testsuites tests="5" failures="2"/>')
    code, _, err = run(["merge", str(empty)], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "declares 5 tests but holds no test case" in err
    # beside a good report it is an unreadable one: red, with the contradiction named
    good = write(tmp_path / "good.xml", '<testsuite name="g" tests="1"><testcase classname="g" name="t"/></testsuite>')
    code, out, _ = run(["merge", str(good), str(empty)], capsys)
    assert code == 1 and "UNREADABLE REPORTS (1)" in out and "declares 5 tests but holds no test case" in out


def test_declared_failures_without_a_failing_case_is_not_green(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    liar = write(tmp_path / "shard-1-of-2.xml", '<testsuite name="s" tests="1" failures="1">'
                 '<testcase classname="s" name="t" time="1"/></testsuite>')
    other = write(tmp_path / "shard-2-of-2.xml", '<testsuite name="s" tests="1">'
                  '<testcase classname="s" name="u" time="1"/></testsuite>')
    code, verdict = merge_json([str(liar), str(other)], capsys)
    assert code == 1
    assert verdict["shards"][0]["status"] == "report unreadable"
    assert "declares 1 failures/errors but holds no failing test case" in verdict["unreadable"][0]


def test_a_real_pytest_report_with_call_and_teardown_errors_is_believed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """pytest counts a case that fails in call and errors in teardown twice (failures=1 errors=1, one case)."""
    suite = tmp_path / "suite"
    (suite / "tests").mkdir(parents=True)
    (suite / "tests" / "test_td.py").write_text(
        "import pytest\n\n\n@pytest.fixture\ndef broken_teardown():\n    yield\n    raise RuntimeError('teardown')\n\n\n"
        "def test_both(broken_teardown):\n    assert False\n\n\ndef test_fine():\n    pass\n", encoding="utf-8")
    _pytest(suite, "--junitxml=td.xml")
    code, verdict = merge_json([str(suite / "td.xml")], capsys)
    assert code == 1 and not verdict["unreadable"]
    assert [f["nodeid"] for f in verdict["failures"]] == ["tests.test_td::test_both"]
    _pytest(suite, "--junitxml=green.xml", "-k", "fine")
    code, verdict = merge_json([str(suite / "green.xml")], capsys)
    assert code == 0 and not verdict["unreadable"] and verdict["reported"] == 1


def test_record_and_rebalance_refuse_a_report_without_cases(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = write(tmp_path / "empty.xml", '<testsuites tests="5" failures="2"/>')
    for command in (["record", "--from-junit"], ["rebalance"]):
        code, _, err = run([*command, str(empty), "--durations", str(tmp_path / "d.json")], capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "d.json").exists()


# ------------------------------------------------------------------------------------------- times


@pytest.mark.parametrize(("text", "value"), [
    ("1.5", 1.5), ("1,230.1", 1230.1), ("1,234,567", 1234567.0), ("12,345.", 12345.0), (" 0.003 ", 0.003),
    ("1,230", None), ("1,23.4", None), ("", None), (None, None), ("abc", None), ("1.230,1", None),
])
def test_parse_number_reads_grouping_only_where_it_is_unambiguous(text: str | None, value: float | None) -> None:
    assert parse_number(text) == value


def test_surefire_grouped_and_missing_times(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    durations = write(tmp_path / "durations.json", json.dumps({"format": "sharder-durations", "version": 1, "tests": {
        "com.acme.FooTest::slow": {"seconds": 1200.0, "runs": 3},
        "t.notime::a": {"seconds": 10.0, "runs": 3}}}))
    surefire = write(tmp_path / "surefire.xml", '<testsuite name="com.acme.FooTest" time="1,234.5" tests="2">'
                     '<testcase name="slow" classname="com.acme.FooTest" time="1,230.1"/>'
                     '<testcase name="fast" classname="com.acme.FooTest" time="0.003"/></testsuite>')
    notime = write(tmp_path / "notime.xml", '<testsuite name="t.notime" tests="2" time="30.5">'
                   '<testcase classname="t.notime" name="a"/><testcase classname="t.notime" name="b" time=""/>'
                   '</testsuite>')
    code, out, err = run(["record", "--from-junit", str(surefire), str(notime), "--durations", str(durations)], capsys)
    assert code == 0 and "2 test durations from 2 reports" in out
    assert "2 test cases had no usable time" in err
    tests = load_durations(durations).tests
    assert tests["t.notime::a"].seconds == 10.0 and "t.notime::b" not in tests  # no observation, no 0 s
    assert 1200.0 < tests["com.acme.FooTest::slow"].seconds <= 1230.1
    # merge still counts the untimed tests
    code, verdict = merge_json([str(notime)], capsys)
    assert code == 0 and verdict["reported"] == 2


def test_rebalance_takes_no_observation_from_a_missing_time(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    durations = write(tmp_path / "durations.json", json.dumps(
        {"format": "sharder-durations", "version": 1, "tests": {"t.m::a": {"seconds": 10.0, "runs": 3}}}))
    report = write(tmp_path / "r.xml", '<testsuite name="t" tests="2"><testcase classname="t.m" name="a"/>'
                   '<testcase classname="t.m" name="b" time="2"/></testsuite>')
    code, out, _ = run(["rebalance", str(report), "--durations", str(durations)], capsys)
    assert code == 0 and "1 test timings observed" in out
    assert load_durations(durations).tests["t.m::a"].seconds == 10.0


@pytest.mark.parametrize("command", ["merge", "record"])
def test_a_time_past_115_days_refuses_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    report = write(tmp_path / "huge.xml", '<testsuite name="s" tests="2">'
                   '<testcase classname="t.times" name="huge" time="1e308"/>'
                   '<testcase classname="t.times" name="huge2" time="1e308"/></testsuite>')
    args = [command, str(report)] if command == "merge" else [command, "--from-junit", str(report), "--durations",
                                                                 str(tmp_path / "d.json")]
    code, _, err = run(args, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "'t.times::huge'" in err and "1e308" in err
    write(report, f'<testsuite name="s" tests="1"><testcase classname="t" name="x" time="{MAX_TEST_SECONDS}"/>'
                  '</testsuite>')
    assert run(args, capsys)[0] == 0  # the limit itself is still a time


# ----------------------------------------------------------------------------- what record writes


def test_record_skips_cases_without_a_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = write(tmp_path / "empty_name.xml", '<testsuite name="s" tests="2">'
                   '<testcase classname="tests.test_a" name="test_ok" time="1"/>'
                   '<testcase time="0.5"><error message="collection failure"/></testcase></testsuite>')
    durations = tmp_path / "durations.json"
    code, _, err = run(["record", "--from-junit", str(report), "--durations", str(durations)], capsys)
    assert code == 0 and "skipped 1 test cases with no name" in err
    written = durations.read_bytes()
    code, out, _ = run(["record", "--from-junit", str(report), "--durations", str(durations)], capsys)
    assert code == 0 and "nothing changed" in out and durations.read_bytes() == written  # absorbed already
    assert list(load_durations(durations).tests) == ["tests.test_a::test_ok"]
    # merge keeps the nameless error: a collection failure must not vanish from the verdict
    code, verdict = merge_json([str(report)], capsys)
    assert code == 1 and verdict["errors"] == 1


def test_record_leaves_non_finite_properties_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = write(tmp_path / "props.xml", '<testsuite name="s" tests="2">'
                   '<testcase classname="tests.test_a" name="test_one" time="1.0"><properties>'
                   '<property name="sharder_peak_rss_mb" value="nan"/><property name="sharder_setup_seconds" '
                   'value="inf"/></properties></testcase>'
                   '<testcase classname="tests.test_a" name="test_two" time="2.0"><properties>'
                   '<property name="sharder_peak_rss_mb" value="-1"/></properties></testcase></testsuite>')
    durations = tmp_path / "durations.json"
    code, _, _ = run(["record", "--from-junit", str(report), "--durations", str(durations)], capsys)
    assert code == 0
    text = durations.read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text and "peak_rss_mb" not in text
    tests = load_durations(durations).tests
    assert tests["tests.test_a::test_one"].setup_seconds is None
    assert all(math.isfinite(t.seconds) for t in tests.values())
    code, _, _ = run(["plan", "--shards", "2", "--from-durations", "--durations", str(durations),
                      "-o", str(tmp_path / "plan.json")], capsys)
    assert code == 0


def test_record_with_nothing_to_record_exits_2_like_rebalance(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = write(tmp_path / "skips.xml", '<testsuite name="s" tests="1" skipped="1">'
                   '<testcase classname="t" name="x" time="0"><skipped/></testcase></testsuite>')
    for command in (["record", "--from-junit"], ["rebalance"]):
        code, out, err = run([*command, str(report), "--durations", str(tmp_path / "d.json")], capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1 and not out, (command, out, err)
    assert not (tmp_path / "d.json").exists()


def test_xunit1_tests_inherited_from_a_base_class_in_another_file_stay_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """pytest's xunit1 `file` is where the method is defined: both classes' inherited test said `tests/base.py`,
    became one id, and TestA's failure came out as a flaky pass (exit 0). A real pytest run writes the report."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "tests" / "base.py").write_text(
        "class Base:\n    expected = 1\n\n    def test_value(self):\n        assert self.expected == 1\n", encoding="utf-8")
    (tmp_path / "tests" / "test_inherit.py").write_text(
        "from tests.base import Base\n\n\nclass TestA(Base):\n    expected = 2\n\n\nclass TestB(Base):\n    pass\n",
        encoding="utf-8")
    ran = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:sharder", "-p", "no:randomly",
                          "-p", "no:cacheprovider", "-o", "junit_family=xunit1", "--junitxml=x.xml"],
                         cwd=tmp_path, capture_output=True, text=True, check=False)
    assert ran.returncode == 1, ran.stdout
    assert 'file="tests/base.py"' in (tmp_path / "x.xml").read_text(encoding="utf-8")  # the producer's quirk
    code, verdict = merge_json([str(tmp_path / "x.xml")], capsys)
    assert code == 1 and verdict["reported"] == 2 and verdict["failed"] == 1 and verdict["flaky"] == 0
    assert [f["nodeid"] for f in verdict["failures"]] == ["tests.test_inherit.TestA::test_value"]
    # recorded apart: TestB's pass is TestB's time, and TestA's failure is no timing of either
    assert main(["record", "--from-junit", str(tmp_path / "x.xml"), "--durations", str(tmp_path / "d.json")]) == 0
    assert list(json.loads((tmp_path / "d.json").read_text(encoding="utf-8"))["tests"]) == [
        "tests.test_inherit.TestB::test_value"]
    capsys.readouterr()
    assert main(["plan", "--shards", "2", "--durations", str(tmp_path / "d.json"), "--json", "-o",
                 str(tmp_path / "plan.json"), "--", str(tmp_path), "--rootdir", str(tmp_path), "-p", "no:randomly"]) == 0
    plan = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    assert sum(b["estimated_tests"] for b in plan["bins"]) == 1  # TestB's time is found; TestA has none


def test_a_plan_with_plain_pytest_reports_is_green_when_all_reported_and_red_when_one_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reports without sharder's shard properties were credited to no shard: every shard said 'no report' and
    the merge was red although every planned test had passed."""
    (tmp_path / "test_x.py").write_text("".join(f"def test_{n}():\n    pass\n\n\n" for n in "abcd"), encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p no:randomly -p no:cacheprovider\n", encoding="utf-8")

    def plain_run(report: str, *args: str) -> None:
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:sharder", f"--junitxml={report}", *args],
                       cwd=tmp_path, capture_output=True, check=True)

    plain_run("all.xml")
    plain_run("three.xml", "--deselect", "test_x.py::test_c")
    assert main(["plan", "--shards", "2", "-o", str(tmp_path / "plan.json"), "--", str(tmp_path),
                 "--rootdir", str(tmp_path)]) == 0
    capsys.readouterr()
    code, verdict = merge_json([str(tmp_path / "all.xml"), "--plan", str(tmp_path / "plan.json")], capsys)
    assert code == 0 and verdict["reported"] == 4 and [s["status"] for s in verdict["shards"]] == ["ok", "ok"]
    code, verdict = merge_json([str(tmp_path / "three.xml"), "--plan", str(tmp_path / "plan.json")], capsys)
    assert code == 1 and verdict["missing"] == 1
    assert [m for s in verdict["shards"] for m in s["missing"]] == ["test_x.py::test_c"]
