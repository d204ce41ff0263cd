"""The fault report: one row per attack (suite, attack, what sharder answered), printed at the end of the run.

A plugin of its own, registered by the root `tests/conftest.py`, because under `pytest -n 2` the xdist controller
loads only the conftest files of its initial paths: hooks in `tests/faults/conftest.py` ran in the workers alone,
and the controller, the only process that prints the summary, never saw a row. Rows travel as user properties on
the test reports, which xdist carries from the workers to the controller.

The table is 85 lines of 200 columns, so a run prints it only when asked (`--fault-report`, or
`SHARDER_PRINT_FAULT_REPORT=1`); otherwise one line counts the attacks and says how to see them. `$SHARDER_FAULTS_REPORT`,
when set, always gets the table as a file, so CI can keep it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

LEDGER_PROPERTY = "sharder_fault_ledger"
PRINT_OPTION = "--fault-report"
PRINT_VARIABLE = "SHARDER_PRINT_FAULT_REPORT"
_ROWS: list[tuple[str, str, str]] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(PRINT_OPTION, action="store_true", default=False,
                     help=f"print the fault suite's table of attacks at the end (also {PRINT_VARIABLE}=1)")


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
    target = os.environ.get("SHARDER_FAULTS_REPORT")
    if config.getoption(PRINT_OPTION) or os.environ.get(PRINT_VARIABLE, "") not in ("", "0"):
        terminalreporter.write_sep("=", f"sharder fault report: {len(_ROWS)} attacks")
        terminalreporter.write_line(table)
    else:
        where = f" (table written to {target})" if target else ""
        terminalreporter.write_line(f"sharder fault report: {len(_ROWS)} attacks{where}; {PRINT_OPTION} prints them")
    if target:
        Path(target).write_text(table + "\n", encoding="utf-8")
