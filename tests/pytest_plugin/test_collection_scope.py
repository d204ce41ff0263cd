"""What narrowed a collection, as `sharder plan` records it in plan.json (`selected_by`): [] only for the whole
suite as configured. Real `sharder plan` runs (pytest --collect-only underneath) on a suite in tmp_path."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

RunSharder = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    root = tmp_path / "suite"
    (root / "tests" / "unit").mkdir(parents=True)
    (root / "tests" / "other").mkdir()
    (root / "pytest.ini").write_text("[pytest]\ntestpaths = tests\nmarkers =\n    slow: slow\n"
                                     "addopts = -p no:randomly -p no:cacheprovider\n", encoding="utf-8")
    (root / "tests" / "unit" / "test_u.py").write_text(
        "def test_fast_one():\n    pass\n\n\ndef test_fast_two():\n    pass\n", encoding="utf-8")
    (root / "tests" / "other" / "test_o.py").write_text(
        "import pytest\n\n\n@pytest.mark.slow\ndef test_slow():\n    pass\n\n\ndef test_plain():\n    pass\n",
        encoding="utf-8")
    return root


def _selected_by(run_sharder: RunSharder, cwd: Path, root: Path, *pytest_args: str) -> list[str]:
    plan = root / "plan.json"
    done = run_sharder(["plan", "--shards", "2", "-o", str(plan), "--", *pytest_args], cwd)
    assert done.returncode == 0, done.stdout + done.stderr
    selected: list[str] = json.loads(plan.read_text(encoding="utf-8"))["selected_by"]
    return selected


@pytest.mark.parametrize(("args", "expected"), [
    ((), []),
    (("tests",), []),
    ((".",), []),
    (("tests/unit", "tests/other"), ["paths tests/unit tests/other"]),  # tests/ itself may hold a test
    (("-k", "fast"), ["-k fast"]),
    (("-m", "slow"), ["-m slow"]),
    (("tests/unit",), ["paths tests/unit"]),
    (("tests/unit/test_u.py::test_fast_one",), ["paths tests/unit/test_u.py::test_fast_one"]),
    (("--deselect", "tests/unit/test_u.py::test_fast_one"), ["--deselect"]),
    (("--ignore", "tests/other"), ["--ignore"]),
])
def test_plan_records_what_narrowed_its_collection(suite: Path, run_sharder: RunSharder, args: tuple[str, ...],
                                                    expected: list[str]) -> None:
    assert _selected_by(run_sharder, suite, suite, *args) == expected


def test_a_collection_started_in_a_subdirectory_is_narrower(suite: Path, run_sharder: RunSharder) -> None:
    assert _selected_by(run_sharder, suite / "tests" / "unit", suite) == ["paths tests/unit"]


def test_a_plan_of_the_durations_file_made_no_collection(suite: Path, run_sharder: RunSharder) -> None:
    (suite / "durations.json").write_text(json.dumps({"tests/unit/test_u.py::test_fast_one": 1.0}), encoding="utf-8")
    done = run_sharder(["plan", "--shards", "1", "--from-durations", "-o", "plan.json"], suite)
    assert done.returncode == 0, done.stderr
    assert json.loads((suite / "plan.json").read_text(encoding="utf-8"))["selected_by"] == ["--from-durations"]
