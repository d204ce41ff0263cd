"""Bad input: one line on stderr, exit 2, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

RunSharder = Callable[..., subprocess.CompletedProcess[str]]


def _assert_one_line_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["run", "--shard", "0/4"], "out of range"),
        (["run", "--shard", "5/4"], "out of range"),
        (["run", "--shard", "a/b"], "invalid shard"),
        (["run", "--shard", "1/4/2"], "invalid shard"),
        (["plan", "--shards", "0"], "invalid shard count"),
        (["plan", "--shards", "x"], "invalid shard count"),
        (["plan"], "required"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_usage_errors(tmp_path: Path, run_sharder: RunSharder, args: list[str], fragment: str) -> None:
    _assert_one_line_error(run_sharder(args, cwd=tmp_path), fragment)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "not valid durations JSON"),
        ('{"format": "sharder-durations", "version": 7, "tests": {}}', "version 7"),
        ('{"t.py::a": 1.0, "t.py::b": -3}', "'t.py::b'"),
        ('{"t.py::a": NaN}', "NaN"),
        ('{"t.py::a": "fast"}', "not a number"),
    ],
)
def test_bad_durations_file(tmp_path: Path, run_sharder: RunSharder, content: str, fragment: str) -> None:
    (tmp_path / "durations.json").write_text(content)
    _assert_one_line_error(run_sharder(["plan", "--shards", "2", "--from-durations"], cwd=tmp_path), fragment)


def test_missing_durations_file_for_a_what_if(tmp_path: Path, run_sharder: RunSharder) -> None:
    _assert_one_line_error(run_sharder(["plan", "--shards", "2", "--from-durations"], cwd=tmp_path), "does not exist")


def test_plan_from_a_pytest_split_file(tmp_path: Path, run_sharder: RunSharder) -> None:
    (tmp_path / ".test_durations").write_text('{"a.py::x": 3.0, "a.py::y": 1.0, "b.py::z": 2.0}')
    result = run_sharder(["plan", "--shards", "2", "--from-durations", "-o", "p.json"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "makespan 3.0 s, lower bound 3.0 s" in result.stdout


def test_a_reader_that_closes_the_pipe_early_ends_sharder_quietly(tmp_path: Path, sharder_env: dict[str, str]) -> None:
    # `sharder plan ... | head -1`: the plan file is written before the table. The table (about 1.2 MB, a line per
    # shard) must be larger than the pipe (64 KiB here, at most /proc/sys/fs/pipe-max-size, 1 MiB by default) plus
    # what the reader buffers, or sharder can write all of it before the reader closes and exit 0: at 2,000 shards
    # the table was 65 KB and the test failed whenever sharder won that race.
    durations = {f"tests/test_{i}.py::test_{j}": 0.5 + i / 100 for i in range(400) for j in range(100)}
    (tmp_path / "durations.json").write_text(json.dumps(durations), encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "sharder", "plan", "--shards", "40000", "--from-durations"],
                            cwd=tmp_path, env=sharder_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith(b"shard")
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141  # 128 + SIGPIPE, as a shell reports `cat` ended by `head`
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    assert len(json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))["bins"]) == 40000
