"""`[tool.sharder] pytest_args`: one place for the suite's pytest arguments, read by every command that collects.

A plan made with the arguments and shards run without them would disagree on the tests; with the arguments in
pyproject.toml no command line can forget them, and arguments after `--` still win.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from sharder.core.errors import SharderError
from sharder.stores.pyproject import pytest_args_of, resolve_pytest_args

RunSharder = Callable[..., subprocess.CompletedProcess[str]]


@pytest.mark.parametrize(("value", "expected"), [
    (["-m", "not slow", "tests"], ["-m", "not slow", "tests"]),
    ("-m 'not slow' tests", ["-m", "not slow", "tests"]),
    ([], []),
])
def test_a_list_or_a_shell_string(value: object, expected: list[str]) -> None:
    assert pytest_args_of({"pytest_args": value}, Path("pyproject.toml")) == expected


@pytest.mark.parametrize("value", [3, ["-m", 3], {"m": "x"}, "-m 'unclosed"])
def test_anything_else_is_one_clear_error(value: object) -> None:
    with pytest.raises(SharderError, match=r"pyproject.toml \[tool.sharder\] pytest_args"):
        pytest_args_of({"pytest_args": value}, Path("pyproject.toml"))


def test_the_command_line_wins_whole(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.sharder]\npytest-args = ["-m", "not slow"]\n')
    assert resolve_pytest_args([], tmp_path).args == ["-m", "not slow"]  # dashes read as underscores
    given = resolve_pytest_args(["-k", "x"], tmp_path)
    assert (given.args, given.source) == (["-k", "x"], "the command line")


SUITE = """
import pytest

def test_fast_1(): pass
def test_fast_2(): pass
def test_fast_3(): pass

@pytest.mark.slow
def test_slow(): pass
"""


def _project(root: Path) -> Path:
    (root / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\naddopts = "-p no:randomly"\nmarkers = ["slow: slow"]\n'
        '[tool.sharder]\npytest_args = ["-m", "not slow"]\n')
    (root / "test_suite.py").write_text(SUITE)
    return root


@pytest.mark.integration
def test_plan_matrix_and_run_all_use_the_configured_arguments(tmp_path: Path, run_sharder: RunSharder) -> None:
    root = _project(tmp_path)
    plan = run_sharder(["plan", "--shards", "2", "-o", "plan.json"], cwd=root)
    assert plan.returncode == 0, plan.stderr
    assert "pytest arguments from" in plan.stderr and "[tool.sharder]: -m 'not slow'" in plan.stderr
    planned = json.loads((root / "plan.json").read_text())
    assert sorted(t for b in planned["bins"] for t in b["tests"]) == [f"test_suite.py::test_fast_{n}" for n in (1, 2, 3)]
    # The shards run with the same arguments, so the plan check agrees with what they collect.
    for k in (1, 2):
        run = run_sharder(["run", "--shard", f"{k}/2", "--plan", "plan.json", "--junit-dir", "reports"], cwd=root)
        assert run.returncode == 0, run.stdout + run.stderr
    merge = run_sharder(["merge", "reports", "--plan", "plan.json"], cwd=root)
    assert merge.returncode == 0 and "3 of 3 planned tests reported" in merge.stdout, merge.stdout + merge.stderr
    assert run_sharder(["matrix", "--shards", "2"], cwd=root).returncode == 0  # no "only with --target" refusal


@pytest.mark.integration
def test_arguments_after_dashes_replace_the_configured_ones(tmp_path: Path, run_sharder: RunSharder) -> None:
    root = _project(tmp_path)
    plan = run_sharder(["plan", "--shards", "1", "-o", "plan.json", "--", "-k", "slow"], cwd=root)
    assert plan.returncode == 0, plan.stderr
    assert "[tool.sharder]" not in plan.stderr
    assert json.loads((root / "plan.json").read_text())["bins"][0]["tests"] == ["test_suite.py::test_slow"]
