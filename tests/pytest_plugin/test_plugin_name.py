"""`sharder.plugin` stays the plugin's public name after the plugin moved to `sharder.pytest_plugin.plugin`.

Users write the name in `-p sharder.plugin`, in `pytest_plugins` and in the `pytest11` entry point's target. It
must load the one plugin module, not a copy: a second module object with the same hooks would select every shard
twice over.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sharder.pytest_plugin import plugin

pytestmark = pytest.mark.integration


def test_the_public_name_is_the_plugin_module_itself() -> None:
    assert importlib.import_module("sharder.plugin") is plugin
    assert callable(plugin.pytest_collection_modifyitems)


def test_the_entry_point_loads_the_plugin_module() -> None:
    (entry,) = [ep for ep in importlib.metadata.entry_points(group="pytest11") if ep.name == "sharder"]
    assert entry.value == "sharder.plugin"
    assert entry.load() is plugin


def _suite(root: Path) -> None:
    (root / "pytest.ini").write_text("[pytest]\naddopts = -p no:randomly\n")
    (root / "test_six.py").write_text("".join(f"def test_{n}():\n    pass\n" for n in range(6)))


def _collected(root: Path, *args: str, autoload: bool) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTEST_DISABLE_PLUGIN_AUTOLOAD"}
    if not autoload:
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def _ids(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in done.stdout.splitlines() if "::" in line]


@pytest.mark.parametrize("autoload", [True, False], ids=["entry-point", "autoload-off"])
def test_each_way_of_loading_selects_each_test_once(tmp_path: Path, autoload: bool) -> None:
    """Loaded by the entry point, or with autoload off by `-p sharder.plugin` (what `sharder run` passes then),
    the two shards of six tests hold three each."""
    _suite(tmp_path)
    load = [] if autoload else ["-p", "sharder.plugin"]
    shards = [_collected(tmp_path, *load, f"--shard={k}/2", autoload=autoload) for k in (1, 2)]
    for done in shards:
        assert done.returncode == 0, done.stdout + done.stderr
    first, second = (_ids(done) for done in shards)
    assert len(first) == len(second) == 3
    assert sorted(first + second) == [f"test_six.py::test_{n}" for n in range(6)]
