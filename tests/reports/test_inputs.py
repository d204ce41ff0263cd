"""Which files a merge believes: a report counts for its shard only beside a progress log of the same run that
finished (`sharder.reports.inputs`). Real shard runs of the example suite, their files then edited as an earlier
run, a kill or an older sharder would leave them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sharder.core.junit_names import PYTEST_ARGS_PROPERTY, RUN_ID_PROPERTY
from sharder.core.progress_log import read_progress_log
from sharder.reports.inputs import collect, resolve_identity
from sharder.reports.junit import read_report
from sharder.reports.verdict import judge
from tests.example_runs import planned_and_run_example, private_copy

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def example_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return planned_and_run_example(tmp_path_factory.mktemp("inputs"), 2)


@pytest.fixture
def reports(example_run: Path, tmp_path: Path) -> Path:
    return private_copy(example_run, tmp_path) / "reports"


def _lines(path: Path) -> list[dict[str, object]]:
    """The log's events without its `costs` line (written at unconfigure, after `finish`) and the `outside` line
    `sharder run` appends once pytest exited: these tests cut the log where a dying session would have stopped
    writing, and a session that died wrote no costs, so no time outside it was measured either."""
    return [event for line in path.read_text(encoding="utf-8").splitlines()
            if (event := json.loads(line)).get("event") not in ("costs", "outside")]


def _rewrite(path: Path, events: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(event) + "\n" for event in events), encoding="utf-8")


def _status(reports: Path, shard: int) -> tuple[str, int, list[str]]:
    inputs = collect([reports])
    result = judge(inputs, resolve_identity(inputs, None))
    found = result.shards[shard - 1]
    return found.status, len(inputs.reports), [item.reason for item in inputs.stale]


def test_a_report_and_its_log_carry_the_same_run_identity_and_the_users_arguments(reports: Path) -> None:
    report = read_report(reports / "shard-1-of-2.xml")
    log = read_progress_log(reports / "shard-1-of-2.progress.jsonl")
    assert log.run_id is not None and len(log.run_id) == 32
    assert report.suite_properties[RUN_ID_PROPERTY] == log.run_id
    assert log.run_id != read_progress_log(reports / "shard-2-of-2.progress.jsonl").run_id  # one per run
    assert json.loads(report.suite_properties[PYTEST_ARGS_PROPERTY]) == ["-p", "no:randomly"]
    assert log.pytest_args == ("-p", "no:randomly")
    assert _status(reports, 1) == ("ok", 2, [])


def test_a_report_beside_a_log_of_another_run_is_set_aside(reports: Path) -> None:
    path = reports / "shard-1-of-2.progress.jsonl"
    events = _lines(path)
    events[0]["run_id"] = "0" * 32  # the log of a later run that finished, its own report lost
    _rewrite(path, events)
    status, readable, stale = _status(reports, 1)
    assert (status, readable) == ("stale report", 1)
    assert len(stale) == 1 and stale[0].startswith(f"{reports / 'shard-1-of-2.xml'}: written by run ")
    assert "a report an earlier run left behind" in stale[0]
    assert f"its progress log shard-1-of-2.progress.jsonl by run {'0' * 32}" in stale[0]


def test_a_report_beside_a_log_that_did_not_finish_is_set_aside(reports: Path) -> None:
    path = reports / "shard-2-of-2.progress.jsonl"
    events = _lines(path)
    assert events[-1]["event"] == "finish"
    _rewrite(path, events[:-2])  # the run died in its last test: its start line is there, its result is not
    status, readable, stale = _status(reports, 2)
    assert (status, readable) == ("died", 1)
    assert len(stale) == 1 and "did not finish (the run stopped while tests/" in stale[0]


def test_an_older_pair_without_run_identities_is_still_believed_when_its_log_finished(reports: Path) -> None:
    path = reports / "shard-1-of-2.progress.jsonl"
    events = _lines(path)
    del events[0]["run_id"]
    _rewrite(path, events)
    report = reports / "shard-1-of-2.xml"
    text = report.read_text(encoding="utf-8")
    run_id = read_report(report).suite_properties[RUN_ID_PROPERTY]
    report.write_text(text.replace(f'<property name="{RUN_ID_PROPERTY}" value="{run_id}" />', ""), encoding="utf-8")
    assert RUN_ID_PROPERTY not in read_report(report).suite_properties
    assert _status(reports, 1) == ("ok", 2, [])
    _rewrite(path, events[:-1])  # and without its finish line, nothing says the report is that run's
    assert _status(reports, 1)[0] == "died"


def test_a_report_without_its_log_is_judged_alone(reports: Path) -> None:
    (reports / "shard-1-of-2.progress.jsonl").unlink()
    assert _status(reports, 1) == ("ok", 2, [])
