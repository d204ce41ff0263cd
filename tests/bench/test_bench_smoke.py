"""The benchmarks still run (a few seconds, on the smallest shared files): they are measured, not tested, but a
benchmark that crashes measures nothing. Skipped when the shared data is not beside this checkout."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import REPO

ROOT = REPO
SHARED = ROOT.parent / "shared" / "bench"

pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason="shared bench data is not beside this checkout")


def _run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], capture_output=True, text=True,
                          timeout=120, check=False, cwd=ROOT)


def _rows(output: str, title: str) -> list[list[str]]:
    """The data rows of the table printed under `title`."""
    block = output.split(title, 1)[1].split("\n\n", 1)[0].splitlines()[2:]
    return [line.split() for line in block if re.match(r"\s*\d+\s", line)]


def test_balance_runs_on_a_small_file_and_meets_its_goals_there() -> None:
    result = _run("balance.py", "--files", "pysdc", "--shards", "2,3,7", "--no-speed")
    assert result.returncode == 0, result.stderr + result.stdout
    rows = _rows(result.stdout, "pysdc (useful N")
    assert [row[0] for row in rows] == ["2", "3", "7"]
    for row in rows:
        sharder, least, chunks, whole, module, auto = (float(row[i]) for i in (2, 3, 4, 5, 6, 8))
        assert min(sharder, least, chunks, whole, module, auto) >= 1.0  # nothing beats the lower bound
        assert sharder <= least
    assert "Flags (sharder worse than least_duration anywhere; auto > 1.10 below useful N): none" in result.stdout


def test_stale_replays_a_history_beside_least_duration() -> None:
    result = _run("stale.py", "--projects", "pgmpy", "--shards", "2,3", "--luck", "1")
    assert result.returncode in (0, 1), result.stderr  # 1: a flag (sharder not lower somewhere), still a result
    rows = _rows(result.stdout, "pgmpy: 4 pairs")
    assert [row[0] for row in rows] == ["2", "3"]
    for row in rows:
        assert all(float(row[i]) >= 1.0 for i in (1, 2, 3, 4))  # real makespan over the real bound


def test_merge_runs_both_workloads_beside_junitparser() -> None:
    result = _run("merge.py", "--cases", "600", "--reports", "3", "--big-cases", "2000", "--repeat", "1")
    assert result.returncode == 0, result.stderr + result.stdout
    rows = [line for line in result.stdout.splitlines() if line.startswith(("3 reports", "1 report"))]
    assert [row.split("  ")[0] for row in rows] == ["3 reports, 600 cases"] * 4 + ["1 report, 2,000 cases"] * 2
    assert all(row.split()[-1] in ("0", "1") for row in rows)  # nothing crashed: 1 is the generated failures


def test_queue_drives_the_real_queue_and_nothing_beats_the_bound_with_skew() -> None:
    # one pair at N = 2 on the real queue (its Lua steps cost milliseconds each on a loaded machine), N = 3 and 4 on
    # the replica
    result = _run("queue.py", "--projects", "pgmpy", "--shards", "2-4", "--pairs", "0", "--real-every", "1",
                  "--real-shards", "2")
    assert result.returncode in (0, 1), result.stderr  # 1: a goal flag, still a result
    rows = _rows(result.stdout, "pgmpy: 1 pairs")
    assert [row[0] for row in rows] == ["2", "3", "4"]
    for row in rows:  # static, least_duration and queue over the bound with start skew
        assert all(float(row[i]) >= 1.0 for i in (1, 2, 3, 4, 5, 6)), row
    assert "1 runs also on the real LeaseQueue (same makespans)" in result.stdout


def test_html_report_bench_opens_its_page_in_chromium() -> None:
    from tests.reports.browser import chromium_or_skip

    chromium_or_skip()
    result = _run("html_report.py", "--tests", "600", "--shards", "3", "--repeat", "1")
    assert result.returncode == 0, result.stderr + result.stdout
    assert re.search(r"first render, the page's mark \(ms since navigation\)\s+\d+", result.stdout), result.stdout


def test_run_overhead_times_every_mode_beside_plain_pytest() -> None:
    result = _run("run_overhead.py", "--tests", "60", "--files", "3", "--repeat", "1")
    assert result.returncode == 0, result.stderr + result.stdout
    modes = [line.split("  ")[0].strip() for line in result.stdout.splitlines()[2:] if line.strip()]
    assert modes == ["plain", "junit", "sharder.plugin", "+ progress log", "+ memory", "sharder run"]


def test_wall_stops_at_once_when_sharder_cannot_start_in_the_suites_venv(tmp_path: Path) -> None:
    """A venv without sharder's dependencies: every `sharder run` there dies at its imports with exit 1, which the
    bench must not time as a shard (it once timed such shards at 0.1 s each)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    result = _run("wall.py", "--python", str(venv / "bin" / "python"), "--suite", "networkx", "--shards", "2",
                  "--work", str(tmp_path / "work"))
    assert result.returncode == 1
    assert "sharder does not import there (ModuleNotFoundError: No module named" in result.stderr
    assert "pip install junitparser defusedxml PyYAML" in result.stderr
    assert not (tmp_path / "work" / "networkx" / "durations.json").exists()  # stopped before recording
