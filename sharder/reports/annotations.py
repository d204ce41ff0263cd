"""GitHub Actions output for a merge: the step summary file and `::error` workflow commands.

Annotations are emitted only when GITHUB_ACTIONS is "true" (elsewhere they would be noise in a terminal), at
most 50 of them (GitHub shows a limited number per step; the rest are counted in one line). The step summary is
appended, as GitHub expects several steps to add to it, within its 1 MiB limit counting what is already there.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from sharder.core.errors import SharderError
from sharder.core.log_text import one_line
from sharder.reports.summary import STEP_SUMMARY_LIMIT, first_lines, status_text
from sharder.reports.verdict import MergeResult

ANNOTATION_LIMIT = 50
_DATA_ESCAPES = (("%", "%25"), ("\r", "%0D"), ("\n", "%0A"))
_PROPERTY_ESCAPES = (*_DATA_ESCAPES, (":", "%3A"), (",", "%2C"))


def in_github_actions(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get("GITHUB_ACTIONS") == "true"


def _escape(text: str, escapes: tuple[tuple[str, str], ...]) -> str:
    for raw, escaped in escapes:
        text = text.replace(raw, escaped)
    return text


def error_command(message: str, *, title: str, file: str | None = None, line: int | None = None) -> str:
    """`::error file=F,line=L,title=T::message`, escaped as GitHub's workflow commands require."""
    properties = []
    if file:
        properties.append(f"file={_escape(file, _PROPERTY_ESCAPES)}")
        if line is not None:
            properties.append(f"line={line}")
    properties.append(f"title={_escape(title, _PROPERTY_ESCAPES)}")
    return f"::error {','.join(properties)}::{_escape(message, _DATA_ESCAPES)}"


def error_annotations(result: MergeResult, limit: int = ANNOTATION_LIMIT) -> list[str]:
    """One `::error` per failure and per shard without a complete report; beyond `limit`, one counting line."""
    commands: list[str] = []
    for test in result.failures:
        path = test.node_id.split("::", 1)[0]
        # pytest's JUnit `line` is 0-based; GitHub's is 1-based.
        line = test.line + 1 if test.line is not None else None
        # Each line, and the id in the title, shown on one line first: the command's own escapes keep the runner
        # from splitting it, `one_line` keeps other controls (NEL, U+2028, ESC) out of every log reader's way.
        message = "\n".join(one_line(part) for part in first_lines(test.message)) or test.outcome
        where = f" (shard {test.shard})" if test.shard is not None else ""
        commands.append(error_command(message, title=f"{one_line(test.node_id)} {test.outcome}{where}",
                                      file=path if path.endswith(".py") else test.file, line=line))
    for shard in result.problem_shards:
        count = len(shard.missing) + shard.missing_unnamed
        commands.append(error_command(
            f"shard {shard.label}: {status_text(shard)}; {count} planned tests never reported",
            title=f"sharder: shard {shard.label} {shard.status}",
        ))
    if len(commands) > limit:
        hidden = len(commands) - limit
        commands = [*commands[:limit], f"::notice title=sharder::{hidden} more errors not annotated "
                                        f"(at most {limit}); the step summary and merged report list them all"]
    return commands


def step_summary_budget(path: Path) -> int:
    """Bytes left under GitHub's limit in a summary file other steps may already have written to."""
    try:
        used = path.stat().st_size
    except FileNotFoundError:
        used = 0
    except OSError as exc:
        raise SharderError(f"cannot read $GITHUB_STEP_SUMMARY {os.fspath(path)!r}: {exc.strerror}") from None
    return STEP_SUMMARY_LIMIT - used


def append_step_summary(path: Path, markdown: str) -> None:
    """Append the whole summary or nothing: a full disk or a file-size limit (`ulimit -f`) that stops the write
    part-way would leave half a summary, an unclosed fence or `<details>` swallowing what later steps add.

    The bytes go out in as many `os.write` calls as the kernel needs (a write may stop short at a limit); if any
    fails, the file is cut back to the size it had. Python ignores SIGXFSZ, so a size limit is an EFBIG error here
    rather than the death of the process."""
    data = markdown.encode("utf-8")
    where = os.fspath(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    except OSError as exc:
        raise SharderError(f"cannot write $GITHUB_STEP_SUMMARY {where!r}: {exc.strerror}") from None
    try:
        before = os.fstat(fd)
        written = 0
        try:
            while written < len(data):
                count = os.write(fd, data[written:])
                if count <= 0:
                    raise OSError(errno.EIO, "the write stopped short")
                written += count
        except OSError as exc:
            undone = _cut_back(fd, before)
            raise SharderError(f"cannot write $GITHUB_STEP_SUMMARY {where!r}: {exc.strerror}; {undone}") from None
    finally:
        os.close(fd)


def _cut_back(fd: int, before: os.stat_result) -> str:
    """Truncate a regular file back to `before`'s size; what became of the partial write, for the error line."""
    if not stat.S_ISREG(before.st_mode):
        return "it is not a regular file, so nothing was cut back"  # a pipe, or a device such as /dev/full
    try:
        os.ftruncate(fd, before.st_size)
    except OSError as exc:
        return f"and cutting it back to its {before.st_size} bytes failed too: {exc.strerror}"
    return f"the file was left as it was ({before.st_size} bytes), without a partial summary"
