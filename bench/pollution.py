"""Benchmark: pytest runs to find a polluter, `sharder replay --bisect` beside detect-test-pollution (PyPI).

Copies `tests/example_suites/polluted/` to a scratch directory, plans 2 shards and runs shard 2/2 as CI would (it
fails), then asks each tool which test pollutes each victim:

- sharder: `sharder replay --from reports/shard-2-of-2.xml --bisect VICTIM` (searches the tests before the victim
  in the shard, in the shard's order);
- detect-test-pollution: `--tests .` (discovers the whole suite and bisects every other test), and
  `--testids-file` with the shard's ids (the same knowledge sharder has).

pytest processes and the tests they ran are counted by the suite's conftest (SHARDER_TEST_RUN_LOG: a line per
session and per test, whoever started it), not by either tool's own account. Side by side in one run; the ratios
to sharder's counts are the result (wall time is shown, but on a 37-test suite it is mostly interpreter start-up).

    python bench/pollution.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sharder.core.progress_log import read_progress_log

SUITE = Path(__file__).resolve().parent.parent / "tests" / "example_suites" / "polluted"
VICTIMS = {
    "one polluter": ("test_pricing.py::test_price_label_in_euros", "test_accounts.py::test_switch_account_to_dollars"),
    "two together": ("test_pricing.py::test_standard_checkout",
                     "test_accounts.py::test_enable_fast_lane + test_catalog.py::test_enable_prepaid"),
}


def _env(counter: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "SHARDER_", "PYTEST_ADDOPTS"))}
    return {**env, "SHARDER_TEST_RUN_LOG": str(counter)}


def measure(argv: list[str], cwd: Path, counter: Path) -> tuple[int, int, float, str]:
    """(pytest processes, tests executed over all of them, seconds, the tool's last words)."""
    counter.unlink(missing_ok=True)
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=_env(counter), capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    logged = counter.read_text().splitlines() if counter.exists() else []
    runs = sum(line.startswith("session ") for line in logged)
    tests = sum(line.startswith("test ") for line in logged)
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    answer = next((line for line in reversed(lines) if "polluter" in line or "polluting" in line
                   or "together" in line or "Error" in line), lines[-1] if lines else "")
    return runs, tests, seconds, f"exit {done.returncode}: {answer.strip()[:110]}"


def main() -> int:
    dtp = shutil.which("detect-test-pollution", path=os.path.dirname(sys.executable)) or shutil.which(
        "detect-test-pollution")
    if dtp is None:
        print("detect-test-pollution is not installed (pip install detect-test-pollution)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="sharder-bench-pollution-") as scratch:
        root = Path(scratch) / "suite"
        shutil.copytree(SUITE, root, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "reports"))
        counter = Path(scratch) / "runs"
        sharder = [sys.executable, "-m", "sharder"]
        subprocess.run([*sharder, "plan", "--shards", "2"], cwd=root, check=True, capture_output=True)
        subprocess.run([*sharder, "run", "--shard", "2/2", "--plan", "plan.json"], cwd=root, capture_output=True,
                       check=False)
        order = read_progress_log(root / "reports" / "shard-2-of-2.progress.jsonl").order
        shard_ids = Path(scratch) / "shard.ids"
        shard_ids.write_text("".join(node_id + "\n" for node_id in order))
        print(f"suite: {SUITE.name}, shard 2/2 of 2: {len(order)} tests\n")
        for case, (victim, polluter) in VICTIMS.items():
            before = order.index(victim)
            print(f"{case}: victim {victim} (position {before + 1} in the shard), polluter {polluter}")
            tools = {
                "sharder replay --bisect": [*sharder, "replay", "--from", "reports/shard-2-of-2.xml",
                                            "--bisect", victim, "--work-dir", str(Path(scratch) / "work")],
                "detect-test-pollution --tests .": [dtp, "--failing-test", victim, "--tests", "."],
                "detect-test-pollution --testids-file (shard)": [dtp, "--failing-test", victim,
                                                                 "--testids-file", str(shard_ids)],
            }
            results = {name: measure(argv, root, counter) for name, argv in tools.items()}
            sharder_runs = results["sharder replay --bisect"]
            print(f"  {'':46s} {'pytest runs':>11s} {'(ratio)':>8s} {'tests run':>9s} {'(ratio)':>8s} {'seconds':>7s}")
            for name, (runs, tests, seconds, answer) in results.items():
                base_runs, base_tests = sharder_runs[0], sharder_runs[1]
                print(f"  {name:46s} {runs:11d} {runs / base_runs:7.2f}x {tests:9d} {tests / base_tests:7.2f}x "
                      f"{seconds:7.1f}  {answer}")
            print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
