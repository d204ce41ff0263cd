"""Benchmark: what out-of-proportion inputs cost, this checkout beside an older one, in one run (issue 15, 11-12).

- item 11: `sharder plan --shards N --from-durations` on 10 tests (N = 999,999 by default): wall time, peak RSS,
  plan.json size, table lines; and reading that plan back, which every shard job does;
- item 12: a durations path that is a FIFO, or a symlink to /dev/zero: the time to the refusal.

Each row is one real `python -m sharder` process with PYTHONPATH set to the checkout it measures, its peak RSS
from wait4(). The old code gets guards so the machine survives it: a ceiling of `--memory-ceiling-gb` on its
address space (it reads /dev/zero until MemoryError) and `--hang-timeout` seconds before a blocked process is
killed (it waits on a FIFO forever).

    python bench/bounds.py [--before ../base-checkout] [--shards 999999] [--hang-timeout 10]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sharder.core.table import format_table  # noqa: E402  (after the path: run as a script from anywhere)


@dataclass
class Measured:
    code: int | None  # None: still running at the timeout, killed
    seconds: float
    peak_rss_mb: float
    first_line: str


def _ceiling(gigabytes: float) -> Callable[[], None]:
    limit = int(gigabytes * 1024 ** 3)

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


def measure(argv: Sequence[str], checkout: Path, cwd: Path, *, timeout: float, ceiling_gb: float) -> Measured:
    """`python ARGV` with `checkout` first on the path; killed after `timeout` seconds."""
    env = {**os.environ, "PYTHONPATH": str(checkout), "PYTHONDONTWRITEBYTECODE": "1"}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, *argv], cwd=cwd, env=env, stdout=out, stderr=err,
                                preexec_fn=_ceiling(ceiling_gb))
        code: int | None = None
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                code = os.waitstatus_to_exitcode(status)
                break
            if time.perf_counter() - started > timeout:
                os.kill(proc.pid, signal.SIGKILL)
                _, _, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.005)
        seconds = time.perf_counter() - started
        proc.returncode = code if code is not None else -signal.SIGKILL  # reaped by wait4, not by Popen
        err.seek(0)
        out.seek(0)
        lines = [line for line in err.read().decode("utf-8", "replace").splitlines() if line.strip()]
        table = out.read().decode("utf-8", "replace").splitlines()
    # A success is its table (plan also says on stderr where its timings came from); a refusal its last line.
    first = lines[-1] if lines and code != 0 else f"{len(table)} lines of table"
    return Measured(code, seconds, usage.ru_maxrss / 1024, first)


def _ten_tests(path: Path) -> None:
    tests = {f"tests/test_m.py::test_{i}": {"seconds": float(i + 1), "runs": 1} for i in range(10)}
    path.write_text(json.dumps({"format": "sharder-durations", "version": 1, "tests": tests}), encoding="utf-8")


def _outcome(result: Measured, timeout: float) -> str:
    if result.code is None:
        return f"blocked, killed after {timeout:g} s"
    return f"exit {result.code}: {result.first_line[:110]}"


def run_bounds_benchmark(checkouts: dict[str, Path], shards: int, hang_timeout: float, ceiling_gb: float) -> None:
    rows: list[tuple[str, str, str, str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="sharder-bounds-") as temporary:
        for label, checkout in checkouts.items():
            work = Path(temporary) / label
            work.mkdir()
            _ten_tests(work / "durations.json")
            plan = work / "plan.json"
            # Test by test: every test in a shard of its own, the most rows a table of 10 tests can have.
            argv = ["-m", "sharder", "plan", "--shards", str(shards), "--from-durations", "--group-by", "test", "-o",
                    plan.name]
            result = measure(argv, checkout, work, timeout=600, ceiling_gb=ceiling_gb)
            size = f"{plan.stat().st_size / 1e6:.1f} MB" if plan.exists() else "-"
            rows.append((label, f"plan --shards {shards} --from-durations, 10 tests", f"{result.seconds:.2f}",
                         f"{result.peak_rss_mb:.0f}", size, _outcome(result, 600)))
            if plan.exists():
                reader = ["-c", f"from sharder.planning.plan import read_plan; read_plan({str(plan)!r})"]
                read = measure(reader, checkout, work, timeout=600, ceiling_gb=ceiling_gb)
                rows.append((label, "read that plan.json back (each shard job does)", f"{read.seconds:.2f}",
                             f"{read.peak_rss_mb:.0f}", "-", f"exit {read.code}"))
            fifo = work / "fifo.json"
            os.mkfifo(fifo)
            zero = work / "zero.json"
            zero.symlink_to("/dev/zero")
            for name, path in (("a FIFO", fifo), ("a symlink to /dev/zero", zero)):
                argv = ["-m", "sharder", "plan", "--shards", "2", "--from-durations", "--durations", path.name, "-o",
                        "p.json"]
                result = measure(argv, checkout, work, timeout=hang_timeout, ceiling_gb=1.0)
                rows.append((label, f"durations file is {name}", f"{result.seconds:.2f}",
                             f"{result.peak_rss_mb:.0f}", "-", _outcome(result, hang_timeout)))
    print(f"Out-of-proportion inputs, one process each (old code capped at {ceiling_gb:g} GB of address space, "
          "1 GB for /dev/zero)")
    print(format_table(("code", "what", "seconds", "peak RSS MB", "plan.json", "outcome"), rows))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--before", type=Path, help="a checkout of the code to compare with (e.g. a git worktree)")
    parser.add_argument("--shards", type=int, default=999_999)
    parser.add_argument("--hang-timeout", type=float, default=10.0)
    parser.add_argument("--memory-ceiling-gb", type=float, default=4.0)
    args = parser.parse_args(argv)
    checkouts = {"before": args.before.resolve()} if args.before else {}
    checkouts["after"] = ROOT
    run_bounds_benchmark(checkouts, args.shards, args.hang_timeout, args.memory_ceiling_gb)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
