"""`sharder merge` on real shard runs of the example suite, and on broken or hostile input.

The shards run once per module (real `sharder plan` + `sharder run` subprocesses); each test works on its own copy
of the reports, deleting, killing or rerunning as its scenario needs.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sharder.cli import main
from tests.conftest import EXAMPLE_TIME_SCALE
from tests.example_runs import plan_bins, planned_and_run_example, private_copy


@pytest.fixture(scope="module")
def example_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example suite planned into 3 shards, every shard run: reports/ and plan.json, as CI leaves them."""
    return planned_and_run_example(tmp_path_factory.mktemp("merge"), 3)


@pytest.fixture
def run_dir(example_run: Path, tmp_path: Path) -> Path:
    """A private copy of the module's run, free to be damaged."""
    return private_copy(example_run, tmp_path)


def merge(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["merge", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def merge_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code, out, err = merge([*args, "--json"], capsys)
    assert "Traceback" not in err
    return code, json.loads(out)


@pytest.fixture
def in_dir(run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(run_dir)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    yield run_dir


# ------------------------------------------------------------------------------------------- real shard runs


def test_all_shards_merge_green_with_the_right_totals(in_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = merge(["reports", "-o", "merged.xml", "--markdown", "summary.md"], capsys)
    assert code == 0, out
    assert "sharder merge: OK: 35 of 35 planned tests reported, 0 failed, 0 missing" in out
    # In the plan's words (README: imbalance): percent over, here over the measured mean shard.
    assert re.search(r"^imbalance \d+\.\d\d% over the mean shard \(slowest shard [\d.]+ s, mean [\d.]+ s\)$",
                     out, re.MULTILINE), out
    bins = plan_bins(in_dir)
    for index, tests in enumerate(bins, start=1):
        assert any(line.startswith(f"{index}/3") and f" {len(tests)} " in line and line.endswith("ok")
                   for line in out.splitlines()), out
    root = ElementTree.parse(in_dir / "merged.xml").getroot()
    assert root.get("tests") == "35" and root.get("failures") == "0"
    shard_of = {
        case.find("properties/property[@name='sharder_nodeid']").get("value"):  # type: ignore[union-attr]
        case.find("properties/property[@name='sharder_shard']").get("value")  # type: ignore[union-attr]
        for case in root.iter("testcase")
    }
    assert shard_of == {t: f"{i}/3" for i, tests in enumerate(bins, start=1) for t in tests}
    summary = (in_dir / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith("## sharder: ✅ 35 of 35 planned tests reported")
    assert "### 10 slowest tests" in summary


def test_merge_of_its_own_output_directory_skips_the_merged_report(
    in_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert merge(["reports", "-o", "reports/merged.xml"], capsys)[0] == 0
    code, out, _ = merge(["reports"], capsys)
    assert code == 0
    assert "skipped reports/merged.xml: it is the output of an earlier `sharder merge`" in out


def test_a_deleted_report_names_exactly_that_shards_tests(in_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (in_dir / "reports" / "shard-2-of-3.xml").unlink()
    (in_dir / "reports" / "shard-2-of-3.progress.jsonl").unlink()
    code, verdict = merge_json(["reports", "--plan", "plan.json", "-o", "merged.xml"], capsys)
    assert code == 1 and verdict["exit_code"] == 1
    second = plan_bins(in_dir)[1]
    assert verdict["shards"][1]["status"] == "no report"
    assert verdict["shards"][1]["missing"] == second
    assert [s["missing"] for s in verdict["shards"][::2]] == [[], []]
    assert verdict["missing"] == len(second)
    never = [c for c in ElementTree.parse(in_dir / "merged.xml").getroot().iter("testcase")
             if c.find("error[@type='sharder.never_reported']") is not None]
    assert len(never) == len(second)  # the merged XML is red too, one error case per missing test
    # Without the plan file: the shard is still noticed (the reports carry every shard's size), its tests counted.
    code, out, _ = merge(["reports"], capsys)
    assert code == 1
    assert f"shard 2/3: no report; {len(second)} planned tests never reported" in out
    assert "pass --plan to list them" in out


def test_a_shard_killed_with_sigkill_is_recovered_from_its_progress_log(
    in_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = in_dir / "reports"
    for stale in reports.glob("shard-2-of-3*"):
        stale.unlink()
    second = plan_bins(in_dir)[1]
    done = len(second) // 2  # tests that finish before the victim hangs
    assert done >= 1, second
    victim = second[done]
    log = reports / "shard-2-of-3.progress.jsonl"
    env = {**os.environ, "SHARDER_EXAMPLE_TIME_SCALE": EXAMPLE_TIME_SCALE, "SHARDER_TEST_HANG_AT": victim}
    proc = subprocess.Popen([sys.executable, "-m", "sharder", "run", "--shard", "2/3", "--plan", "plan.json", "--",
                             "-p", "no:randomly"], cwd=in_dir, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (log.exists() and f'"start","nodeid":{json.dumps(victim)}' in log.read_text(encoding="utf-8")):
            assert time.monotonic() < deadline and proc.poll() is None, "the shard never reached the victim"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (reports / "shard-2-of-3.xml").exists()
    code, verdict = merge_json(["reports"], capsys)  # no --plan: the progress log names the shard's tests
    assert code == 1
    shard = verdict["shards"][1]
    assert shard["status"] == "died" and shard["died_in"] == victim
    assert shard["recovered"] == done and shard["reported"] == done
    assert shard["missing"] == second[done:]
    code, out, _ = merge(["reports", "--plan", "plan.json"], capsys)
    assert code == 1
    assert f"NEVER REPORTED {victim}   <- running when the shard died" in out
    assert f"{35 - len(second) + done} of 35 planned tests reported, 0 failed, {len(second) - done} missing" in out


def test_a_truncated_report_counts_as_a_shard_without_report(in_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = in_dir / "reports" / "shard-3-of-3.xml"
    report.write_bytes(report.read_bytes()[:-200])
    code, verdict = merge_json(["reports"], capsys)
    assert code == 1
    assert verdict["shards"][2]["status"] == "report unreadable"
    assert "shard-3-of-3.xml' is not well-formed XML" in verdict["unreadable"][0]
    # its progress log finished, so every test is recovered; the missing report still keeps the verdict red
    assert verdict["missing"] == 0 and verdict["shards"][2]["recovered"] == len(plan_bins(in_dir)[2])


def test_a_test_that_fails_then_passes_on_rerun_is_flaky(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    suite = tmp_path / "suite"
    (suite / "tests").mkdir(parents=True)
    (suite / "tests" / "test_flaky.py").write_text(
        "import pathlib\n\n\ndef test_steady():\n    pass\n\n\n"
        "def test_fails_the_first_time():\n"
        "    marker = pathlib.Path(__file__).with_name('ran-once')\n"
        "    if not marker.exists():\n"
        "        marker.write_text('x')\n"
        "        raise AssertionError('first attempt fails')\n"
    )
    for name in ("first", "rerun"):  # CI's "re-run failed jobs": the whole shard again, a second report
        ran = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "--shard=1/1",
                              f"--junitxml=reports/{name}.xml"], cwd=suite, capture_output=True, text=True, check=False)
        assert ran.returncode == (1 if name == "first" else 0), ran.stdout
    monkeypatch.chdir(suite)
    code, verdict = merge_json(["reports"], capsys)
    assert code == 0
    assert verdict["flaky"] == 1 and verdict["failed"] == 0
    flaky = verdict["flaky_tests"][0]
    assert flaky["nodeid"] == "tests/test_flaky.py::test_fails_the_first_time"
    # two sessions of shard 1/1 with no CI attempt recorded: told apart, and ordered, by their logs' start times
    assert flaky["history"] == [["failed", "first.xml (run 1 of 2)"], ["passed", "rerun.xml (run 2 of 2)"]]
    assert verdict["shards"][0]["attempt"] == "run 2 of 2"
    assert verdict["shards"][0]["earlier_attempts"] == [{"attempt": "run 1 of 2", "status": "failed"}]
    code, out, _ = merge(["reports", "--fail-on-flaky"], capsys)
    assert code == 1 and "FLAKY (1)" in out


def test_github_actions_gets_annotations_and_a_step_summary(
    in_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (in_dir / "reports" / "shard-1-of-3.xml").unlink()
    summary = in_dir / "step-summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, out, _ = merge(["reports"], capsys)
    assert code == 1
    errors = [line for line in out.splitlines() if line.startswith("::error ")]
    recovered = len(plan_bins(in_dir)[0])  # the progress log survived: every test is known, the report is not
    assert errors == [f"::error title=sharder%3A shard 1/3 no report::shard 1/3: no report; {recovered} recovered "
                      "from its progress log; 0 planned tests never reported"]
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n## sharder: ❌ ")  # appended, as GitHub expects


# ------------------------------------------------------------------------------------------- crafted input


def case_xml(classname: str, name: str, body: str = "", properties: dict[str, str] | None = None,
             time_text: str = "0.5") -> str:
    props = "".join(f'<property name="{k}" value="{v}"/>' for k, v in (properties or {}).items())
    props = f"<properties>{props}</properties>" if props else ""
    return f'<testcase classname="{classname}" name="{name}" time="{time_text}">{props}{body}</testcase>'


def report_xml(cases: list[str], suite_properties: dict[str, str] | None = None, root: str = "testsuites",
               timestamp: str = "2026-01-01T00:00:00") -> str:
    props = "".join(f'<property name="{k}" value="{v}"/>' for k, v in (suite_properties or {}).items())
    props = f"<properties>{props}</properties>" if props else ""
    suite = f'<testsuite name="pytest" timestamp="{timestamp}">{props}{"".join(cases)}</testsuite>'
    return suite if root == "testsuite" else f"<testsuites>{suite}</testsuites>"


GOOD = report_xml([case_xml("tests.test_a", "test_ok")])


@pytest.mark.parametrize(("files", "args", "message"), [
    ({}, ["missing-dir"], "report path 'missing-dir' does not exist"),
    ({"empty/notes.txt": "x"}, ["empty"], "holds no .xml reports and no progress logs"),
    ({"a.xml": '<?xml version="1.0"?>\n<!DOCTYPE testsuites>\n' + GOOD, "b.xml": GOOD}, ["."], "has a DOCTYPE"),
    ({"a.xml": "<html><body>502 Bad Gateway</body></html>", "b.xml": GOOD}, ["."], "is not JUnit XML"),
    ({"a.xml": GOOD}, ["a.xml", "a.xml"], "was given twice"),
    ({"r/a.xml": GOOD}, ["r", "r/a.xml"], "was given twice"),
    ({"one/a.xml": GOOD, "two/a.xml": GOOD}, ["one", "two"], "are the same report"),
    ({"a.xml": "", "b.xml": GOOD[:40]}, ["."], "no usable input"),
    ({"a.xml": report_xml([case_xml("t", "x")], {"sharder_plan_id": "aaaa", "sharder_shard": "1/2"}),
      "b.xml": report_xml([case_xml("t", "y")], {"sharder_plan_id": "bbbb", "sharder_shard": "2/2"})},
     ["."], "reports of different plans mixed"),
    ({"a.xml": report_xml([case_xml("t", "x")], {"sharder_shard": "1/2"}),
      "b.xml": report_xml([case_xml("t", "y")], {"sharder_shard": "2/3"})},
     ["."], "reports of different plans mixed"),
])
def test_unusable_input_is_one_line_and_exit_2(
    files: dict[str, str], args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, _, err = merge(args, capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("sharder merge: error: ") and message in err, err
    assert "Traceback" not in err


def test_non_utf8_bytes_beside_a_good_report_are_a_shard_without_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "good.xml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "shard-2-of-2.xml").write_bytes(GOOD.replace("test_ok", "test_\xff").encode("latin-1"))
    monkeypatch.chdir(tmp_path)
    code, out, _ = merge(["."], capsys)
    assert code == 1
    assert "UNREADABLE REPORTS (1)" in out and "shard-2-of-2.xml" in out


def test_mixed_roots_and_foreign_reports_merge_by_their_cases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.xml").write_text(report_xml([case_xml("tests.test_a", "test_one")]), encoding="utf-8")
    failing = case_xml("tests.test_b", "test_two", '<failure message="assert 1 == 2">trace\nE assert 1 == 2</failure>')
    (tmp_path / "b.xml").write_text(report_xml([failing], root="testsuite"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, verdict = merge_json([".", "-o", "out/merged.xml"], capsys)
    assert code == 1
    assert verdict["reported"] == 2 and verdict["failed"] == 1 and verdict["planned"] is None
    assert verdict["failures"][0]["nodeid"] == "tests.test_b::test_two"
    assert verdict["failures"][0]["message"] == "assert 1 == 2"
    assert any("no plan known" in note for note in verdict["notes"])
    assert ElementTree.parse(tmp_path / "out" / "merged.xml").getroot().get("failures") == "1"


def test_markdown_stays_under_github_limit_and_annotations_are_capped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    message = "AssertionError: " + "x" * 250
    body = f'<failure message="{message}">' + "\n".join(["E   long traceback line " + "y" * 200] * 30) + "</failure>"
    cases = [case_xml(f"tests.test_m{i // 100}", f"test_{i}", body) for i in range(8000)]
    located = {"sharder_nodeid": "tests/test_m0.py::test_0", "sharder_shard": "1/1"}
    cases[0] = case_xml("tests.test_m0", "test_0", body, located).replace('time="0.5"', 'time="0.5" line="9"')
    (tmp_path / "big.xml").write_text(report_xml(cases), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    code, out, _ = merge([".", "--markdown", "summary.md"], capsys)
    assert code == 1
    markdown = (tmp_path / "summary.md").read_bytes()
    assert 512 * 1024 < len(markdown) < 1024 * 1024
    assert b"more not shown here (GitHub's 1 MiB summary limit); the merged XML and `--json` have them all" in markdown
    errors = [line for line in out.splitlines() if line.startswith("::error ")]
    assert len(errors) == 50
    assert "::notice title=sharder::7950 more errors not annotated (at most 50)" in out
    assert errors[0].startswith(  # pytest's 0-based line 9 is GitHub's line 10
        "::error file=tests/test_m0.py,line=10,title=tests/test_m0.py%3A%3Atest_0 failed (shard 1/1)::AssertionError: x")
    assert errors[1].startswith("::error title=tests.test_m0%3A%3Atest_1 failed (shard 1/1)::AssertionError: x")


def test_a_cut_list_of_all_tests_points_at_the_merged_xml_not_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = [case_xml(f"tests.test_m{i // 100}", f"test_passes_with_a_long_name_{i:05d}", "") for i in range(20000)]
    (tmp_path / "big.xml").write_text(report_xml(cases), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, _, _ = merge([".", "--markdown", "summary.md"], capsys)
    assert code == 0
    markdown = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert len(markdown.encode("utf-8")) < 1024 * 1024
    # --json lists failures, not every test: the note under the cut list must not send the reader there.
    assert "limit); the merged XML (`sharder merge -o`) has every test; `--json` lists only failures._" in markdown
    assert "`--json` have them all" not in markdown


def test_markup_nested_in_output_is_flattened_and_the_rest_copied_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from junitparser import JUnitXml

    nested = "<x>" * 5000 + "deep text" + "</x>" * 5000  # markup inside output is flattened to its text
    cases = [case_xml("tests.test_a", "test_ok", f"<system-out>{nested}</system-out>", {"sharder_order": "1"}),
             case_xml("tests.test_a", "test_bad", '<failure message="m">tb &amp; more</failure>')]
    (tmp_path / "r.xml").write_text(report_xml(cases), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert merge(["r.xml", "-o", "merged.xml"], capsys)[0] == 1
    merged = (tmp_path / "merged.xml").read_bytes()
    assert b"<system-out>deep text</system-out>" in merged and b"tb &amp; more" in merged
    read_back = [case for suite in JUnitXml.fromfile(str(tmp_path / "merged.xml")) for case in suite]
    assert [case.name for case in read_back] == ["test_ok", "test_bad"]
