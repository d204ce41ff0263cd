"""A shard's collection footprint: which test files it must collect, and which it may skip, given its plan.

Every shard otherwise imports the whole suite before it runs its slice; on a suite with import-heavy test modules
that is most of a short shard's time. When the plan is known, the files holding none of this shard's tests need
not be imported. Skipping is only safe under rules that keep pytest's view of the suite otherwise unchanged:

- Only files the plan names (some planned id starts with `FILE::`) are ever skipped. A file the plan does not
  know is collected as pytest would collect it, so a test file added after the plan was made is still imported,
  its tests show up as collected-but-unplanned, and the plan check reports it (`unplanned_files`). That is the
  new-file detection: pytest's own collection decides what a test file is (python_files, doctest modules and
  globs, third-party collectors), where a separate directory walk could only guess.
- Directories are never skipped, and neither are `conftest.py` and `__init__.py`: conftests load when their
  directory is collected and their hooks act on the whole session, so every conftest loads as in a full run.
- Every planned id must name an existing file under the rootdir (node ids are rootdir-relative). If not, the ids
  came from another rootdir or from items no file produced (a plugin's session-wide item), or files were removed;
  the shard then collects everything and the full check explains the difference.

Pure apart from the `is_file` probe, which callers may replace: knows node ids and paths, not pytest.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass

from sharder.core.nodeid import module_of
from sharder.core.shardspec import ShardSpec
from sharder.planning.plan import Plan
from sharder.pytest_plugin.options import FULL_COLLECTION_OPTION

# Never skipped even when they hold no test of the shard: importing them is what loads fixtures and hooks
# (conftest.py), or what every module of a package imports anyway (__init__.py).
NEVER_SKIPPED = frozenset({"conftest.py", "__init__.py"})

# How many file names a header or an error names before it says "and N more".
EXAMPLE_FILES = 3


def path_key(path: str | os.PathLike[str]) -> str:
    """The form in which a planned file and a path pytest offers are compared (lexical, as pytest builds ids)."""
    return os.path.normcase(os.path.normpath(os.fspath(path)))


def _examples(files: Collection[str]) -> str:
    shown = sorted(files)[:EXAMPLE_FILES]
    more = len(files) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _is_skippable_name(planned_file: str) -> bool:
    return planned_file.replace("\\", "/").rsplit("/", 1)[-1] not in NEVER_SKIPPED


@dataclass(frozen=True)
class Footprint:
    """The planned files this shard collects (`needed`) and the planned files of other shards it skips."""

    spec: ShardSpec
    needed: frozenset[str]
    skippable: Mapping[str, str]  # path_key(absolute path) -> the file as the plan's ids spell it
    planned_files: int

    def skipped_file(self, path: str | os.PathLike[str]) -> str | None:
        """The planned file at `path` if this shard skips it, else None (pytest decides as usual)."""
        return self.skippable.get(path_key(path))

    def header(self) -> str:
        return (
            f"sharder: footprint: collecting {self.planned_files - len(self.skippable)} of {self.planned_files} "
            f"planned files (those holding shard {self.spec}'s tests) and any file the plan does not know; "
            f"off: {FULL_COLLECTION_OPTION}"
        )


@dataclass(frozen=True)
class FullCollection:
    """Why this shard collects the whole suite."""

    reason: str

    def header(self) -> str:
        return f"sharder: collecting the whole suite: {self.reason}"


def plan_footprint(
    plan: Plan, spec: ShardSpec, rootdir: str | os.PathLike[str], *, is_file: Callable[[str], bool] = os.path.isfile
) -> Footprint | FullCollection:
    """Decide what shard `spec` of `plan` collects under `rootdir` (a plan for another shard count is an error)."""
    shard_files = {module_of(node_id) for node_id in plan.bin_for(spec).tests}
    planned_files = {module_of(node_id) for shard_bin in plan.bins for node_id in shard_bin.tests}
    root = os.fspath(rootdir)
    located = {planned_file: os.path.normpath(os.path.join(root, planned_file)) for planned_file in planned_files}
    absent = [planned_file for planned_file, path in located.items() if not planned_file or not is_file(path)]
    if absent:
        return FullCollection(
            f"{len(absent)} of {len(planned_files)} files the plan's ids name are not files under the rootdir "
            f"{root} ({_examples(absent)}): ids from another rootdir, non-file items, or removed files"
        )
    skippable = {
        path_key(located[planned_file]): planned_file
        for planned_file in planned_files - shard_files
        if _is_skippable_name(planned_file)
    }
    if not skippable:
        return FullCollection(f"every planned file holds a test of shard {spec}, nothing to skip")
    return Footprint(spec, frozenset(shard_files), skippable, len(planned_files))


def unplanned_files(collected_not_planned: Iterable[str], planned_ids: Iterable[str]) -> list[str]:
    """Files of collected tests that no planned id names: test files added after the plan was made, sorted."""
    known = {module_of(node_id) for node_id in planned_ids}
    return sorted({module_of(node_id) for node_id in collected_not_planned} - known)


def in_skipped_file(node_id: str, skipped_files: Collection[str]) -> bool:
    """Whether a planned id lives in a file the footprint skipped (so its absence proves nothing)."""
    return bool(skipped_files) and module_of(node_id) in skipped_files
