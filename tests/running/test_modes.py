"""`sharder run` execution modes end to end: real `python -m sharder run` on small suites written to tmp_path."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sharder.reports.junit import read_report

pytestmark = pytest.mark.integration

RunSharder = Callable[..., subprocess.CompletedProcess[str]]

SUITE = {
    "pytest.ini": "[pytest]\naddopts = -p no:randomly\nmarkers =\n    memory_intensive: big\n    slow: slow\n",
    "tests/test_light.py": (
        "import pytest\n"
        "@pytest.mark.parametrize('i', range(4))\n"
        "def test_light(i, record_property, request):\n"
        "    record_property('worker', getattr(request.config, 'workerinput', {}).get('workerid', 'none'))\n"
    ),
    "tests/test_heavy.py": (
        "import pytest\n"
        "@pytest.mark.memory_intensive\n"
        "def test_heavy(record_property, request):\n"
        "    record_property('worker', getattr(request.config, 'workerinput', {}).get('workerid', 'none'))\n"
        "@pytest.mark.slow\n"
        "def test_slow():\n"
        "    pass\n"
    ),
}


def _suite(root: Path, files: dict[str, str] = SUITE) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _cases(report: Path) -> dict[str, dict[str, str]]:
    return {case.node_id: {"outcome": case.outcome, "message": case.message, **case.properties}
            for case in read_report(report, None).cases}


def test_parallel_runs_memory_intensive_tests_alone_afterwards_into_one_report(tmp_path: Path,
                                                                                run_sharder: RunSharder) -> None:
    root = _suite(tmp_path)
    done = run_sharder(["run", "--shard", "1/1", "--parallel", "2"], root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(parallel part)" in done.stdout and "(memory_intensive part)" in done.stdout
    assert sorted(p.name for p in (root / "reports").glob("*.xml")) == ["shard-1-of-1.xml"]
    cases = _cases(root / "reports" / "shard-1-of-1.xml")
    assert len(cases) == 6 and all(case["outcome"] == "passed" for case in cases.values())
    assert cases["tests/test_heavy.py::test_heavy"]["worker"] == "none"  # alone, outside the xdist workers
    assert {cases[f"tests/test_light.py::test_light[{i}]"]["worker"] for i in range(4)} <= {"gw0", "gw1"}
    assert all(case["sharder_shard"] == "1/1" for case in cases.values())


def test_parallel_auto_with_a_small_budget_picks_fewer_workers(tmp_path: Path, run_sharder: RunSharder) -> None:
    root = _suite(tmp_path)
    peaks = {f"tests/test_light.py::test_light[{i}]": 200.0 + i for i in range(4)}
    peaks["tests/test_heavy.py::test_heavy"] = 5000.0  # runs alone: not what limits the parallel part
    (root / "durations.json").write_text(json.dumps({"format": "sharder-durations", "version": 1, "tests": {
        node_id: {"seconds": 0.1, "runs": 1, "peak_rss_mb": peak} for node_id, peak in peaks.items()}}))
    done = run_sharder(["run", "--shard", "1/1", "--parallel", "auto", "--memory-budget", "450M"], root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert ("--parallel auto: memory budget 450 MB / largest recorded peak 203.0 MB "
            "(tests/test_light.py::test_light[3]) = 2.22 -> 2;") in done.stdout
    small = run_sharder(["run", "--shard", "1/1", "--parallel", "auto", "--memory-budget", "300M"], root)
    assert small.returncode == 0 and "-> 1 worker (1 memory_intensive tests run alone afterwards)" in small.stdout
    assert "--numprocesses" not in small.stdout  # one worker: sequential, a single pass


def test_a_hanging_test_is_stopped_by_the_timeout_and_the_shard_goes_on(tmp_path: Path,
                                                                        run_sharder: RunSharder) -> None:
    root = _suite(tmp_path, {
        "pyproject.toml": "[tool.sharder]\ntimeout = 30\n",
        "tests/test_hang.py": "import time\ndef test_hangs():\n    time.sleep(600)\ndef test_after():\n    pass\n",
    })
    done = run_sharder(["run", "--shard", "1/1", "--timeout", "1", "--", "-p", "no:randomly"], root)
    assert done.returncode == 1
    assert "--timeout=1" in done.stdout  # the flag wins over the 30 s in pyproject.toml
    cases = _cases(root / "reports" / "shard-1-of-1.xml")
    assert cases["tests/test_hang.py::test_hangs"]["outcome"] == "failed"
    assert "Timeout (>1.0s) from pytest-timeout" in cases["tests/test_hang.py::test_hangs"]["message"]
    assert cases["tests/test_hang.py::test_after"]["outcome"] == "passed"


def test_fast_module_and_empty_selections(tmp_path: Path, run_sharder: RunSharder) -> None:
    root = _suite(tmp_path)
    fast = run_sharder(["run", "--shard", "1/1", "--fast"], root)
    assert fast.returncode == 0
    assert sorted(_cases(root / "reports" / "shard-1-of-1.xml")) == [f"tests/test_light.py::test_light[{i}]"
                                                                   for i in range(4)]
    nothing = run_sharder(["run", "--shard", "1/1", "--fast", "--module", "tests/test_heavy.py"], root)
    assert nothing.returncode == 0, nothing.stdout + nothing.stderr
    assert "sharder: --module tests/test_heavy.py leaves no tests to run here; nothing to run" in nothing.stdout
    # the user's own -m deselecting every test is pytest's "nothing ran" (exit 5), not a slice of a mode
    marker = run_sharder(["run", "--shard", "1/1", "--", "-m", "no_such_marker"], root)
    assert marker.returncode == 5, marker.stdout + marker.stderr
    assert "-k/-m/--deselect deselected all 6 of the tests it would have run; nothing ran (exit 5)" in marker.stdout


@pytest.mark.parametrize(("flags", "message"), [
    (["--parallel", "lots"], "--parallel 'lots': expected a whole number >= 1 or 'auto'"),
    (["--timeout", "0"], "--timeout '0': must be more than 0 seconds (leave it unset for no timeout)"),
    (["--maxfail", "0"], "--maxfail '0': expected a whole number >= 1"),
])
def test_bad_mode_values_are_one_line_and_exit_2(tmp_path: Path, run_sharder: RunSharder, flags: list[str],
                                                 message: str) -> None:
    done = run_sharder(["run", "--shard", "1/1", *flags], _suite(tmp_path))
    assert done.returncode == 2 and done.stderr.strip() == f"sharder run: error: {message}"


def test_combining_the_two_passes_keeps_the_cases_of_a_nested_suite(tmp_path: Path) -> None:
    """A producer that nests suites (a plugin grouping by class, a `<testsuites>` inside a suite) must not lose
    those cases when the parallel and memory_intensive parts are folded into one shard report."""
    from xml.etree import ElementTree

    from sharder.reports.junit import parse_xml_root
    from sharder.reports.shard_report import combine_reports

    root = _suite(tmp_path / "suite")
    parts = [tmp_path / "parallel.xml", tmp_path / "memory.xml"]
    for part, selected in zip(parts, ("tests/test_light.py", "tests/test_heavy.py"), strict=True):
        ran = subprocess.run([sys.executable, "-m", "pytest", "-q", selected, f"--junitxml={part}"], cwd=root,
                             capture_output=True, text=True, check=False)
        assert ran.returncode == 0, ran.stdout + ran.stderr
    for part in parts:  # move every case one level down, into a nested suite of its own
        tree = parse_xml_root(part)
        suite = tree.find("testsuite")
        assert suite is not None
        nested = ElementTree.SubElement(suite, "testsuite", {"name": f"nested {part.stem}", "tests": "0"})
        for case in suite.findall("testcase"):
            suite.remove(case)
            nested.append(case)
        part.write_bytes(ElementTree.tostring(tree, encoding="utf-8", xml_declaration=True))
    combined = tmp_path / "shard-1-of-1.xml"
    assert combine_reports(parts, combined) == 2
    report = read_report(combined)
    assert sorted(case.node_id.split("::")[-1] for case in report.cases) == [
        "test_heavy", "test_light[0]", "test_light[1]", "test_light[2]", "test_light[3]", "test_slow"]
    assert report.contradiction is None
    assert parse_xml_root(combined).find("testsuite").get("tests") == "6"  # type: ignore[union-attr]

