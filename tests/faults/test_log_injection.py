"""Workflow commands smuggled into a CI log through test-derived text, through the real CLI.

GitHub's runner reads every line of a step's stdout and stderr and acts on it as a command when, after leading
whitespace is trimmed, it starts with `::name` and holds a second `::`, or, failing that, when it holds `##[name]`
anywhere (the legacy syntax); it splits lines at CR as well as LF. A report job runs `sharder merge` over reports
that any test of the suite could shape: its failure message, its name, its report's file name. Each attack below
puts commands there (`::add-mask::` hides words of the rest of the log, `::stop-commands::` switches sharder's own
annotations off, `::error file=…::` forges annotations) and reads what sharder printed the way the runner does.
The only commands it may find are sharder's own: one `::error` per failure, and stop-commands blocks it opened and
closed with a token of its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest

from tests.faults.conftest import Outcome, assert_clean_refusal
from tests.faults.github_runner import foreign_commands, runner_commands

pytestmark = pytest.mark.integration


def test_the_parser_sees_what_the_runner_would() -> None:
    """The parser itself must catch each attack when printed raw, or the tests below could not fail."""
    raw = "text\n    ::add-mask::secret\nx ##[error]legacy\r::error file=a.py::spoof\n"
    assert [c.name for c in runner_commands(raw)[0]] == ["add-mask", "error", "error"]
    stopped = "::stop-commands::abc\n::add-mask::hidden\n::ABC::\n::add-mask::seen"
    assert [c.name for c in runner_commands(stopped)[0]] == ["stop-commands", "ABC", "add-mask"]
    assert runner_commands("::stop-commands::t\n##[add-mask]x\n")[1] == "t"


# ---------------------------------------------------------------------------------------------- hostile reports

HOSTILE_MESSAGE = "\n".join([
    "AssertionError: see below",
    "    ::add-mask::secret",
    "  ::stop-commands::x",
    "::error file=a.py::spoof",
    "##[error]x and ##[add-mask]secret2",
])
# name -> (testcase name, how sharder must show it: one line, visible escapes)
HOSTILE_NAMES = {
    "CR": ("test_cr\r::add-mask::word", "test_cr\\r::add-mask::word"),
    "LF": ("test_lf\n::error file=b.py::forged", "test_lf\\n::error file=b.py::forged"),
    "CRLF": ("test_crlf\r\n  ::stop-commands::y", "test_crlf\\r\\n  ::stop-commands::y"),
    "legacy ##[": ("test_legacy[##[add-mask]z]", None),
    "NEL": ("test_nel\x85::add-mask::nel", "test_nel\\x85::add-mask::nel"),
    "U+2028": ("test_ls\u2028::add-mask::ls", "test_ls\\u2028::add-mask::ls"),
}
SPOOFED_FILES = {"a.py", "b.py"}
TEST_FILE = "tests/test_hostile.py"
# A report's file name reaches the log too (the reason it could not be read): Linux allows `##[` and LF in one.
UNREADABLE_NAME = "shard ##[add-mask]fname\n::add-mask::fname2.xml"


def _hostile_report() -> str:
    cases = [f'<testcase classname="tests.test_hostile" name={quoteattr(name)} file="{TEST_FILE}" time="1">'
             f'<failure message={quoteattr("failed: " + label)}/></testcase>'
             for label, (name, _) in HOSTILE_NAMES.items()]
    cases.append(f'<testcase classname="tests.test_hostile" name="test_message" file="{TEST_FILE}" time="1">'
                 f'<failure message={quoteattr(HOSTILE_MESSAGE)}/></testcase>')
    cases.append(f'<testcase classname="tests.test_hostile" name="test_body" file="{TEST_FILE}" time="1">'
                 f'<error>{HOSTILE_MESSAGE.replace("<", "&lt;")}</error></testcase>')
    body = "".join(cases)
    return f'<testsuite name="s" tests="{len(cases)}" failures="{len(cases) - 1}" errors="1">{body}</testsuite>'


FAILURES = len(HOSTILE_NAMES) + 2


@pytest.fixture
def hostile_reports(tmp_path: Path) -> Path:
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "hostile.xml").write_text(_hostile_report(), encoding="utf-8")
    (reports / UNREADABLE_NAME).write_text(_hostile_report()[:-40], encoding="utf-8")  # truncated: unreadable
    return tmp_path


def _assert_only_sharders_commands(log: str) -> None:
    assert foreign_commands(log) == []
    acted, _ = runner_commands(log)
    errors = [command for command in acted if command.name == "error"]
    assert len(errors) == FAILURES, [c.line for c in errors]
    assert {command.properties.get("file") for command in errors} == {TEST_FILE}
    assert not SPOOFED_FILES & {command.properties.get("file") for command in errors}


def _assert_ids_on_one_line(log: str) -> None:
    for raw, shown in HOSTILE_NAMES.values():
        if shown is not None:
            assert raw not in log
            assert shown in log, shown
    assert "fname\n" not in log


def test_merge_under_github_actions_honours_only_its_own_commands(
    hostile_reports: Path, sharder_capped: Callable[..., Outcome], ledger: Callable[[str, str], None]
) -> None:
    outcome = sharder_capped(["merge", "reports"], cwd=hostile_reports, GITHUB_ACTIONS="true")
    assert outcome.code == 1, outcome.stderr[-2000:]
    assert "Traceback" not in outcome.stderr
    _assert_only_sharders_commands(outcome.stdout)
    _assert_ids_on_one_line(outcome.stdout)
    assert "sharder merge: FAILED" in outcome.stdout
    acted, _ = runner_commands(outcome.stdout)
    stops = sum(1 for command in acted if command.name == "stop-commands")
    ledger("merge under GITHUB_ACTIONS: failure messages with indented ::add-mask::, ::stop-commands::, "
           "::error file=a.py::, ##[error]; ids with CR, LF, CRLF, NEL, U+2028, ##[add-mask]; a report named "
           "with ##[ and LF", f"exit {outcome.code}: acted on only its own {FAILURES} ::error and {stops} "
           "stop-commands block (its own token, closed); every id on one line")


def test_merge_json_under_github_actions_keeps_stdout_pure_and_inert(
    hostile_reports: Path, sharder_capped: Callable[..., Outcome], ledger: Callable[[str, str], None]
) -> None:
    outcome = sharder_capped(["merge", "reports", "--json"], cwd=hostile_reports, GITHUB_ACTIONS="true")
    assert outcome.code == 1, outcome.stderr[-2000:]
    _assert_only_sharders_commands(outcome.stderr)
    _assert_ids_on_one_line(outcome.stderr)
    assert runner_commands(outcome.stdout)[0] == []
    assert len(outcome.stdout.splitlines()) == 1
    verdict = json.loads(outcome.stdout)  # the annotations went to stderr, beside the text they belong with
    assert HOSTILE_MESSAGE in [failure["message"] for failure in verdict["failures"]]  # the data is intact
    names = {failure["nodeid"].split("::", 1)[1] for failure in verdict["failures"]}
    assert {raw for raw, _ in HOSTILE_NAMES.values()} <= names
    ledger("merge --json under GITHUB_ACTIONS, the same hostile reports",
           f"exit {outcome.code}: stdout one JSON line, no command in it, data intact; annotations and text on stderr")


def test_merge_outside_github_actions_prints_no_command_at_all(
    hostile_reports: Path, sharder_capped: Callable[..., Outcome], ledger: Callable[[str, str], None]
) -> None:
    """Without the runner's stop-commands the text must be inert by itself: a log shipped to another CI, or a
    self-hosted runner that forgot GITHUB_ACTIONS, sees no command either."""
    outcome = sharder_capped(["merge", "reports"], cwd=hostile_reports)
    assert outcome.code == 1, outcome.stderr[-2000:]
    acted, _ = runner_commands(outcome.stdout + outcome.stderr)
    assert acted == [], [c.line for c in acted]
    _assert_ids_on_one_line(outcome.stdout)
    ledger("merge without GITHUB_ACTIONS, the same hostile reports", f"exit {outcome.code}: no command in its output")


# ---------------------------------------------------------------------------------------------- plan and replay


@pytest.fixture
def hostile_plan(tmp_path: Path, sharder_capped: Callable[..., Outcome]) -> tuple[Path, Outcome]:
    """A durations file whose heaviest tests carry commands in their ids, planned into plan.json."""
    tests = {
        "tests/test_a.py::test_one[\n::add-mask::secret]": {"seconds": 3.0, "runs": 1, "peak_rss_mb": 900.0},
        "tests/test_a.py::test_one[\r::error file=a.py::spoof]": {"seconds": 2.0, "runs": 1},
        "tests/test_a.py::test_two[##[add-mask]word]": {"seconds": 2.5, "runs": 1, "peak_rss_mb": 800.0},
    }
    (tmp_path / "durations.json").write_text(json.dumps(
        {"format": "sharder-durations", "version": 1, "tests": tests}), encoding="utf-8")
    planned = sharder_capped(["plan", "--from-durations", "--shards", "2", "-o", "plan.json"], cwd=tmp_path,
                             GITHUB_ACTIONS="true")
    assert planned.code == 0, planned.stderr
    return tmp_path, planned


def test_plan_and_matrix_print_hostile_ids_inert(
    hostile_plan: tuple[Path, Outcome], sharder_capped: Callable[..., Outcome], ledger: Callable[[str, str], None]
) -> None:
    """`plan` names each shard's heaviest test, `matrix --target` the tests too long for the target: both run in a
    CI job, both in a table and as --json."""
    root, planned = hostile_plan
    assert runner_commands(planned.stdout + planned.stderr)[0] == []
    assert "test_one[\\n::add-mask::secret]" in planned.stdout
    as_json = sharder_capped(["plan", "--from-durations", "--shards", "2", "-o", "plan.json", "--json"], cwd=root,
                             GITHUB_ACTIONS="true")
    assert as_json.code == 0, as_json.stderr
    assert runner_commands(as_json.stdout + as_json.stderr)[0] == []
    heaviest = {b["heaviest_test"]["id"] for b in json.loads(as_json.stdout)["bins"] if "heaviest_test" in b}
    assert "tests/test_a.py::test_two[##[add-mask]word]" in heaviest
    matrix = sharder_capped(["matrix", "--target", "1s", "--from-durations", "--json"], cwd=root,
                            GITHUB_ACTIONS="true")
    assert matrix.code == 0, matrix.stderr
    assert runner_commands(matrix.stdout + matrix.stderr)[0] == []
    assert "test_one[\\n::add-mask::secret]" in matrix.stderr
    blockers = {blocker["nodeid"] for blocker in json.loads(matrix.stdout)["blockers"]}
    assert "tests/test_a.py::test_two[##[add-mask]word]" in blockers
    ledger("plan and matrix --target (tables and --json) over a durations file whose slowest and heaviest ids hold "
           "LF ::add-mask:: and ##[add-mask]", "exit 0: no command in their output, ids shown on one line")


def test_an_error_quoting_hostile_ids_is_one_inert_line(
    hostile_plan: tuple[Path, Outcome], sharder_capped: Callable[..., Outcome], ledger: Callable[[str, str], None]
) -> None:
    """`replay --until` with an ambiguous name: the error lists the ids it matched, at the CLI edge."""
    root, _ = hostile_plan
    outcome = sharder_capped(["replay", "--plan", "plan.json", "--shard", "1/2", "--until", "tests/test_a.py::"
                              "test_one"], cwd=root, GITHUB_ACTIONS="true")
    assert_clean_refusal(outcome)
    assert runner_commands(outcome.stdout + outcome.stderr)[0] == []
    assert re.search(r"did you mean .*test_one\[\\n::add-mask::secret\]", outcome.stderr), outcome.stderr
    ledger("replay --until near ids holding LF ::add-mask:: and CR ::error:: (the error names them)",
           outcome.observed)
