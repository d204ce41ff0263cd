"""The wall-time model: what a shard takes from its process start to its end, not only its tests.

    wall = fixed + per_test x tests + sum of the tests' seconds + fixture charges + import of every file it collects

`fixed` is what every process pays once (start, the non-file part of collection, before the first test, after
the last); a file's import and collection is paid by every shard that collects it, so a file split over k shards
is paid k times. The numbers are the store's costs (`sharder.durations.costs`), measured by `sharder record` and
by every shard's progress log. A file with no recorded cost (new since the last record) is taken at the median of
the recorded ones: every test file costs something to import, and zero would make splitting it look free.

Pure: numbers and strings in, numbers out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sharder.durations.costs import SuiteCosts


@dataclass(frozen=True)
class WallModel:
    fixed_seconds: float = 0.0
    per_test_seconds: float = 0.0
    file_seconds: Mapping[str, float] = field(default_factory=dict)
    unknown_file_seconds: float = 0.0

    @classmethod
    def of(cls, costs: SuiteCosts) -> WallModel:
        known = sorted(costs.files.values())
        middle = len(known) // 2
        median = 0.0 if not known else known[middle] if len(known) % 2 else (known[middle - 1] + known[middle]) / 2
        return cls(costs.fixed_seconds, costs.per_test_seconds, dict(costs.files), median)

    def import_seconds(self, file: str) -> float:
        return self.file_seconds.get(file, self.unknown_file_seconds)

    def imports_of(self, files: Iterable[str]) -> dict[str, float]:
        return {file: self.import_seconds(file) for file in files}


def import_charges(file_of_test: Sequence[str], shard_of_test: Sequence[int], shards: int,
                   import_seconds: Mapping[str, float]) -> list[float]:
    """Per shard: the import cost of every distinct file among its tests."""
    charges = [0.0] * shards
    for file, shard in sorted(set(zip(file_of_test, shard_of_test, strict=True))):  # sorted: the same float sums
        charges[shard] += import_seconds.get(file, 0.0)
    return charges
