"""`pytest --shard K/N` on the bundled example suite: what the plugin says about the timings it split by."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from sharder.stores.timings_source import HOW_TO_RECORD, SAME_ESTIMATE

RunSharder = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def example(pytester: pytest.Pytester, example_dir: Path, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """The example suite in pytester's folder, its sleeps off, and no durations file: a project's first run."""
    monkeypatch.setenv("SHARDER_EXAMPLE_TIME_SCALE", "0")
    shutil.copytree(example_dir, pytester.path, dirs_exist_ok=True)
    (pytester.path / "durations.json").unlink()
    return pytester


def _untimed_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if "no recorded timings" in line]


@pytest.mark.parametrize("verbosity", [[], ["-q"], ["-q", "-q"]], ids=["default", "q", "qq"])
def test_a_shard_with_no_timings_says_so_once_at_every_verbosity(
    example: pytest.Pytester, verbosity: list[str]
) -> None:
    result = example.runpytest_inprocess("--shard=2/4", "-p", "no:randomly", *verbosity)
    assert result.ret == 0, result.stdout.str()
    (line,) = _untimed_lines(result.stdout.str())
    assert line == (f"sharder: no recorded timings (no durations.json or .test_durations in {example.path}): "
                    f"{SAME_ESTIMATE}; {HOW_TO_RECORD}")


def test_the_plugin_and_sharder_plan_use_the_same_words(example: pytest.Pytester, run_sharder: RunSharder) -> None:
    plugin = example.runpytest_inprocess("--shard=1/2", "-p", "no:randomly", "-q")
    planned = run_sharder(["plan", "--shards", "2"], cwd=example.path)
    assert planned.returncode == 0, planned.stderr
    for said in (_untimed_lines(plugin.stdout.str()), _untimed_lines(planned.stderr)):
        assert len(said) == 1 and said[0].endswith(f"{SAME_ESTIMATE}; {HOW_TO_RECORD}"), said


def test_recorded_timings_silence_it_and_pytest_splits_file_counts(example: pytest.Pytester) -> None:
    ids = [line for line in example.runpytest_inprocess("--collect-only", "-q", "-p", "no:randomly").outlines
           if "::" in line]
    # pytest-split's own flat format, read as it is: no warning, and its seconds are what the shard is planned by.
    (example.path / ".test_durations").write_text(json.dumps({node_id: 2.0 for node_id in ids}))
    result = example.runpytest_inprocess("--shard=1/5", "-p", "no:randomly")
    assert result.ret == 0, result.stdout.str()
    assert _untimed_lines(result.stdout.str()) == []
    assert "sharder: shard 1/5, 7 of 35 tests, predicted 14.0 s (lower bound 14.0 s)" in result.stdout.str()
    # A file that times none of these tests is no timings, and is named.
    (example.path / ".test_durations").write_text(json.dumps({"tests/gone.py::test_old": 2.0}))
    (line,) = _untimed_lines(example.runpytest_inprocess("--shard=1/5", "-p", "no:randomly").stdout.str())
    assert f"({example.path / '.test_durations'} has none of the collected tests)" in line


def test_under_xdist_the_controller_says_it_once(example: pytest.Pytester) -> None:
    """The workers select the shard and their lines never reach the terminal, so the controller checks the file."""
    result = example.runpytest_subprocess("--shard=2/3", "-n", "2", "-p", "no:randomly")
    assert result.ret == 0, result.stdout.str()
    assert len(_untimed_lines(result.stdout.str())) == 1, result.stdout.str()
