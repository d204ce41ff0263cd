"""The progress log the plugin writes while a shard runs, and its reader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sharder.core.errors import SharderError
from sharder.core.progress_log import append_outside, costs_written_at, read_progress_log
from sharder.reports.junit import read_report

SUITE = {
    "conftest.py": """
import pytest

@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if item.name == "test_heavy":
        item.user_properties.append(("sharder_peak_rss_mb", 212.5))
""",
    "test_mixed.py": """
import pytest

@pytest.fixture
def broken():
    raise RuntimeError("fixture exploded")

def test_passes():
    pass

def test_fails():
    assert 1 == 2, "one is not two"

def test_setup_error(broken):
    pass

@pytest.mark.skip(reason="not today")
def test_skipped():
    pass

@pytest.mark.xfail(reason="known bug")
def test_xfail():
    assert False

def test_heavy():
    pass

@pytest.mark.parametrize("odd", ["a::b", "ünï"])
def test_odd(odd):
    pass
""",
}


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(**{name[:-3]: text for name, text in SUITE.items()})
    return pytester


def test_a_shard_logs_its_header_and_every_finished_test(suite: pytest.Pytester) -> None:
    report = suite.path / "reports" / "shard-1-of-1.xml"
    result = suite.runpytest_subprocess("--shard=1/1", f"--junitxml={report}", "-p", "no:randomly")
    assert result.ret == 1
    log = read_progress_log(suite.path / "reports" / "shard-1-of-1.progress.jsonl")
    junit = read_report(report)
    assert log.shard is not None and str(log.shard) == "1/1"
    assert log.plan_id == junit.suite_properties["sharder_plan_id"] and log.plan_sizes == (8,)
    assert log.order == [case.node_id for case in junit.cases]  # run order, which the replay relies on
    assert log.report_name == "shard-1-of-1.xml" and log.finished and log.exitstatus == 1
    outcomes = {test.node_id.partition("::")[2]: test.outcome for test in log.tests}
    assert outcomes == {
        "test_passes": "passed", "test_fails": "failed", "test_setup_error": "error", "test_skipped": "skipped",
        "test_xfail": "skipped", "test_heavy": "passed", "test_odd[a::b]": "passed",
        "test_odd[\\xfcn\\xef]": "passed",  # pytest escapes non-ASCII parameter ids
    }
    by_name = {test.node_id.partition("::")[2]: test for test in log.tests}
    assert "one is not two" in by_name["test_fails"].message
    assert "fixture exploded" in by_name["test_setup_error"].message
    assert by_name["test_heavy"].peak_rss_mb == 212.5 and by_name["test_passes"].peak_rss_mb is None
    assert [test.index for test in log.tests] == list(range(1, 9))
    assert all(test.setup_seconds is not None and test.seconds >= test.setup_seconds for test in log.tests)
    assert log.started == log.order and log.running_when_stopped is None
    # the clock the HTML timeline draws by: the session's start, each test's start and end, the session's end
    assert log.started_at is not None and log.finished_at is not None
    previous_end = log.started_at
    for test in log.tests:
        assert test.started_at is not None and test.ended_at is not None
        assert previous_end <= test.started_at <= test.ended_at <= log.finished_at
        assert test.ended_at - test.started_at >= test.seconds - 0.01  # the phases fit between start and end
        previous_end = test.ended_at


def test_the_log_path_can_be_given_without_a_junit_report(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess("--sharder-progress-log=out/custom.jsonl", "-p", "no:randomly")
    assert result.ret == 1
    log = read_progress_log(suite.path / "out" / "custom.jsonl")
    assert log.shard is None and log.plan_id is None and log.report_name is None
    assert len(log.tests) == 8 and log.finished


def test_a_plain_junit_run_gets_no_log_beside_its_report(suite: pytest.Pytester) -> None:
    # installing sharder switches nothing on: no shard, no replay, no --sharder-progress-log, no side file
    result = suite.runpytest_subprocess("--junitxml=plain.xml", "-p", "no:randomly")
    assert result.ret == 1 and (suite.path / "plain.xml").is_file()
    assert not list(suite.path.glob("*.jsonl"))


def test_under_xdist_the_controller_writes_the_log_and_the_plan_identity(suite: pytest.Pytester) -> None:
    report = suite.path / "shard.xml"
    result = suite.runpytest_subprocess("--shard=1/2", f"--junitxml={report}", "-n", "2", "-p", "no:randomly")
    assert result.ret == 1
    log = read_progress_log(suite.path / "shard.progress.jsonl")
    junit = read_report(report)
    assert sorted(t.node_id for t in log.tests) == sorted(c.node_id for c in junit.cases) == sorted(log.order)
    assert str(log.shard) == "1/2" and log.finished
    assert junit.suite_properties["sharder_shard"] == "1/2"
    assert len(junit.suite_properties["sharder_plan_id"]) == 16  # sent by the workers, recorded by the controller


def test_the_reader_survives_what_a_kill_leaves(tmp_path: Path) -> None:
    header = {"event": "session", "format": 1, "shard": "2/4", "plan_id": "abc", "plan_sizes": [1, 2, 1, 1],
              "order": ["t.py::a", "t.py::b"], "randomly_seed": 7}
    lines = [json.dumps(header), json.dumps({"event": "start", "nodeid": "t.py::a"}),
             json.dumps({"event": "test", "nodeid": "t.py::a", "outcome": "passed", "seconds": 0.5, "shard": "2/4"}),
             json.dumps({"event": "start", "nodeid": "t.py::b"}), '{"event": "test", "nodeid": "t.py::b", "outc']
    path = tmp_path / "shard.progress.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    log = read_progress_log(path)
    assert [t.node_id for t in log.tests] == ["t.py::a"] and log.bad_lines == 1
    assert log.running_when_stopped == "t.py::b" and not log.finished and log.randomly_seed == 7
    path.write_text('{"event": "test", "nodeid": "x"}\n', encoding="utf-8")
    with pytest.raises(SharderError, match="has no session header"):
        read_progress_log(path)


def test_the_log_and_the_report_name_one_run_and_the_users_own_arguments(suite: pytest.Pytester) -> None:
    report = suite.path / "reports" / "shard-1-of-1.xml"
    first = suite.runpytest_subprocess("--shard=1/1", f"--junitxml={report}", "-k", "not fails", "-p", "no:randomly")
    assert first.ret == 1
    log = read_progress_log(suite.path / "reports" / "shard-1-of-1.progress.jsonl")
    junit = read_report(report)
    assert log.run_id is not None and junit.suite_properties["sharder_run_id"] == log.run_id
    # sharder's own options and the report's are not the user's: a replay adds its own (pytester adds --basetemp)
    assert log.pytest_args is not None and log.pytest_args[0].startswith("--basetemp=")
    assert log.pytest_args[1:] == ("-k", "not fails", "-p", "no:randomly")
    assert json.loads(junit.suite_properties["sharder_pytest_args"]) == list(log.pytest_args)
    given = suite.runpytest_subprocess("--shard=1/1", f"--junitxml={report}", "--sharder-run-id=run-42",
                                       '--sharder-pytest-args=["--pyargs", "pkg"]', "-p", "no:randomly")
    assert given.ret == 1
    log = read_progress_log(suite.path / "reports" / "shard-1-of-1.progress.jsonl")
    assert log.run_id == "run-42" == read_report(report).suite_properties["sharder_run_id"]
    assert log.pytest_args == ("--pyargs", "pkg")
    bad = suite.runpytest_subprocess("--shard=1/1", "--sharder-pytest-args=-k typo")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*--sharder-pytest-args: expected a JSON list of strings, got '-k typo'*"])


FINISH_BEFORE_REPORT = """
import json, pathlib, pytest

@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session):
    # runs after sharder's tryfirst hook (registered later, called first) and before pytest's JUnit writer
    log = pathlib.Path("shard.progress.jsonl").read_text().splitlines()
    pathlib.Path("seen.json").write_text(json.dumps(
        {"last": json.loads(log[-1])["event"], "report": pathlib.Path("shard.xml").exists()}))
"""


def test_the_finish_line_is_written_before_the_junit_report(pytester: pytest.Pytester) -> None:
    """So a report beside a log that did not finish cannot be that session's (the merge sets it aside)."""
    pytester.makeconftest(FINISH_BEFORE_REPORT)
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    result = pytester.runpytest_subprocess("--shard=1/1", "--junitxml=shard.xml", "-p", "no:randomly")
    assert result.ret == 0
    assert json.loads((pytester.path / "seen.json").read_text()) == {"last": "finish", "report": False}
    assert (pytester.path / "shard.xml").is_file()


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["one process", "xdist workers"])
def test_a_shard_that_refuses_a_stale_plan_logs_the_error_and_runs_nothing(
    suite: pytest.Pytester, xdist: list[str],
) -> None:
    from sharder.cli import main

    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(suite.path)
        assert main(["plan", "--shards", "2", "-o", "plan.json", "--", "-p", "no:randomly"]) == 0
    (suite.path / "test_new.py").write_text("def test_new():\n    pass\n")
    result = suite.runpytest_subprocess("--shard=2/2", "--sharder-plan=plan.json", "--junitxml=reports/shard.xml",
                                        "-p", "no:randomly", *xdist)
    assert result.ret != 0
    log = read_progress_log(suite.path / "reports" / "shard.progress.jsonl")
    assert log.error is not None and "does not match this test suite: 1 collected tests are not in the plan" in log.error
    assert str(log.shard) == "2/2" and log.plan_id is not None and log.plan_sizes is not None
    if not xdist:
        assert log.order == []  # not the unselected collection


def test_the_reader_takes_the_run_facts_and_an_error_record(tmp_path: Path) -> None:
    from sharder.core.progress_log import error_log_bytes

    path = tmp_path / "shard-1-of-2.progress.jsonl"
    path.write_bytes(error_log_bytes({"shard": "1/2", "run_id": "abc", "pytest_args": ["-k", "x"]}, "bad plan"))
    log = read_progress_log(path)
    assert (log.run_id, log.pytest_args, log.error, log.order, log.finished) == ("abc", ("-k", "x"), "bad plan", [],
                                                                                  False)
    assert log.running_when_stopped is None
    header = {"event": "session", "format": 1, "run_id": 7, "pytest_args": ["-k", 3], "all_deselected": True}
    path.write_text(json.dumps(header) + "\n", encoding="utf-8")
    log = read_progress_log(path)
    assert (log.run_id, log.pytest_args, log.all_deselected, log.error) == (None, None, None, None)
# --- the `cancelled` record sharder appends after a CI cancel ------------------------------------------------

def _header(shard: str = "2/3") -> str:
    return json.dumps({"event": "session", "format": 1, "shard": shard, "order": ["t.py::a", "t.py::b"]}) + "\n"


def test_a_cancel_record_after_the_session_marks_the_log_cancelled(tmp_path: Path) -> None:
    from sharder.core.progress_log import append_cancelled
    from sharder.core.shardspec import parse_shard

    path = tmp_path / "shard-2-of-3.progress.jsonl"
    path.write_text(_header() + '{"event": "start", "nodeid": "t.py::a"}\n')
    append_cancelled(path, signal_name="SIGTERM", shard=parse_shard("2/3"), by="sharder run")
    log = read_progress_log(path)
    assert log.cancelled_by == "SIGTERM" and log.shard == parse_shard("2/3")
    assert log.running_when_stopped == "t.py::a" and log.bad_lines == 0
    assert json.loads(path.read_text().splitlines()[-1])["by"] == "sharder run"


def test_a_log_that_is_only_a_cancel_record_is_the_shard_it_names(tmp_path: Path) -> None:
    """Cancelled before pytest wrote its header: the record alone says whose log it is."""
    from sharder.core.progress_log import append_cancelled
    from sharder.core.shardspec import parse_shard

    path = tmp_path / "reports" / "shard-1-of-2.progress.jsonl"
    append_cancelled(path, signal_name="SIGHUP", shard=parse_shard("1/2"), by="sharder local")
    log = read_progress_log(path)
    assert (log.cancelled_by, log.shard, log.order, log.finished) == ("SIGHUP", parse_shard("1/2"), [], False)


def test_a_line_cut_by_the_kill_stays_a_bad_line_and_the_record_its_own(tmp_path: Path) -> None:
    from sharder.core.progress_log import append_cancelled

    path = tmp_path / "p.progress.jsonl"
    path.write_text(_header() + '{"event": "test", "nodeid": "t.py::a", "outc')
    append_cancelled(path, signal_name="SIGINT", shard=None, by="sharder run")
    log = read_progress_log(path)
    assert log.cancelled_by == "SIGINT" and log.bad_lines == 1


def test_a_new_session_after_a_cancel_is_a_new_run(tmp_path: Path) -> None:
    path = tmp_path / "p.progress.jsonl"
    path.write_text(json.dumps({"event": "cancelled", "signal": "SIGTERM", "shard": "2/3"}) + "\n" + _header())
    assert read_progress_log(path).cancelled_by is None


def test_the_outside_event_joins_the_sessions_timeline_and_the_costs_line_is_found_from_the_end(
    tmp_path: Path,
) -> None:
    """`sharder run` appends `outside` once pytest exited; it reads the `costs` line's `at` from the log's end,
    a line longer than one read block included (the `files` map of a suite of thousands of files)."""
    files = {f"tests/test_{index:05d}_{'x' * 40}.py": 0.01 for index in range(3000)}
    timeline = {"startup_seconds": 0.5, "collection_seconds": 1.0, "session_setup_seconds": 0.0,
                "tests_span_seconds": 1.0, "tests_seconds": 1.0, "teardown_seconds": 0.1, "wall_seconds": 2.6,
                "tests": 1, "files": files}
    path = tmp_path / "shard.progress.jsonl"
    header = {"event": "session", "format": 1, "shard": "1/2", "order": ["t.py::a"]}
    costs = json.dumps({"event": "costs", "timeline": timeline, "at": 1700000000.25})
    assert len(costs) > 1 << 17
    path.write_text(json.dumps(header) + "\n" + json.dumps({"event": "finish", "exitstatus": 0}) + "\n" + costs + "\n")
    assert costs_written_at(path) == 1700000000.25
    assert read_progress_log(path).timeline.outside_seconds is None  # type: ignore[union-attr]
    append_outside(path, 0.75, before=0.5, by="sharder run")
    assert costs_written_at(path) is None  # the last line is no longer the session's own
    log = read_progress_log(path)
    assert log.timeline is not None and log.timeline.outside_seconds == 0.75 and log.bad_lines == 0
    assert (log.outside_seconds, log.outside_before_seconds) == (0.75, 0.5)
    assert log.timeline.job_seconds == pytest.approx(2.6 + 0.75)
    with open(path, "a") as broken:
        broken.write(json.dumps({"event": "outside", "seconds": "soon"}) + "\n")
    assert read_progress_log(path).bad_lines == 1
    path.write_text(json.dumps(header) + "\n" + json.dumps({"event": "costs", "timeline": timeline}) + "\n")
    assert costs_written_at(path) is None  # written before `at` existed: nothing to measure from
