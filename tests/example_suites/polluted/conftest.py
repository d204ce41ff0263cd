"""A suite with deliberate test pollution, for sharder's replay and bisect tests (tests/running/test_replay.py).

It is data, not part of sharder's own test run (`norecursedirs` in pyproject.toml keeps it out): the tests copy
it to a temporary directory and run pytest there.

- `test_accounts.py::test_switch_account_to_dollars` sets the shop's currency and never restores it: it pollutes
  `test_pricing.py::test_price_label_in_euros`, which runs after it in collection order.
- `test_accounts.py::test_enable_fast_lane` and `test_catalog.py::test_enable_prepaid` each leave one feature on;
  only both together break `test_pricing.py::test_standard_checkout`.
- `test_pricing.py::test_region_defaults_to_eu` depends on the environment (SHOP_REGION), not on other tests.

With SHARDER_TEST_RUN_LOG set, every pytest session appends `session PID` to that file and every test `test ID`:
sharder's tests and bench/pollution.py count pytest processes and test executions for real, whichever tool
started them.
"""

from __future__ import annotations

import os

import pytest


def _log(line: str) -> None:
    run_log = os.environ.get("SHARDER_TEST_RUN_LOG")
    if run_log:
        with open(run_log, "a", encoding="utf-8") as log:
            log.write(line + "\n")


def pytest_sessionstart(session: pytest.Session) -> None:
    _log(f"session {os.getpid()}")


def pytest_runtest_logstart(nodeid: str) -> None:
    _log(f"test {nodeid}")
