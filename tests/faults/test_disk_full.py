"""Writes that the system refuses: `ulimit -f` (RLIMIT_FSIZE) and a full filesystem, under the real CLI.

`plan -o`, `rebalance`, `record` (from JUnit, and running pytest) and `merge -o/--markdown` each rewrite a file
that already exists. When the write fails (EFBIG: the process is over its file size limit; ENOSPC: the disk is
full), the answer is one line naming the file and exit 2, never a traceback; the old file is byte for byte what
it was and no temp file is left beside it. Python ignores SIGXFSZ, so an over-limit write fails with EFBIG instead
of killing the process: the exit code shows that too (a kill would be -25).

The full disk is a 2 MiB tmpfs mounted in a user namespace of its own (`unshare`), so the test needs no root;
where user namespaces are off, that case is skipped and the RLIMIT_FSIZE cases still run.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.faults.conftest import Outcome, _limit_child, assert_clean_refusal

CASES = 3000
FILE_SIZE_LIMIT = 16 * 1024  # every output below is 100 KB or more, every old file far less


def _report(path: Path, failing: int = 0) -> None:
    cases = "".join(
        f'<testcase classname="tests.test_m{i % 30}" name="test_{i}" time="{(i % 17) * 0.25 + 0.01}">'
        + (f'<failure message="assert {i} == 0">long traceback {i}</failure>' if i < failing else "")
        + "</testcase>"
        for i in range(CASES)
    )
    path.write_text(f'<testsuites><testsuite name="pytest">{cases}</testsuite></testsuites>', encoding="utf-8")


def _durations(path: Path, count: int) -> None:
    tests = {f"tests/test_m.py::test_{i}": {"seconds": 1.0 + i % 7, "runs": 1} for i in range(count)}
    path.write_text(json.dumps({"format": "sharder-durations", "version": 1, "tests": tests}), encoding="utf-8")


def _old(path: Path) -> bytes:
    """An existing output, small, whose every byte must survive the failed rewrite."""
    if not path.exists():
        if path.suffix == ".json":
            _durations(path, 3)
        else:
            path.write_text(f"old {path.name}\n", encoding="utf-8")
    return path.read_bytes()


# (what, argv, the file it rewrites)
WRITERS = [
    ("plan -o", ["plan", "--shards", "3", "--from-durations", "--durations", "big.json", "-o", "plan.json"],
     "plan.json"),
    ("rebalance", ["rebalance", "report.xml"], "durations.json"),
    ("record --from-junit", ["record", "--from-junit", "report.xml"], "durations.json"),
    ("merge -o", ["merge", "report.xml", "-o", "merged.xml"], "merged.xml"),
    ("merge --markdown", ["merge", "failing.xml", "--markdown", "summary.md"], "summary.md"),
]


def _setup(directory: Path) -> None:
    _report(directory / "report.xml")
    _report(directory / "failing.xml", failing=CASES)
    _durations(directory / "big.json", CASES)


def _leftovers(directory: Path, name: str) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(f".{name}.") or "partial" in p.name)


def _over_file_size_limit() -> None:
    _limit_child()
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))


def _run_over_file_size_limit(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python -m sharder ARGV` under the file size limit. Without a bytecode cache: Python would write the cache
    of any module it compiles first, cut at the limit (importlib ignores a short write) and renamed into place, so
    every later process importing that module would die on `marshal data too short`."""
    return subprocess.run([sys.executable, "-m", "sharder", *argv], cwd=cwd,
                          env={**env, "PYTHONDONTWRITEBYTECODE": "1"}, capture_output=True, text=True, timeout=300,
                          check=False, preexec_fn=_over_file_size_limit)


@pytest.mark.parametrize(("what", "argv", "output"), WRITERS, ids=[w for w, _, _ in WRITERS])
def test_a_write_over_ulimit_f_is_one_line_and_leaves_the_old_file(
    what: str, argv: list[str], output: str, tmp_path: Path, sharder_env: dict[str, str],
    ledger: Callable[[str, str], None],
) -> None:
    _setup(tmp_path)
    before = _old(tmp_path / output)
    proc = _run_over_file_size_limit(argv, tmp_path, sharder_env)
    outcome = Outcome(proc.returncode, proc.stdout, proc.stderr)
    ledger(f"{what} over ulimit -f ({FILE_SIZE_LIMIT // 1024} KiB)", outcome.observed)
    assert_clean_refusal(outcome)
    # merge -o copies each report to a temporary file first (streamed into the merged report): either refusal
    assert "File too large (over the file size limit, ulimit -f)" in outcome.stderr, outcome.stderr
    assert f"{output}'" in outcome.stderr or "for the merged report" in outcome.stderr, outcome.stderr
    assert (tmp_path / output).read_bytes() == before
    assert _leftovers(tmp_path, output) == []


RECORD_SUITE = "".join(f"def test_{i}():\n    pass\n\n\n" for i in range(300))


def test_a_recording_run_over_ulimit_f_fails_cleanly(
    tmp_path: Path, sharder_env: dict[str, str], ledger: Callable[[str, str], None]
) -> None:
    """`sharder record` runs pytest, whose plugin rewrites durations.json at the end: the same one line (among
    pytest's own output), exit 2, and the old file."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_many.py").write_text(RECORD_SUITE)
    before = _old(tmp_path / "durations.json")
    proc = _run_over_file_size_limit(["record", "--", "-q", "-p", "no:cacheprovider"], tmp_path, sharder_env)
    errors = [line for line in (proc.stdout + proc.stderr).splitlines() if "cannot write" in line]
    ledger("record (pytest run) over ulimit -f", f"exit {proc.returncode}: {errors[0] if errors else proc.stderr[-200:]}")
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stdout + proc.stderr and "INTERNALERROR" not in proc.stdout + proc.stderr
    assert len(errors) == 1 and "durations.json': File too large" in errors[0], proc.stdout[-2000:]
    assert (tmp_path / "durations.json").read_bytes() == before
    assert _leftovers(tmp_path, "durations.json") == []


# Run inside a user and mount namespace of its own: mount a small tmpfs, lay out the inputs and the old output,
# fill the rest of the disk, run sharder there, and report what it answered and what was left on the disk.
FULL_DISK_SCRIPT = r'''
import json, os, shutil, subprocess, sys
mount, source, output, argv = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mount], check=True)
for name in os.listdir(source):
    shutil.copy(os.path.join(source, name), mount)
filler = os.open(os.path.join(mount, "filler"), os.O_WRONLY | os.O_CREAT)
try:
    while True:
        os.write(filler, b"\0" * 4096)
except OSError:
    os.close(filler)
proc = subprocess.run([sys.executable, "-m", "sharder", *argv], cwd=mount, capture_output=True, text=True)
with open(os.path.join(mount, output), "rb") as kept:
    old = kept.read().decode("latin-1")
print(json.dumps({"code": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr, "old": old,
                  "files": sorted(os.listdir(mount))}))
'''


def _user_namespaces() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "true"], capture_output=True, check=False)
    return probe.returncode == 0


@pytest.mark.skipif(not _user_namespaces(), reason="no user namespaces here (unshare --user fails): no tmpfs to fill")
@pytest.mark.parametrize(("what", "argv", "output"), WRITERS[:4], ids=[w for w, _, _ in WRITERS[:4]])
def test_a_write_to_a_full_disk_is_one_line_and_leaves_the_old_file(
    what: str, argv: list[str], output: str, tmp_path: Path, sharder_env: dict[str, str],
    ledger: Callable[[str, str], None],
) -> None:
    source = tmp_path / "inputs"
    source.mkdir()
    (tmp_path / "disk").mkdir()
    _report(source / "report.xml")
    _durations(source / "big.json", CASES)
    before = _old(source / output)
    proc = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", sys.executable, "-c", FULL_DISK_SCRIPT,
         str(tmp_path / "disk"), str(source), output, json.dumps(argv)],
        env=sharder_env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = json.loads(proc.stdout)
    outcome = Outcome(seen["code"], seen["stdout"], seen["stderr"])
    ledger(f"{what} on a full tmpfs", outcome.observed)
    assert_clean_refusal(outcome)
    assert f"{output}': No space left on device (the disk is full)" in outcome.stderr, outcome.stderr
    assert seen["old"].encode("latin-1") == before
    assert [name for name in seen["files"] if name.startswith(f".{output}.")] == []


MAKE_COVERAGE = """
import coverage, importlib, os, sys
sys.path.insert(0, os.getcwd())
with open("covered.py", "w") as module:
    module.write("".join(f"def f{i}(x):\\n    return x + {i}\\n\\n" for i in range(3000)))
for shard in (1, 2):
    cov = coverage.Coverage(data_file=f"reports/shard-{shard}-of-2.coverage")
    cov.start()
    import covered
    importlib.reload(covered)
    for i in range(0, 3000, shard):
        getattr(covered, f"f{i}")(1)
    cov.stop()
    cov.save()
"""
CASE = ('<testsuites><testsuite name="pytest"><testcase classname="t" name="{name}" time="0.1"><properties>'
        '<property name="sharder_shard" value="{shard}"/></properties></testcase></testsuite></testsuites>')


def test_merge_coverage_over_ulimit_f_is_one_line_and_leaves_the_old_data(
    tmp_path: Path, sharder_env: dict[str, str], ledger: Callable[[str, str], None]
) -> None:
    """The combined coverage database is written by sqlite, which reports the refused write as "disk I/O error"."""
    pytest.importorskip("coverage")
    (tmp_path / "reports").mkdir()
    subprocess.run([sys.executable, "-c", MAKE_COVERAGE], cwd=tmp_path, check=True, capture_output=True)
    for shard in (1, 2):
        (tmp_path / "reports" / f"shard-{shard}-of-2.xml").write_text(CASE.format(name=f"t{shard}", shard=f"{shard}/2"))
    (tmp_path / ".coverage").write_bytes(b"old data\n")
    proc = _run_over_file_size_limit(["merge", "reports", "--coverage"], tmp_path, sharder_env)
    outcome = Outcome(proc.returncode, proc.stdout, proc.stderr)
    ledger(f"merge --coverage over ulimit -f ({FILE_SIZE_LIMIT // 1024} KiB)", outcome.observed)
    assert_clean_refusal(outcome)
    assert "--coverage: cannot write '.coverage'" in outcome.stderr, outcome.stderr
    assert (tmp_path / ".coverage").read_bytes() == b"old data\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".coverage.")] == []


SHARD_SUITE = "".join(f"def test_{i}_{'n' * 150}():\n    pass\n\n\n" for i in range(50))


def test_a_progress_log_that_outgrows_ulimit_f_stops_with_one_line_and_the_merge_fails(
    tmp_path: Path, sharder_env: dict[str, str], ledger: Callable[[str, str], None]
) -> None:
    """A shard's log (here without a JUnit report, which would outgrow the limit in pytest's own code) stops with
    one line, not a traceback in pytest's hooks, and the tests still run; the merge refuses the shard, whose log
    never finished, instead of calling it green."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_long.py").write_text(SHARD_SUITE)
    log = tmp_path / "reports" / "shard-1-of-1.progress.jsonl"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                           "--shard", "1/1", f"--sharder-progress-log={log}"], cwd=tmp_path,
                          env={**sharder_env, "PYTHONDONTWRITEBYTECODE": "1"}, capture_output=True, text=True,
                          timeout=300, check=False, preexec_fn=_over_file_size_limit)
    stopped = [line for line in proc.stderr.splitlines() if "progress log" in line and "stopped" in line]
    ledger("a shard's progress log over ulimit -f",
           f"exit {proc.returncode}: {stopped[0] if stopped else proc.stderr[-200:]}")
    assert "Traceback" not in proc.stdout + proc.stderr and "INTERNALERROR" not in proc.stdout + proc.stderr
    assert len(stopped) == 1 and "File too large" in stopped[0], proc.stderr[-2000:]
    assert proc.returncode == 0 and "50 passed" in proc.stdout, proc.stdout[-2000:]
    assert 0 < log.stat().st_size <= FILE_SIZE_LIMIT
    merged = subprocess.run([sys.executable, "-m", "sharder", "merge", "reports"], cwd=tmp_path, env=sharder_env,
                            capture_output=True, text=True, timeout=300, check=False)
    assert merged.returncode != 0 and "Traceback" not in merged.stderr, merged.stdout + merged.stderr
