"""One module per `sharder` command; each has `register(subparsers)` that sets `func` on its parser.

Command modules import heavy things (pytest, junitparser) inside their functions, so that `sharder plan
--from-durations` on 200,000 tests starts fast.
"""

from __future__ import annotations

from types import ModuleType

from sharder.commands import (
    demo_command,
    init_command,
    local_command,
    matrix_command,
    merge_command,
    plan_command,
    rebalance_command,
    record_command,
    replay_command,
    run_command,
)

COMMANDS: tuple[ModuleType, ...] = (
    plan_command,
    matrix_command,
    run_command,
    record_command,
    local_command,
    merge_command,
    rebalance_command,
    replay_command,
    init_command,
    demo_command,
)
