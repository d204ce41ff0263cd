"""Which durations file a command reads and writes: the one the user named, else the one at the project root.

The plugin reads `durations.json` at pytest's rootdir; every command must find the same file, or `sharder plan`
run from `tests/` plans with no durations while the shard jobs select with them (two different partitions).
"""

from __future__ import annotations

from pathlib import Path

from sharder.durations import store

# Files that make a directory pytest's rootdir when found above the invocation directory (pytest's own order).
ROOT_MARKERS = ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")


def project_root(start: Path) -> Path:
    """The directory pytest would most likely take as its rootdir: the nearest one, from `start` up, that holds a
    durations file, a pytest configuration file or `.git`; `start` itself when there is none."""
    for directory in (start, *start.parents):
        found = store.find_durations_file(directory)
        if found.exists() or any((directory / marker).exists() for marker in (*ROOT_MARKERS, ".git")):
            return directory
    return start


def durations_path(given: str | None) -> Path:
    """The durations file the user named, else `durations.json` at the project root (see `project_root`), else
    pytest-split's `.test_durations` there."""
    return Path(given) if given else store.find_durations_file(project_root(Path.cwd().resolve()))
