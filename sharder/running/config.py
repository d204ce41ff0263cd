"""`[tool.sharder]` in pyproject.toml: defaults for `sharder run`, so CI and laptops share one set of settings.

Command-line flags win over these. Keys other commands may add are left alone; the ones read here are checked,
and a bad value is one clear error (`pyproject.toml [tool.sharder] timeout: ...`), never a silent default.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

from sharder.core.errors import SharderError
from sharder.planning.memory import parse_memory_size
from sharder.planning.order import check_order
from sharder.running.workers import DEFAULT_SAFETY, check_safety, parse_parallel
from sharder.stores.pyproject import sharder_table


@dataclass(frozen=True)
class RunConfig:
    parallel: int | str | None = None
    dist: str | None = None
    timeout: float | None = None
    maxfail: int | None = None
    fast: bool = False
    module: str | None = None
    coverage: bool = False
    slowest_first: bool = False
    order: str | None = None  # plan | failed-first | fast-first (`sharder.planning.order`)
    memory_budget_mb: float | None = None
    memory_safety: float = DEFAULT_SAFETY
    queue: str | None = None  # queue mode's Redis URL (`sharder run --queue`; keep passwords in $SHARDER_QUEUE_URL)
    queue_fallback: str | None = None
    source: str | None = None  # the pyproject.toml the values came from


def check_timeout(value: object, where: str = "--timeout") -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise SharderError(f"{where} {value!r}: expected a number of seconds > 0")
    try:
        seconds = float(value)
    except ValueError:
        raise SharderError(f"{where} {value!r}: expected a number of seconds > 0") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise SharderError(f"{where} {value!r}: must be more than 0 seconds (leave it unset for no timeout)")
    return seconds


def check_maxfail(value: object, where: str = "--maxfail") -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise SharderError(f"{where} {value!r}: expected a whole number >= 1")
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise SharderError(f"{where} {value!r}: expected a whole number >= 1")
    return int(text)


def _bool(table: dict[str, Any], key: str, where: str) -> bool:
    value = table.get(key, False)
    if not isinstance(value, bool):
        raise SharderError(f"{where} {key} = {value!r}: expected true or false")
    return value


def _text(table: dict[str, Any], key: str, where: str) -> str | None:
    value = table.get(key)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise SharderError(f"{where} {key} = {value!r}: expected a non-empty string")
    return value


def config_from_table(table: dict[str, Any], source: str) -> RunConfig:
    where = f"{source} [tool.sharder]"
    # TOML keys may be spelled with dashes, as the flags are.
    table = {str(key).replace("-", "_"): value for key, value in table.items()}
    try:
        parallel = None if table.get("parallel") is None else parse_parallel(table["parallel"])
        budget = table.get("memory_budget")
        safety = table.get("memory_safety", DEFAULT_SAFETY)
        if isinstance(safety, bool) or not isinstance(safety, int | float):
            raise SharderError(f"memory_safety = {safety!r}: expected a number in (0, 1]")
        return RunConfig(
            parallel=parallel,
            dist=_text(table, "dist", where),
            timeout=None if table.get("timeout") is None else check_timeout(table["timeout"], "timeout ="),
            maxfail=None if table.get("maxfail") is None else check_maxfail(table["maxfail"], "maxfail ="),
            fast=_bool(table, "fast", where),
            module=_text(table, "module", where),
            coverage=_bool(table, "coverage", where),
            slowest_first=_bool(table, "slowest_first", where),
            order=None if table.get("order") is None else check_order(table["order"], "order ="),
            memory_budget_mb=None if budget is None else parse_memory_size(str(budget)),
            memory_safety=check_safety(float(safety)),
            queue=_text(table, "queue", where),
            queue_fallback=_text(table, "queue_fallback", where),
            source=source,
        )
    except SharderError as exc:
        message = str(exc)
        raise SharderError(message if message.startswith(where) else f"{where} {message}") from None


def load_run_config(start: str | os.PathLike[str] = ".") -> RunConfig:
    table, path = sharder_table(start)
    if path is None or not table:
        return RunConfig()
    return config_from_table(table, os.fspath(path))
