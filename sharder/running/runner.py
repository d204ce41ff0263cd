"""Launching pytest in a subprocess: for collection, for one shard, for a recording run, for a replay.

Argv lists only, never a shell. pytest talks back through files (an id list, a JUnit report), so nothing here
depends on pytest's terminal output. Every pytest starts through `supervision`: in a process group of its own,
with CI's cancel signals forwarded to the whole group, and gone when sharder is gone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from sharder.core.errors import SharderError
from sharder.core.shardspec import ShardSpec
from sharder.pytest_plugin.options import COLLECT_TO_OPTION, DURATIONS_OPTION, PLAN_OPTION, SHARD_OPTION
from sharder.running import supervision

# pytest's own exit codes (pytest.ExitCode), spelled out so this module does not import pytest.
PYTEST_OK = 0
PYTEST_TESTS_FAILED = 1
PYTEST_INTERRUPTED = 2
PYTEST_USAGE_ERROR = 4
PYTEST_NO_TESTS = 5
# A process killed by signal S exits 128 + S in a shell's eyes (137 for SIGKILL), and so in CI's.
SIGNAL_EXIT_BASE = 128


def pytest_argv(args: Sequence[str]) -> list[str]:
    """`python -m pytest ARGS`, loading sharder's plugin explicitly when entry-point autoload is off."""
    argv = [sys.executable, "-m", "pytest"]
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        argv += ["-p", "sharder.plugin"]
    return argv + list(args)


def _last_error_line(output: str) -> str:
    for line in reversed(output.strip().splitlines()):
        if line.strip() and not line.startswith("="):
            return line.strip()
    return "no output"


def collect_ids(pytest_args: Sequence[str], *, cwd: str | os.PathLike[str] | None = None) -> list[str]:
    """The ids pytest would run with these arguments (after -k/-m), via a `--collect-only` subprocess."""
    return collect(pytest_args, cwd=cwd)[0]


def collect(pytest_args: Sequence[str], *, cwd: str | os.PathLike[str] | None = None) -> tuple[list[str], list[str]]:
    """`collect_ids`, and what narrowed the collection ([] for the whole suite; see the plugin's
    `collection_scope`), which a plan records so that a rebalance of its reports knows whether it may prune."""
    with tempfile.TemporaryDirectory(prefix="sharder-collect-") as scratch:
        out = Path(scratch) / "ids.json"
        argv = pytest_argv(["--collect-only", "-q", "-p", "no:randomly", f"{COLLECT_TO_OPTION}={out}", *pytest_args])
        # Output to a file, not a pipe: the supervised wait does not drain pipes, and a chatty suite would block.
        with open(Path(scratch) / "output", "w+b") as output:
            code = call(argv, cwd=cwd, stdout=output, stderr=subprocess.STDOUT)
            output.seek(0)
            text = output.read().decode("utf-8", "replace")
        if code not in (PYTEST_OK, PYTEST_NO_TESTS) or not out.exists():
            raise SharderError(f"collecting the tests failed (pytest exit {code}): {_last_error_line(text)}")
        written = json.loads(out.read_text(encoding="utf-8"))
    tests, narrowed = written["tests"], written.get("selected_by", [])
    if not isinstance(tests, list) or not isinstance(narrowed, list):
        raise SharderError("collecting the tests failed: the plugin wrote no id list")
    return [str(node_id) for node_id in tests], [str(reason) for reason in narrowed]


def junit_path(junit_dir: str | os.PathLike[str], spec: ShardSpec) -> Path:
    return Path(junit_dir) / f"{spec.report_stem}.xml"


def shard_argv(
    spec: ShardSpec,
    *,
    junit_dir: str | os.PathLike[str],
    plan_path: str | os.PathLike[str] | None = None,
    durations_path: str | os.PathLike[str] | None = None,
    pytest_args: Sequence[str] = (),
    junit_file: str | os.PathLike[str] | None = None,
) -> list[str]:
    # Every option as one `--name=value` token: pytest picks its rootdir from the non-option arguments it sees
    # before plugins load, and would take a separate plan or report path for a test path.
    # `junit_file`: a part of the shard's report (`sharder run --parallel` folds two passes into one file).
    report = junit_path(junit_dir, spec) if junit_file is None else Path(junit_file)
    args = [f"{SHARD_OPTION}={spec}", f"--junitxml={report}", "-o", "junit_family=xunit1"]
    if plan_path is not None:
        args.append(f"{PLAN_OPTION}={os.fspath(plan_path)}")
    if durations_path is not None:
        args.append(f"{DURATIONS_OPTION}={os.fspath(durations_path)}")
    return pytest_argv([*args, *pytest_args])


def call(
    argv: Sequence[str], *, cwd: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None,
    stdout: int | IO[Any] | None = None, stderr: int | IO[Any] | None = None,
) -> int:
    """Run pytest (supervised) and return its raw exit code, negative for the signal that killed it; a CI cancel
    raises `Cancelled` once pytest's whole process group is dead."""
    try:
        return supervision.call(argv, cwd=cwd, env=env, stdout=stdout, stderr=stderr)
    except OSError as exc:
        raise SharderError(f"cannot start pytest: {exc.strerror}") from None


def run(
    argv: Sequence[str], *, cwd: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None,
) -> int:
    """Run pytest with our stdio; return its exit code (usage errors become 2, sharder's input-error code).

    A pytest killed by a signal (the OOM killer's SIGKILL, a segfault, an abort) returns 128 + the signal, as a
    shell would: Python's -9 would reach the CI as exit 247, which names nothing. The one stderr line says what
    happened and where the finished tests are (the progress log that `sharder merge` reads). A signal sent to
    sharder itself is a cancel, not this: `Cancelled`.
    """
    code = call(argv, cwd=cwd, env=env)
    if code < 0:
        print(f"sharder: pytest was killed by {_signal_name(-code)}: no JUnit report; the progress log holds the "
              "tests it finished", file=sys.stderr, flush=True)
        return SIGNAL_EXIT_BASE - code
    return 2 if code == PYTEST_USAGE_ERROR else code


def _signal_name(number: int) -> str:
    try:
        return f"{signal.Signals(number).name} (signal {number})"
    except ValueError:
        return f"signal {number}"
