"""Combine the shards' coverage data files (`sharder run --coverage`) into one, for `sharder merge --coverage`.

Each shard writes `JUNIT_DIR/shard-K-of-N.coverage`; the report job downloads them all beside the JUnit reports.
Coverage numbers from a partial set of shards look plausible and are wrong, so a shard that reported tests but
sent no coverage data is named, and the merge fails, rather than a lower percentage going unnoticed.

coverage.py does the combining (its data files are SQLite databases with their own schema; only coverage.py
should write them). It reads the usual configuration of the working directory, so `[tool.coverage.paths]`
remaps the shards' checkout paths when CI jobs ran in different directories.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sharder.core.errors import SharderError

COVERAGE_SUFFIX = ".coverage"
_SHARD_STEM = re.compile(r"^(?P<stem>shard-\d+-of-\d+)\.coverage$")


@dataclass(frozen=True)
class CoverageCombined:
    output: Path
    inputs: tuple[Path, ...]
    measured_files: int
    shards_without_data: tuple[str, ...]  # report stems (shard-K-of-N) that reported tests but sent no coverage


def coverage_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The `*.coverage` data files given directly or lying directly in the given directories, sorted."""
    found: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.update(child for child in path.iterdir() if child.name.endswith(COVERAGE_SUFFIX) and child.is_file())
        elif path.name.endswith(COVERAGE_SUFFIX) and path.is_file():
            found.add(path)
    return sorted(found)


def shard_stem(path: Path) -> str | None:
    """`shard-3-of-8` for `shard-3-of-8.coverage`, None for a data file sharder did not name."""
    match = _SHARD_STEM.match(path.name)
    return match.group("stem") if match else None


def combine_coverage(
    paths: Sequence[str | os.PathLike[str]], output: str | os.PathLike[str], reporting_stems: Iterable[str],
) -> CoverageCombined:
    """Combine every shard's data file found in PATHS into OUTPUT, keeping the inputs.

    `reporting_stems` are the shards that sent test results; any of them without a data file is listed in the
    result so the caller can fail loudly.
    """
    try:
        import coverage
    except ImportError as exc:
        raise SharderError("--coverage needs coverage.py: pip install 'pytest-sharder[coverage]'") from exc

    inputs = coverage_files(paths)
    if not inputs:
        raise SharderError("--coverage: no coverage data files (*.coverage) in the given paths; "
                           "were the shards run with `sharder run --coverage`?")
    target = Path(output).resolve()
    if target in {path.resolve() for path in inputs}:
        raise SharderError(f"--coverage: output {os.fspath(output)} is also one of the inputs; choose another path")
    have = {stem for stem in map(shard_stem, inputs) if stem is not None}
    missing = tuple(sorted(set(reporting_stems) - have))
    # Combine into a fresh temp file beside the target, then rename: a reader never sees half a database.
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    partial.unlink(missing_ok=True)
    import sqlite3

    try:
        combined = coverage.Coverage(data_file=os.fspath(partial))
        try:
            combined.combine([os.fspath(path) for path in inputs], strict=True, keep=True)
        except coverage.CoverageException as exc:
            raise SharderError(f"--coverage: cannot combine the coverage data: {exc}") from exc
        combined.save()
        measured = len(combined.get_data().measured_files())
        os.replace(partial, target)
    except (sqlite3.Error, OSError) as exc:  # a full disk or `ulimit -f`: sqlite says "disk I/O error"
        raise SharderError(f"--coverage: cannot write {os.fspath(output)!r}: {exc}; the old file, if any, is "
                           "unchanged") from None
    finally:
        for leftover in (partial, partial.with_name(partial.name + "-journal")):
            leftover.unlink(missing_ok=True)
    return CoverageCombined(target, tuple(inputs), measured, missing)
