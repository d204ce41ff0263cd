"""Measure-only plugin: each test's peak resident memory as report property `sharder_peak_rss_mb`, nothing else.

`sharder run` and `sharder record` load it with `-p conftest_lib.memory`, so durations.json and the shard reports
carry memory figures for any suite, without the cleanup behaviour of the full `conftest_lib` plugin.
"""

from __future__ import annotations

import pytest

from conftest_lib.hygiene import ensure_hygiene
from conftest_lib.options import add_ini


def pytest_addoption(parser: pytest.Parser) -> None:
    add_ini(parser)


def pytest_configure(config: pytest.Config) -> None:
    ensure_hygiene(config)
