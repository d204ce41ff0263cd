"""The `pytest11` entry point: declares conftest_lib's ini options and turns the plugin on only if asked.

Loaded by every pytest run in an environment where sharder is installed, so it must do nothing else: a suite that
never mentions conftest_lib runs exactly as before. `conftest_lib = true` in the suite's ini turns the plugin on
(see the `conftest_lib` module docstring for the other ways).
"""

from __future__ import annotations

import pytest

from conftest_lib.options import ENABLE_INI, add_ini

PLUGIN_MODULE = "conftest_lib"


def pytest_addoption(parser: pytest.Parser) -> None:
    add_ini(parser)


def pytest_configure(config: pytest.Config) -> None:
    if config.getini(ENABLE_INI) and not config.pluginmanager.has_plugin(PLUGIN_MODULE):
        config.pluginmanager.import_plugin(PLUGIN_MODULE)  # honours -p no:conftest_lib
