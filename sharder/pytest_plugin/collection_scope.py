"""Whether a pytest session collected the whole suite as configured, or what narrowed it.

A durations store prunes "tests no longer collected", which is only true of a collection of the whole suite: a
`sharder record -- --pyargs pkg_b` into a store holding package A's timings deleted all 2,232 of them, and a plan
made with `-k` dropped the timings of every test outside `-k` once its shards were rebalanced. So the session
says what narrowed it (`sharder plan` writes that into `plan.json` as `selected_by`, `record` into the store's
`last_update`), and only an empty answer lets an update prune.

Narrowing: `-k`, `-m`, `--deselect`, `--lf`, `--sw`, `--pyargs`, `--ignore`/`--ignore-glob`, paths or node ids
that do not cover the configured `testpaths` (or the rootdir when there are none), also when pytest was started in
a subdirectory, any test another plugin deselected, and collection errors (a module that failed to import still
exists). Options from the ini file's `addopts` count as well: `-m "not slow"` there leaves the slow tests out of
every collection, and their timings, recorded by another job, are not stale.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import pytest


def narrowed_by(config: pytest.Config, *, deselected: int, collection_errors: int) -> list[str]:
    """What narrowed this session's collection, each as the user would write it; [] for the whole suite."""
    option = config.option
    reasons: list[str] = []
    keyword = getattr(option, "keyword", "")
    if keyword:
        reasons.append(f"-k {keyword}")
    markexpr = getattr(option, "markexpr", "")
    if markexpr:
        reasons.append(f"-m {markexpr}")
    for name, spelling in (("deselect", "--deselect"), ("lf", "--lf"), ("stepwise", "--sw"),
                           ("stepwise_skip", "--sw-skip"), ("pyargs", "--pyargs"), ("ignore", "--ignore"),
                           ("ignore_glob", "--ignore-glob")):
        if getattr(option, name, None):
            reasons.append(spelling)
    narrower = _paths_short_of_the_suite(config)
    if narrower:
        reasons.append(f"paths {' '.join(narrower)}")
    if deselected and not reasons:
        reasons.append(f"{deselected} tests deselected by a plugin")
    if collection_errors:
        reasons.append(f"{collection_errors} collection error{'s' if collection_errors != 1 else ''}")
    return reasons


def _suite_paths(config: pytest.Config) -> list[Path]:
    """Where the whole suite lives: the configured testpaths (globs expanded, as pytest does), else the rootdir."""
    root = config.rootpath
    found: list[Path] = []
    for pattern in config.getini("testpaths"):
        found.extend(Path(match) for match in sorted(glob.iglob(os.fspath(root / pattern), recursive=True)))
    return [path.resolve() for path in found] or [root.resolve()]


def _paths_short_of_the_suite(config: pytest.Config) -> list[str]:
    """The arguments pytest collected from, when together they do not cover every suite path; else []."""
    if getattr(config.option, "pyargs", False):
        return []  # module names, not paths: `--pyargs` is reported by itself
    base = config.invocation_params.dir
    given: list[Path] = []
    for arg in config.args:
        if "::" in arg:  # a node id: part of a file at most
            return list(config.args)
        given.append((base / arg).resolve())
    for suite_path in _suite_paths(config):
        if not any(suite_path == path or path in suite_path.parents for path in given):
            return [os.path.relpath(path, config.rootpath) for path in given]
    return []
