"""Benchmark: what selecting a shard adds to pytest's collection on a 10,000-test suite (DESIGN.md: under 5%).

A generated suite (bench/collect.py's modules, with `--import-ms` of import work each, 0 by default so the
collection itself dominates) of about `--tests` tests. In one run, interleaved round by round so machine load hits
every mode alike, the whole `pytest --collect-only -q` process:

- without sharder (`-p no:sharder`): pytest's own collection, the baseline;
- shard K/N planned in-process from durations.json (`--shard K/N`): read the durations, plan, select;
- shard K/N from a plan file with `--sharder-full-collection`: read and verify the plan, select (the footprint,
  measured by bench/collect.py, would also skip files; it is turned off here to isolate the selection).

The shard modes print fewer test ids than the baseline, so their output costs less; the figure is the overhead
of the selection net of that, which is what a shard job sees. Besides wall time, the CPU time (user + system) of
each pytest process is shown: on a shared machine other processes inflate wall time at random, CPU time much less.

    python bench/selection_overhead.py [--tests 10000] [--shards 8] [--shard 3] [--repeat 5] [--import-ms 0]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from collect import calibrated_size, pytest_command, selected_count, synthetic_seconds, timed, write_suite

from sharder.core.shardspec import ShardSpec
from sharder.core.table import format_table
from sharder.durations.store import Durations, TestTiming, save_durations
from sharder.planning.plan import write_plan
from sharder.planning.planner import make_plan

TESTS_PER_MODULE = 7  # collect.py's module template: 4 parametrized + 1 + a class of 2


def timed_cpu(argv: Sequence[str], cwd: Path) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system of the child) and stdout of one pytest process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout


def run_select_benchmark(tests: int, shards: int, shard: int, repeat: int, import_ms: float) -> None:
    spec = ShardSpec(shard, shards)
    files = max(1, round(tests / TESTS_PER_MODULE))
    with tempfile.TemporaryDirectory(prefix="sharder-select-") as temporary:
        root = Path(temporary) / "suite"
        size = calibrated_size(import_ms) if import_ms > 0 else 1
        write_suite(root, files, size)
        ids_path = Path(temporary) / "ids.json"
        timed(pytest_command(f"--sharder-collect-to={ids_path}"), root)  # also the warm-up: .pyc files written
        ids = json.loads(ids_path.read_text(encoding="utf-8"))["tests"]
        seconds = synthetic_seconds(ids)
        durations = root / "durations.json"
        save_durations(durations, Durations({node_id: TestTiming(value, 3) for node_id, value in seconds.items()}))
        plan_path = root / "plan.json"
        plan = make_plan(ids, seconds, shards)
        write_plan(plan_path, plan)
        planned = len(plan.bin_for(spec).tests)

        modes = {
            "pytest alone (-p no:sharder)": pytest_command("-p", "no:sharder"),
            f"shard {spec} planned in-process": pytest_command(f"--shard={spec}"),
            f"shard {spec} from plan.json": pytest_command(f"--shard={spec}", f"--sharder-plan={plan_path}",
                                                          "--sharder-full-collection"),
        }
        times: dict[str, list[float]] = {label: [] for label in modes}
        cpu: dict[str, list[float]] = {label: [] for label in modes}
        for _ in range(repeat):
            for label, argv in modes.items():
                elapsed, used, stdout = timed_cpu(argv, root)
                times[label].append(elapsed)
                cpu[label].append(used)
                if label.startswith("shard") and selected_count(stdout, spec) != planned:
                    raise SystemExit(f"{label}: selected {selected_count(stdout, spec)} tests, the plan has {planned}")

    labels = list(modes)
    base_wall, base_cpu = min(times[labels[0]]), min(cpu[labels[0]])
    rows = [(label, f"{min(times[label]):.2f}", f"{statistics.median(times[label]):.2f}",
             f"{min(times[label]) / base_wall:.3f}", f"{min(cpu[label]):.2f}", f"{min(cpu[label]) / base_cpu:.3f}")
            for label in labels]
    print(f"{files} test files, {len(ids)} tests, {import_ms:g} ms of import work each; {shards} shards, "
          f"shard {spec} holds {planned} tests")
    print(f"seconds of the whole `pytest --collect-only -q` process (wall, and CPU of the child), {repeat} interleaved "
          f"rounds (goal: a shard under 1.05 x pytest alone)")
    print(format_table(("process", "wall best s", "wall median s", "wall / alone", "CPU best s", "CPU / alone"), rows))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--tests", type=int, default=10_000)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--shard", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--import-ms", type=float, default=0.0, help="import work per test module (default 0)")
    args = parser.parse_args(argv)
    run_select_benchmark(args.tests, args.shards, args.shard, args.repeat, args.import_ms)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
