"""`sharder run --coverage` per shard, `sharder merge --coverage` combining them: real runs, real coverage data."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("pytest_cov")
from coverage import CoverageData  # after the skip: coverage arrives with pytest-cov

pytestmark = pytest.mark.integration

RunSharder = Callable[..., subprocess.CompletedProcess[str]]

# Each module is its own code under test, so which lines ran tells which shard ran.
SUITE = {
    "pytest.ini": "[pytest]\naddopts = -p no:randomly\n",
    "lib/alpha.py": "def alpha(x):\n    if x:\n        return 1\n    return 0\n",
    "lib/beta.py": "def beta(x):\n    if x:\n        return 2\n    return 0\n",
    "lib/__init__.py": "",
    "tests/test_alpha.py": "from lib.alpha import alpha\ndef test_alpha():\n    assert alpha(True) == 1\n",
    "tests/test_beta.py": "from lib.beta import beta\ndef test_beta():\n    assert beta(False) == 0\n",
}
DURATIONS = '{"tests/test_alpha.py::test_alpha": 1.0, "tests/test_beta.py::test_beta": 1.0}\n'


def _suite(root: Path) -> Path:
    for name, text in SUITE.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / ".test_durations").write_text(DURATIONS)
    return root


def _executed(data_file: Path, module: Path) -> set[int]:
    data = CoverageData(basename=str(data_file))
    data.read()
    return set(data.lines(str(module.resolve())) or ())


@pytest.fixture
def two_covered_shards(tmp_path: Path, run_sharder: RunSharder) -> Path:
    root = _suite(tmp_path)
    planned = run_sharder(["plan", "--shards", "2", "-o", "plan.json"], root)
    assert planned.returncode == 0, planned.stderr
    for shard in ("1/2", "2/2"):
        done = run_sharder(["run", "--shard", shard, "--plan", "plan.json", "--coverage", "--", "--cov=lib"], root)
        assert done.returncode == 0, done.stdout + done.stderr
    return root


def test_merge_combines_every_shards_coverage_into_one_data_file(two_covered_shards: Path,
                                                                  run_sharder: RunSharder) -> None:
    root = two_covered_shards
    reports = root / "reports"
    assert sorted(p.name for p in reports.glob("*.coverage")) == ["shard-1-of-2.coverage", "shard-2-of-2.coverage"]
    # Each shard alone measured only its own module's branch.
    alone = [_executed(reports / f"shard-{k}-of-2.coverage", root / "lib" / "alpha.py") for k in (1, 2)]
    assert sorted(bool(lines & {3}) for lines in alone) == [False, True]

    merged = run_sharder(["merge", "reports", "--plan", "plan.json", "--coverage", "--coverage-file", "all.cov"], root)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert "2 data files combined into all.cov" in merged.stdout
    assert {3} <= _executed(root / "all.cov", root / "lib" / "alpha.py")
    assert {4} <= _executed(root / "all.cov", root / "lib" / "beta.py")
    assert (reports / "shard-1-of-2.coverage").exists()  # inputs kept for a rerun of the report job


def test_a_shard_that_reported_without_coverage_data_fails_the_merge(two_covered_shards: Path,
                                                                      run_sharder: RunSharder) -> None:
    root = two_covered_shards
    (root / "reports" / "shard-2-of-2.coverage").unlink()
    merged = run_sharder(["merge", "reports", "--plan", "plan.json", "--coverage"], root)
    assert merged.returncode == 1, merged.stdout + merged.stderr
    assert "coverage INCOMPLETE: no coverage data from shard-2-of-2" in merged.stdout
    assert (root / ".coverage").exists()


def test_coverage_requested_but_no_data_files_is_an_input_error(tmp_path: Path, run_sharder: RunSharder) -> None:
    root = _suite(tmp_path)
    assert run_sharder(["plan", "--shards", "1", "-o", "plan.json"], root).returncode == 0
    assert run_sharder(["run", "--shard", "1/1", "--plan", "plan.json"], root).returncode == 0
    merged = run_sharder(["merge", "reports", "--coverage"], root)
    assert merged.returncode == 2
    assert merged.stderr.strip().splitlines() == [
        "sharder merge: error: --coverage: no coverage data files (*.coverage) in the given paths; "
        "were the shards run with `sharder run --coverage`?"
    ]
