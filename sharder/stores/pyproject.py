"""The project's own settings: `pyproject.toml`, found as pytest finds its rootdir, and its `[tool.sharder]` table.

One reader for every command, so `record`, `plan`, `matrix`, `run`, `replay` and `local` cannot disagree on the
suite's pytest arguments: `pytest_args` in `[tool.sharder]` is what each of them passes to pytest when nothing
follows `--` on its command line (arguments after `--` win, whole).
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sharder.core.errors import SharderError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found, no-redef, unused-ignore]

PYPROJECT = "pyproject.toml"
PYTEST_ARGS_KEY = "pytest_args"


def find_pyproject(start: str | os.PathLike[str]) -> Path | None:
    """The nearest pyproject.toml at or above `start`, as pytest finds its rootdir."""
    here = Path(start).resolve()
    for directory in (here, *here.parents):
        candidate = directory / PYPROJECT
        if candidate.is_file():
            return candidate
    return None


def read_pyproject(path: Path) -> dict[str, Any]:
    """The whole document; an unreadable or invalid file is the user's to fix, so one clear error."""
    try:
        document: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SharderError(f"cannot read {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SharderError(f"{path}: not valid TOML: {exc}") from None
    return document


def sharder_table(start: str | os.PathLike[str] = ".") -> tuple[dict[str, Any], Path | None]:
    """`[tool.sharder]` of the nearest pyproject.toml (keys spelled with dashes read as underscores), and that
    file; an empty table when there is none."""
    path = find_pyproject(start)
    if path is None:
        return {}, None
    tool = read_pyproject(path).get("tool", {})
    table = tool.get("sharder") if isinstance(tool, dict) else None
    if table is None:
        return {}, path
    if not isinstance(table, dict):
        raise SharderError(f"{path}: [tool.sharder] must be a table")
    return {str(key).replace("-", "_"): value for key, value in table.items()}, path


@dataclass(frozen=True)
class PytestArgs:
    args: list[str]
    source: str | None  # "the command line", or the pyproject.toml they came from; None: there are none


def pytest_args_of(table: dict[str, Any], path: Path | None) -> list[str]:
    """`pytest_args = ["-m", "not slow", "tests"]`, or one string split as a shell would (`"-m 'not slow'"`)."""
    value = table.get(PYTEST_ARGS_KEY)
    if value is None:
        return []
    where = f"{path} [tool.sharder] {PYTEST_ARGS_KEY}"
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as exc:
            raise SharderError(f"{where} = {value!r}: {exc}") from None
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise SharderError(f"{where} = {value!r}: expected a list of strings, or one string")


def resolve_pytest_args(given: list[str], start: str | os.PathLike[str] = ".") -> PytestArgs:
    """The command line's arguments after `--` when there are any, else the project's `pytest_args`."""
    if given:
        return PytestArgs(given, "the command line")
    table, path = sharder_table(start)
    configured = pytest_args_of(table, path)
    return PytestArgs(configured, str(path) if configured else None)
