"""What the benchmarks compare sharder with: pytest-split's algorithms, called from the installed package.

pytest-split's algorithms take pytest items; they read only `item.nodeid`, and `least_duration` breaks ties on
`str(item)`, which for a real pytest Function is `<Function name[params]>` (no path). The stand-in reproduces
both, so the tie-breaking is the one users get.

Also where the shared benchmark data lives, and the score every benchmark reports.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from pytest_split.algorithms import Algorithms

DEFAULT_SHARED = Path(__file__).resolve().parents[2] / "shared"
DEFAULT_SHARDS = "2-8,10,12,16,20,24,32,40,48,64"
PYTEST_SPLIT_ALGORITHMS = ("least_duration", "duration_based_chunks")


class StandInItem:
    """Just enough of a pytest Item for pytest-split: a node id and pytest's `str()`."""

    __slots__ = ("nodeid",)

    def __init__(self, nodeid: str) -> None:
        self.nodeid = nodeid

    def __repr__(self) -> str:
        return f"<Function {self.nodeid.rsplit('::', 1)[-1]}>"


def pytest_split_bins(algorithm: str, node_ids: Sequence[str], durations: Mapping[str, float],
                      shards: int) -> list[list[str]]:
    """The node ids of each of pytest-split's groups, items given in collection order."""
    items = [StandInItem(node_id) for node_id in node_ids]
    groups = Algorithms[algorithm].value(shards, items, dict(durations))  # type: ignore[arg-type]
    return [[item.nodeid for item in group.selected] for group in groups]


def makespan(bins: Iterable[Iterable[str]], actual: Mapping[str, float],
             charges: Sequence[float] | None = None) -> float:
    """The slowest shard when each test takes its `actual` seconds (plus a per-shard fixture charge)."""
    loads = [math.fsum(actual[node_id] for node_id in shard) for shard in bins]
    if charges is not None:
        loads = [load + charge for load, charge in zip(loads, charges, strict=True)]
    return max(loads, default=0.0)


def load_flat(path: Path) -> dict[str, float]:
    """A `.test_durations`-style file, keys in file order (the benchmark's stand-in for collection order)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return {str(node_id): float(seconds) for node_id, seconds in data.items()}


def geometric_mean(values: Sequence[float]) -> float:
    return math.exp(math.fsum(math.log(v) for v in values) / len(values)) if values else math.nan


def shard_counts(text: str) -> list[int]:
    """`2-64` (every N), `2,4,8` or a mix: `2-8,16,32`."""
    counts: set[int] = set()
    for part in text.split(","):
        low, _, high = part.partition("-")
        counts.update(range(int(low), int(high or low) + 1))
    return sorted(counts)


def bench_parser(doc: str | None) -> argparse.ArgumentParser:
    """The options every data-driven benchmark takes: where the shared data is, and which shard counts."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0] if doc else None)
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="the shared directory (holds bench/)")
    parser.add_argument("--shards", type=shard_counts, default=shard_counts(DEFAULT_SHARDS),
                        help=f"shard counts, e.g. 2-64 or 2,4,8 (default {DEFAULT_SHARDS})")
    return parser


def history_projects(shared: Path, names: str | None, tool: str) -> list[Path]:
    """The history folders under `shared`/bench/history (only `names`, comma-separated, when given); an empty
    list after saying on stderr that there are none, for the caller to exit 2."""
    import sys

    root = shared / "bench" / "history"
    projects = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if names:
        projects = [p for p in projects if p.name in names.split(",")]
    if not projects:
        print(f"{tool}: no histories in {root}", file=sys.stderr)
    return projects

