"""Benchmark: whole-process wall time of `sharder plan --from-durations` on a generated 200,000-test file.

The goal (issue 2 and 7) is under 1 s on this machine for the whole process: interpreter start, imports, reading
and checking the durations, planning, writing plan.json. Beside it, in the same run: a bare interpreter start and a
process that only `json.load`s the same file, the floor any Python planner stands on. Best of `--repeat` runs.

    python bench/plan_speed.py [--tests 200000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from sharder.core.table import format_table


def generated_durations(count: int, seed: int = 2) -> dict[str, float]:
    """Ids over directories, modules, classes and parameters; log-normal seconds with a heavy tail."""
    rng = random.Random(seed)
    tests: dict[str, float] = {}
    number = 0
    while len(tests) < count:
        module = number // 150
        klass = f"::TestCase{number % 6}" if number % 4 else ""
        node_id = f"tests/pkg_{module % 37}/sub_{module % 5}/test_mod_{module}.py{klass}::test_{number % 97}[p{number}]"
        tests[node_id] = round(rng.lognormvariate(-2.5, 1.6), 6)
        number += 1
    return tests


def write_inputs(directory: Path, count: int) -> dict[str, Path]:
    durations = generated_durations(count)
    flat = directory / "flat.test_durations"
    flat.write_text(json.dumps(durations, indent=4), encoding="utf-8")
    ours = directory / "durations.json"
    records = {
        node_id: {"seconds": seconds, "runs": 3, "setup_seconds": round(seconds / 10, 6)}
        for node_id, seconds in durations.items()
    }
    ours.write_text(json.dumps({"format": "sharder-durations", "version": 1, "tests": records}, indent=1),
                    encoding="utf-8")
    return {"pytest-split flat map": flat, "sharder format (runs, setup)": ours}


def best_wall_time(argv: Sequence[str], repeat: int, cwd: Path) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - start)
    return best


def run_speed_benchmark(count: int, repeat: int = 3, shard_counts: Sequence[int] = (8, 64)) -> None:
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="sharder-speed-") as temporary:
        directory = Path(temporary)
        inputs = write_inputs(directory, count)
        rows: list[tuple[str, str, str]] = [
            ("python -c pass", "-", f"{best_wall_time([python, '-c', 'pass'], repeat, directory):.3f}"),
        ]
        for label, path in inputs.items():
            load_only = [python, "-c", f"import json; json.load(open({str(path)!r}, 'rb'))"]
            rows.append((f"json.load only, {label}", f"{path.stat().st_size / 1e6:.1f} MB",
                         f"{best_wall_time(load_only, repeat, directory):.3f}"))
            for shards in shard_counts:
                argv = [python, "-m", "sharder", "plan", "--shards", str(shards), "--from-durations",
                        "--durations", str(path), "-o", str(directory / "plan.json")]
                rows.append((f"sharder plan --shards {shards}, {label}", f"{count} tests",
                             f"{best_wall_time(argv, repeat, directory):.3f}"))
    print(f"Whole-process wall time, best of {repeat} (goal: sharder plan under 1 s)")
    print(format_table(("process", "input", "seconds"), rows))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--tests", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    run_speed_benchmark(args.tests, args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
