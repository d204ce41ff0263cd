"""The fault report: one row per attack (suite, attack, what sharder answered), printed at the end of the run.

A plugin of its own, registered by the root `tests/conftest.py`, because under `pytest -n 2` the xdist controller
loads only the conftest files of its initial paths: hooks in `tests/faults/conftest.py` ran in the workers alone,
and the controller, the only process that prints the summary, never saw a row. Rows travel as user properties on
the test reports, which xdist carries from the workers to the controller. `$SHARDER_FAULTS_REPORT`, when set, also
gets the table as a file, so CI can keep it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

LEDGER_PROPERTY = "sharder_fault_ledger"
_ROWS: list[tuple[str, str, str]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "teardown":
        return
    for name, value in report.user_properties:
        if name == LEDGER_PROPERTY:
            suite, attack, observed = json.loads(str(value))
            _ROWS.append((suite, attack, observed))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    if not _ROWS or hasattr(config, "workerinput"):
        return
    from sharder.core.table import format_table

    table = format_table(("suite", "attack", "observed"), sorted(_ROWS))
    terminalreporter.write_sep("=", f"sharder fault report: {len(_ROWS)} attacks")
    terminalreporter.write_line(table)
    target = os.environ.get("SHARDER_FAULTS_REPORT")
    if target:
        Path(target).write_text(table + "\n", encoding="utf-8")
