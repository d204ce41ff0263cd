"""`[tool.sharder]` in pyproject.toml, and flags winning over it."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from sharder.core.errors import SharderError
from sharder.running.config import load_run_config
from sharder.running.modes import DEFAULT_DIST, resolve_modes

pytestmark = pytest.mark.unit


def _flags(**given: object) -> argparse.Namespace:
    names = ("parallel", "dist", "memory_budget", "timeout", "maxfail", "fast", "module", "coverage", "slowest_first",
             "order")
    return argparse.Namespace(**{name: given.get(name) for name in names})


def test_defaults_without_pyproject(tmp_path: Path) -> None:
    modes = resolve_modes(_flags(), tmp_path)
    assert (modes.parallel, modes.dist, modes.timeout, modes.maxfail, modes.fast) == (1, DEFAULT_DIST, None, None, False)


def test_pyproject_values_and_flags_winning(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.sharder]\nparallel = "auto"\ntimeout = 120\nmaxfail = 5\nfast = true\nslowest-first = true\n'
        'memory_budget = "2G"\nmemory_safety = 0.5\nmodule = "tests/io"\nshards = 8  # another command\'s key\n'
    )
    nested = tmp_path / "sub"
    nested.mkdir()
    modes = resolve_modes(_flags(), nested)  # found by walking up, as pytest finds its rootdir
    assert (modes.parallel, modes.timeout, modes.maxfail, modes.fast, modes.slowest_first) == ("auto", 120, 5, True, True)
    assert (modes.memory_budget_mb, modes.memory_safety, modes.module) == (2048, 0.5, "tests/io")
    flags = resolve_modes(_flags(parallel="3", timeout="7.5", maxfail="1", memory_budget="512M"), nested)
    assert (flags.parallel, flags.timeout, flags.maxfail, flags.memory_budget_mb) == (3, 7.5, 1, 512)


@pytest.mark.parametrize(("line", "message"), [
    ("timeout = 0", "timeout"), ("timeout = -3", "timeout"), ('parallel = "many"', "parallel"),
    ("maxfail = 0", "maxfail"), ('fast = "yes"', "fast"), ("memory_safety = 1.5", "safety"),
    ('order = "random"', "order"),
])
def test_bad_values_name_the_file_and_key(tmp_path: Path, line: str, message: str) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.sharder]\n{line}\n")
    with pytest.raises(SharderError, match=rf"pyproject.toml \[tool.sharder\].*{message}"):
        load_run_config(tmp_path)


def test_broken_toml_is_one_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.sharder\n")
    with pytest.raises(SharderError, match="not valid TOML"):
        load_run_config(tmp_path)


def test_queue_mode_settings_come_from_the_table() -> None:
    from sharder.running.config import config_from_table

    config = config_from_table({"queue": "redis://cache:6379/0", "queue-fallback": "fail"}, "pyproject.toml")
    assert (config.queue, config.queue_fallback) == ("redis://cache:6379/0", "fail")


def test_order_from_pyproject_the_flag_winning_and_two_orders_refused(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.sharder]\norder = "failed-first"\n')
    assert resolve_modes(_flags(), tmp_path).order == "failed-first"
    assert resolve_modes(_flags(order="fast-first"), tmp_path).order == "fast-first"
    with pytest.raises(SharderError, match="two orders"):
        resolve_modes(_flags(slowest_first=True), tmp_path)
