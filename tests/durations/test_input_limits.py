"""Inputs at the edges of what sharder reads: ms-rounded report times, absurd seconds, ids that are not text,
plans of nothing, unknown groupings. Each is refused with one line (exit 2) or handled without harm."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from sharder.cli import main
from sharder.durations import store
from sharder.durations.planning_input import load_planning_input
from sharder.planning.plan import plan_to_json
from sharder.planning.planner import make_plan

RunSharder = Callable[..., subprocess.CompletedProcess[str]]


def _one_line_error(argv: list[str], capsys: pytest.CaptureFixture[str], fragment: str) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert fragment in lines[0], lines[0]
    return lines[0]


# --- 1. ms-rounded report times do not pass for a change of hardware -------------------------------------------

def test_millisecond_rounded_times_of_sub_millisecond_tests_blend_instead_of_wiping_the_store() -> None:
    """54 tests recorded at 0.2-0.6 ms come back from JUnit as 0.000 or 0.001: no regime change, no zeros."""
    old = store.Durations({f"t{i}": store.TestTiming(0.0002 + 0.0004 * (i % 2)) for i in range(54)})
    rounded = {f"t{i}": store.Observation(0.001 if i % 5 == 0 else 0.0) for i in range(54)}
    new = store.updated(old, rounded)
    assert all(timing.seconds > 0 for timing in new.tests.values())
    assert new.tests["t1"].seconds == pytest.approx(0.0006 + 0.5 * (0.0005 - 0.0006))  # 0.000 read as "< 0.5 ms"
    assert new.tests["t2"].seconds == pytest.approx(0.0002)  # 0.000 for a 0.2 ms test is no news
    assert new.tests["t5"].seconds == pytest.approx((0.0006 + 0.001) / 2)  # blended, not replaced


def test_a_slower_machine_is_still_detected_among_sub_millisecond_noise() -> None:
    """Ten real tests (>= 50 ms) all 2x slower replace their times, whatever 40 rounded tiny ones say."""
    old = {f"big{i}": store.TestTiming(0.1 * (i + 1)) for i in range(10)}
    old |= {f"tiny{i}": store.TestTiming(0.0003) for i in range(40)}
    seen = {f"big{i}": store.Observation(0.2 * (i + 1)) for i in range(10)}
    seen |= {f"tiny{i}": store.Observation(0.0) for i in range(40)}
    new = store.updated(store.Durations(old), seen)
    assert new.tests["big9"].seconds == pytest.approx(2.0)  # replaced, not blended to 1.5
    assert new.tests["tiny0"].seconds == pytest.approx(0.0003)


def test_rebalance_of_a_real_sub_millisecond_suite_keeps_its_timings(tmp_path: Path, run_sharder: RunSharder) -> None:
    """The testers' reproduction end to end: record (accurate), plan, run two shards, rebalance from JUnit."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_fast.py").write_text(
        "import pytest\n\n@pytest.mark.parametrize('n', range(40))\ndef test_fast(n):\n    assert n >= 0\n")
    steps = [["record", "--", "-q"], ["plan", "--shards", "2", "-o", "plan.json"],
             *[["run", "--shard", f"{k}/2", "--plan", "plan.json", "--junit-dir", "reports", "--", "-q"]
               for k in (1, 2)]]
    for step in steps:
        result = run_sharder(step, cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
    before = store.load_durations(tmp_path / "durations.json").tests
    result = run_sharder(["rebalance", "reports"], cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    after = store.load_durations(tmp_path / "durations.json").tests
    assert set(after) == set(before)
    wiped = [node_id for node_id, timing in after.items() if timing.seconds == 0 and before[node_id].seconds > 0]
    assert not wiped
    for node_id, timing in after.items():  # blended toward what 0.000/0.001 can mean, never replaced by it
        assert timing.seconds >= min(before[node_id].seconds, 0.0005) / 2


# --- 2. absurd seconds --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("document", [
    {f"a.py::t{i}": 1e308 for i in range(100)},
    {"a.py::t1": 1.0, "a.py::t2": 10000000.5},
    {"format": "sharder-durations", "version": 1,
     "tests": {"a.py::t1": {"seconds": 1.0}, "a.py::t2": {"seconds": 1e308, "runs": 2}}},
    {"format": "sharder-durations", "version": 1,
     "tests": {"a.py::t1": {"seconds": 1.0}, "a.py::t2": {"seconds": 1.0, "setup_seconds": 2e7}}},
], ids=["flat-1e308", "flat-just-over", "sharder-seconds", "sharder-setup"])
@pytest.mark.parametrize("command", [
    ["plan", "--shards", "2", "--from-durations"],
    ["matrix", "--target", "10m", "--from-durations"],
])
def test_seconds_over_the_limit_are_refused_naming_the_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], document: dict[str, object], command: list[str]
) -> None:
    path = tmp_path / "d.json"
    path.write_text(json.dumps(document))
    line = _one_line_error([*command, "--durations", str(path), *(["-o", str(tmp_path / "p.json")]
                                                                  if command[0] == "plan" else [])],
                           capsys, "a.py::t")
    assert "more than 10,000,000 s" in line
    assert "seconds of 'a.py::t" in line


def test_a_huge_integer_is_refused_not_an_overflow(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "d.json"
    path.write_text('{"a.py::t1": 1' + "0" * 400 + "}")
    _one_line_error(["plan", "--shards", "2", "--from-durations", "--durations", str(path),
                     "-o", str(tmp_path / "p.json")], capsys, "'a.py::t1'")


def test_the_limit_itself_reads_and_junit_shares_it() -> None:
    from sharder.reports import junit

    assert junit.MAX_TEST_SECONDS is store.MAX_TEST_SECONDS
    assert store.parse_durations(json.dumps({"t": store.MAX_TEST_SECONDS}).encode()).tests["t"].seconds == 1e7


def test_rebalance_refuses_an_absurd_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "d.json"
    path.write_text(json.dumps({"a.py::t1": 1e308}))
    (tmp_path / "reports").mkdir()
    _one_line_error(["rebalance", str(tmp_path / "reports"), "--durations", str(path)], capsys, "a.py::t1")


# --- 3. ids that are not Unicode text -----------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    '{"a.py::t[\\ud800]": 1.0}',
    '{"a.py::ok": 1.0, "a.py::t[\\udfff]": 2.0}',
    '{"format": "sharder-durations", "version": 1, "tests": {"a.py::t[\\ud800]": {"seconds": 1.0}}}',
])
def test_an_id_with_a_lone_surrogate_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str) -> None:
    path = tmp_path / "d.json"
    path.write_text(text)
    _one_line_error(["plan", "--shards", "2", "--from-durations", "--durations", str(path),
                     "-o", str(tmp_path / "p.json")], capsys, "is not valid Unicode text")
    assert not (tmp_path / "p.json").exists()
    with pytest.raises(store.SharderError, match="not valid Unicode text"):
        store.load_durations(path)


def test_escaped_but_valid_ids_still_read(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text('{"a.py::t[\\u00e9]": 1.0, "a.py::t[\\ud83d\\ude00]": 2.0}')
    assert list(load_planning_input(path).seconds) == ["a.py::t[\u00e9]", "a.py::t[\U0001f600]"]


def _plan_file(tmp_path: Path, edit: Callable[[dict[str, object]], None]) -> Path:
    document = plan_to_json(make_plan(["a.py::t1", "a.py::t2"], {"a.py::t1": 1.0, "a.py::t2": 1.0}, 2))
    edit(document)
    document.pop("plan_id")
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(document))
    return path


def test_a_plan_with_a_surrogate_id_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def edit(document: dict[str, object]) -> None:
        document["bins"][0]["tests"] = ["a.py::t[\ud800]"]  # type: ignore[index]

    path = _plan_file(tmp_path, edit)
    assert "\\ud800" in path.read_text()
    _one_line_error(["run", "--shard", "1/2", "--plan", str(path)], capsys, "is not valid Unicode text")


# --- 4. plans of no tests -----------------------------------------------------------------------------------------

def test_plan_refuses_a_collection_of_no_tests(tmp_path: Path, run_sharder: RunSharder) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_a.py").write_text("def test_a():\n    pass\n")
    for command in (["plan", "--shards", "2"], ["matrix", "--target", "10m"], ["local", "--shards", "2"]):
        result = run_sharder([*command, "--", "-k", "nothing_matches"], cwd=tmp_path)
        assert result.returncode == 2, result.stdout + result.stderr
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
        assert "pytest collected no tests (pytest arguments: -k nothing_matches)" in lines[0]
    assert not (tmp_path / "plan.json").exists()


@pytest.mark.parametrize("text", ["{}", "[]", '{"format": "sharder-durations", "version": 1, "tests": {}}'])
def test_plan_refuses_a_durations_file_of_no_tests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    path = tmp_path / "d.json"
    path.write_text(text)
    for command in (["plan", "--shards", "4", "-o", str(tmp_path / "p.json")], ["matrix", "--target", "10m"]):
        line = _one_line_error([*command, "--from-durations", "--durations", str(path)], capsys, "holds no tests")
        assert "useful" not in line
    assert not (tmp_path / "p.json").exists()


def test_subnormal_durations_print_no_imbalance(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "d.json"
    path.write_text(json.dumps({"a.py::t1": 5e-324, "a.py::t2": 5e-324, "a.py::t3": 5e-324}))
    assert main(["plan", "--shards", "2", "--from-durations", "--durations", str(path),
                 "-o", str(tmp_path / "p.json"), "--json"]) == 0
    captured = capsys.readouterr()
    assert "imbalance n/a" in captured.err and "%" not in captured.err.split("imbalance")[1].split(",")[0]
    assert json.loads(captured.out)["imbalance"] is None


def test_a_measurable_plan_still_prints_its_imbalance(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "d.json"
    path.write_text(json.dumps({"a.py::t1": 3.0, "a.py::t2": 3.0, "a.py::t3": 3.0}))
    assert main(["plan", "--shards", "2", "--from-durations", "--durations", str(path),
                 "-o", str(tmp_path / "p.json")]) == 0
    assert "imbalance 0.00% over the bound" in capsys.readouterr().out


# --- 5. unknown grouping in a plan --------------------------------------------------------------------------------

@pytest.mark.parametrize("group_by", ["banana", 7, None, ""])
def test_a_plan_with_an_unknown_grouping_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], group_by: object
) -> None:
    def edit(document: dict[str, object]) -> None:
        document["group_by"] = group_by

    path = _plan_file(tmp_path, edit)
    _one_line_error(["run", "--shard", "1/2", "--plan", str(path)], capsys, "'group_by' is")
