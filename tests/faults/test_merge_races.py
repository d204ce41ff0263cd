"""Merges that race: two at once over the same reports, one while a shard is still running, one over a report
caught half-written, and reports whose every name field points outside the output directory.

pytest writes its JUnit file in place at the end of the session, and CI artifact uploads can be cut short, so a
merge can meet a report that is only partly there. It must count that shard as one that sent nothing (and recover
what its progress log says finished), never as a complete shard with fewer tests.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.example_runs import plan_bins, planned_and_run_example, private_copy
from tests.faults.conftest import Outcome

pytestmark = pytest.mark.integration

SHARDS = 3

@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example suite planned into 3 shards and every shard run, as CI leaves it: plan.json and reports/."""
    return planned_and_run_example(tmp_path_factory.mktemp("races"), SHARDS)


@pytest.fixture
def run_copy(finished_run: Path, tmp_path: Path) -> Path:
    return private_copy(finished_run, tmp_path)


def _verdict(outcome: Outcome) -> dict[str, object]:
    assert "Traceback" not in outcome.stderr, outcome.stderr[-3000:]
    verdict: dict[str, object] = json.loads(outcome.stdout)
    return verdict


def _merge(sharder_capped: Callable[..., Outcome], root: Path, *extra: str) -> Outcome:
    return sharder_capped(["merge", "reports", "--plan", "plan.json", "--json", *extra], cwd=root)


def _tree(root: Path) -> set[str]:
    return {os.fspath(path.relative_to(root)) for path in root.rglob("*")}


def test_two_merges_at_once_agree_and_leave_one_complete_report(
    run_copy: Path, sharder_env: dict[str, str], ledger: Callable[[str, str], None]
) -> None:
    # Both write the merged report into the directory they read: each must skip the other's file, finished or not.
    argv = [sys.executable, "-m", "sharder", "merge", "reports", "--plan", "plan.json", "--json",
            "-o", "reports/merged.xml"]
    rounds = 4
    verdicts = []
    for _ in range(rounds):
        racers = [subprocess.Popen(argv, cwd=run_copy, env=sharder_env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True) for _ in range(2)]
        results = [(racer.communicate(timeout=300), racer.returncode) for racer in racers]
        for (out, err), code in results:
            assert code == 0, err
            assert "Traceback" not in err
            verdicts.append(json.loads(out))
        merged = ElementTree.parse(run_copy / "reports" / "merged.xml").getroot()
        assert len(merged.findall(".//testcase")) == sum(len(shard_bin) for shard_bin in plan_bins(run_copy))
    # Whether a racer saw the other's finished merged.xml (and said it skipped it) is the only thing that may differ.
    notes = {note for verdict in verdicts for note in verdict.pop("notes")}
    assert notes <= {"skipped reports/merged.xml: it is the output of an earlier `sharder merge`"}
    assert all(verdict == verdicts[0] for verdict in verdicts)
    assert verdicts[0]["missing"] == 0
    leftovers = sorted(name for name in os.listdir(run_copy / "reports") if name.startswith("."))
    assert leftovers == []
    ledger(f"two merges at once, {rounds} rounds, both writing reports/merged.xml",
           f"exit 0 x{2 * rounds}: identical verdicts, one complete merged.xml, no temp files left")


def test_a_merge_while_a_shard_still_runs_names_what_has_not_reported(
    run_copy: Path, sharder_env: dict[str, str], sharder_capped: Callable[..., Outcome],
    ledger: Callable[[str, str], None],
) -> None:
    last_bin = plan_bins(run_copy)[-1]
    hang_at = last_bin[len(last_bin) // 2]
    for stale in (run_copy / "reports").glob(f"shard-{SHARDS}-of-{SHARDS}.*"):
        stale.unlink()
    log = run_copy / "reports" / f"shard-{SHARDS}-of-{SHARDS}.progress.jsonl"
    shard = subprocess.Popen(
        [sys.executable, "-m", "sharder", "run", "--shard", f"{SHARDS}/{SHARDS}", "--plan", "plan.json", "--",
         "-p", "no:randomly"],
        cwd=run_copy, env={**sharder_env, "SHARDER_TEST_HANG_AT": hang_at}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        # The hanging test's own start event, not just its id: the log's header lists every planned id first, so
        # waiting for the id let the merge race the tests still finishing before it.
        started = f'"start","nodeid":{json.dumps(hang_at)}'
        while started not in (log.read_text(encoding="utf-8") if log.exists() else ""):
            assert shard.poll() is None and time.monotonic() < deadline, "the shard never reached the hanging test"
            time.sleep(0.05)
        outcome = _merge(sharder_capped, run_copy)
    finally:
        os.killpg(shard.pid, signal.SIGKILL)
        shard.wait()
    verdict = _verdict(outcome)
    assert outcome.code == 1
    # Read the log as it was left: every planned test without a "test" event there never reported.
    events = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    finished = {event["nodeid"] for event in events if event.get("event") == "test"}
    unreported = [test for test in last_bin if test not in finished]
    assert hang_at in unreported and len(finished) > 0
    shard_verdict = verdict["shards"][SHARDS - 1]  # type: ignore[index]
    assert sorted(shard_verdict["missing"]) == sorted(unreported)
    assert verdict["missing"] == len(unreported)
    assert shard_verdict["recovered"] == len(last_bin) - len(unreported)
    ledger("merge while a shard is still running (no report yet, progress log growing)",
           f"exit 1: {len(unreported)} tests named as never reported, the ones before the running test recovered")


@pytest.mark.parametrize("kept", [0.1, 0.5, 0.9, 0.999])
def test_a_report_caught_half_written_is_never_a_complete_shard(
    run_copy: Path, sharder_capped: Callable[..., Outcome], ledger: Callable[[str, str], None], kept: float
) -> None:
    report = run_copy / "reports" / "shard-2-of-3.xml"
    data = report.read_bytes()
    report.write_bytes(data[: int(len(data) * kept)])
    outcome = _merge(sharder_capped, run_copy)
    verdict = _verdict(outcome)
    assert outcome.code == 1
    shard = verdict["shards"][1]  # type: ignore[index]
    assert shard["status"] == "report unreadable"
    ledger(f"merge over a report cut at {kept:.1%} of its bytes (still being written)",
           f"exit 1: shard 2 '{shard['status']}', {shard['recovered']} tests recovered from its progress log")


def _hostile_names(report: Path) -> None:
    """Every name a report carries, pointing up and out: suite, classname, file, test name, the sharder ids."""
    text = report.read_text(encoding="utf-8")
    root = ElementTree.fromstring(text)
    for suite in root.iter("testsuite"):
        suite.set("name", "../../../escaped")
        suite.set("file", "/tmp/../../etc/passwd")
    for case in root.iter("testcase"):
        case.set("file", "../../../outside.py")
    report.write_text(ElementTree.tostring(root, encoding="unicode"), encoding="utf-8")


@pytest.fixture
def hostile_run(run_copy: Path) -> Iterator[Path]:
    _hostile_names(run_copy / "reports" / "shard-1-of-3.xml")
    foreign = run_copy / "reports" / "..foreign.xml"
    foreign.write_text(
        '<testsuite name="../../up"><testcase classname="../../a/../../b" name="../../../c" time="0.1"/>'
        '<testcase classname="/etc/passwd" name="x::../y" time="0.1"/></testsuite>', encoding="utf-8")
    log = run_copy / "reports" / "shard-2-of-3.progress.jsonl"
    lines = log.read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    header["report"] = "../../../../escaped.xml"
    log.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n", encoding="utf-8")
    yield run_copy


def test_names_with_dot_dot_never_write_outside_the_output_directory(
    hostile_run: Path, sharder_capped: Callable[..., Outcome], ledger: Callable[[str, str], None]
) -> None:
    sandbox = hostile_run.parent
    before = _tree(sandbox)
    (hostile_run / "out").mkdir()
    outcome = _merge(sharder_capped, hostile_run, "-o", "out/merged.xml", "--markdown", "out/summary.md")
    verdict = _verdict(outcome)
    # The foreign cases are not in the plan: that is a red verdict, not a crash and not a write elsewhere.
    assert outcome.code == 1
    assert verdict["missing"] == 0
    created = _tree(sandbox) - before
    assert created == {"run/out", "run/out/merged.xml", "run/out/summary.md"}
    merged = (hostile_run / "out" / "merged.xml").read_text(encoding="utf-8")
    assert "../../../c" in merged  # kept as data, as the runner wrote it
    ledger("report names, classnames, file attributes and log header with ../ and absolute paths",
           "exit 1 (foreign tests not in the plan): only out/merged.xml and out/summary.md written")
