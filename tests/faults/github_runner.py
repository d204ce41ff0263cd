"""GitHub's runner's reading of a step's log, faithful where it matters: which lines it acts on as commands.

From the runner's ActionCommandManager and ActionCommand: a line is tried as `::name props::data` after TrimStart,
and only if that fails as the legacy `##[name props]data`, found anywhere in the line (its first `##[`). After
`::stop-commands::TOKEN` nothing is acted on but the command named TOKEN (any case), which resumes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Command:
    name: str
    properties: dict[str, str]
    data: str
    line: str


def _v2(line: str) -> Command | None:
    """`::name k=v,k=v::data`, after the runner's TrimStart."""
    text = line.lstrip()
    if not text.startswith("::"):
        return None
    end = text.find("::", 2)
    if end < 0:
        return None
    info = text[2:end]
    name, _, props = info.partition(" ")
    if not name:
        return None
    properties = dict(pair.split("=", 1) for pair in props.strip().split(",") if "=" in pair)
    return Command(name, properties, text[end + 2:], line)


def _legacy(line: str) -> Command | None:
    """`##[name k=v;k=v]data` anywhere in the line (only the first `##[` counts, as in the runner)."""
    start = line.find("##[")
    if start < 0:
        return None
    end = line.find("]", start)
    if end < 0:
        return None
    name, _, props = line[start + 3:end].partition(" ")
    if not name:
        return None
    properties = dict(pair.split("=", 1) for pair in props.split(";") if "=" in pair)
    return Command(name, properties, line[end + 1:], line)


def runner_commands(log: str) -> tuple[list[Command], str | None]:
    """The commands the runner would act on in LOG, and the stop token still in force at its end (None: none).

    Stricter than the runner in two ways, so that passing here is passing there: any name counts as a command (the
    runner acts only on the ones it knows), and lines are split at every boundary Python knows (NEL, U+2028 ...),
    not only at CR and LF. While stopped, only `::TOKEN::` (or `##[TOKEN]`), in any case, is acted on."""
    acted: list[Command] = []
    stopped: str | None = None
    for line in log.splitlines():
        command = _v2(line) or _legacy(line)
        if command is None:
            continue
        if stopped is not None:
            if command.name.casefold() == stopped.casefold():
                stopped = None
                acted.append(command)
            continue
        if command.name.casefold() == "stop-commands":
            stopped = command.data
        acted.append(command)
    return acted, stopped


def foreign_commands(log: str, shield_names: set[str] | None = None) -> list[Command]:
    """Commands acted on that are not sharder's own annotations nor the stop/resume lines of its shields."""
    acted, stopped = runner_commands(log)
    assert stopped is None, f"a stop-commands block was left open: {stopped!r}"
    tokens = {command.data.casefold() for command in acted if command.name.casefold() == "stop-commands"}
    own = {"error", "notice", "stop-commands"} | (shield_names or set())
    return [command for command in acted if command.name.casefold() not in own | tokens]
