"""Test-derived text made safe to print into a CI log: one line per value, and no workflow command in it.

Node ids, failure messages, JUnit names and the paths of reports come from the user's suite or from any JUnit
producer, so they may hold CR or LF (the runner starts a new line at either), terminal escape sequences, or text
GitHub's runner takes for a workflow command. The runner reads each line of a step's stdout and stderr and runs
it as a command when, after leading whitespace is trimmed, it starts with `::name` and has a second `::`
(`::add-mask::WORD` hides WORD from the rest of the log, `::stop-commands::T` turns commands off,
`::error file=a.py::…` is an annotation), or when it holds `##[name]` *anywhere* (the runner's legacy syntax,
still parsed). A test could thereby mask words of the report job's log, switch off sharder's own annotations, or
forge annotations of its own.

Three tools, used together wherever sharder prints such text:

- `one_line`: a value rendered on one line, control characters (C0, DEL, C1, the Unicode line and paragraph
  separators, bidirectional overrides) as visible escapes (`\\n`, `\\r`, `\\t`, `\\x1b`, `\\u2028`).
- `log_safe`: `one_line`, and the two command shapes broken with a visible escape (`#\\x23[`, `:\\x3a` at the
  start), for a value printed outside a stopped block, so that no line sharder prints holds a command of a test's.
- `shielded`: under GitHub Actions, a whole block of output between `::stop-commands::TOKEN` and `::TOKEN::` with a
  fresh unguessable token, GitHub's documented way to print untrusted text; the runner honours no command inside,
  so sharder's own annotations go outside it. The runner matches the token case-insensitively, in either syntax
  (`::TOKEN::` or `##[TOKEN]`), so a token that occurs in the text in any case is drawn again.

`json_line` is the same care for a JSON document printed on one line: JSON may escape any character, so `#` of a
`##[` and the line separators JSON leaves raw become `\\uXXXX`, and the document reads back unchanged.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

# Cc (C0, DEL, C1: NEL U+0085 among them), the line and paragraph separators (Zl, Zp), and the bidirectional
# controls that reorder what a reader sees (the "Trojan Source" characters).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
LEGACY_COMMAND = "##["
COMMAND_PREFIX = "::"
# A line the runner trims before looking for `::`: .NET's TrimStart and Python's lstrip agree on what is left
# once `one_line` has escaped the controls (the Zs spaces).
_LEADING_COMMAND = re.compile(r"^(\s*):(?=:)")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def one_line(text: str) -> str:
    """`text` on one line: no raw CR, LF or other control character, each shown as an escape a reader can see.

    Backslashes are left as they are (a node id with one stays copyable), so `\\n` shown may have been either."""
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(_escape, text)


def log_safe(text: str) -> str:
    """`one_line`, and no workflow command left in it: `##[` becomes `#\\x23[` wherever it is, and a leading `::`
    (after any spaces) `:\\x3a`, so the value may be printed at any place of any line of a CI log."""
    text = one_line(text)
    if LEGACY_COMMAND in text:
        text = text.replace(LEGACY_COMMAND, "#\\x23[")
    if COMMAND_PREFIX in text:
        text = _LEADING_COMMAND.sub(r"\1\\x3a", text, count=1)
    return text


def stop_token(text: str) -> str:
    """A token no one can guess and that `text` does not hold in any case (the runner compares it so)."""
    folded = text.casefold()
    while True:
        token = secrets.token_hex(16)
        if token not in folded:
            return token


def shielded(text: str, *, github: bool) -> str:
    """`text` between `::stop-commands::TOKEN` and `::TOKEN::` when printed under GitHub Actions, else as it is.

    Print the result in one write to one stream, after any command of sharder's own: the runner's stop is global to
    the step, and stdout and stderr are read apart, so a command on the other stream could land inside the block."""
    if not github:
        return text
    token = stop_token(text)
    return f"::stop-commands::{token}\n{text}\n::{token}::"


# JSON leaves these raw under ensure_ascii=False; a log reader that splits lines on them would see a new line.
_JSON_RAW_BREAKS = {"\u0085": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def json_line(document: Any, *, ensure_ascii: bool = False) -> str:
    """`json.dumps(document)` on one line that holds no `##[` and no raw line separator, reading back the same.

    `#` and those separators only ever occur inside JSON strings, where `\\uXXXX` stands for any character."""
    text = json.dumps(document, ensure_ascii=ensure_ascii)
    if LEGACY_COMMAND in text:
        text = text.replace(LEGACY_COMMAND, "#\\u0023[")
    for raw, escaped in _JSON_RAW_BREAKS.items():
        if raw in text:
            text = text.replace(raw, escaped)
    return text
