"""Where sharder's tests find the repository, their example suites and the shared benchmark data, from any depth of
`tests/`."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_SUITES = REPO / "tests" / "example_suites"
# ../shared beside the clone (DESIGN.md, bench/): present on developers' machines and in CI.
SHARED_BENCH_DURATIONS = REPO.parent / "shared" / "bench" / "durations"
