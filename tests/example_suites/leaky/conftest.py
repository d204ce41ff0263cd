"""Without conftest_lib, the suite's `cleanup` fixture is the hand-rolled one it had before: it never cleans up.

That is the situation conftest_lib was written for (fixtures that never cleaned up, stores that grew across
tests). With `-p conftest_lib`, the plugin's real `cleanup` fixture is used instead.
"""

from __future__ import annotations

from typing import Any

import pytest


class NeverCleans:
    def register(self, obj: Any) -> Any:
        return obj

    def add(self, callback: Any, *args: Any, **kwargs: Any) -> None:
        pass


class HandRolledFixtures:
    @pytest.fixture
    def cleanup(self) -> NeverCleans:
        return NeverCleans()


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("conftest_lib"):
        config.pluginmanager.register(HandRolledFixtures(), "leaky-hand-rolled-fixtures")
