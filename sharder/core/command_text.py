"""Commands printed for a user to paste: the interpreter named, every argument quoted, one line.

What a user copies out of a CI log or a terminal must run as printed. `' '.join(argv)` does not: `-m 'not slow and
not tooslow'` came out as four words, a test id with a space or `$(...)` as two or as a command substitution.
`shlex.join` fixes that for printable text, but keeps a newline raw inside its quotes, and a raw newline in a CI
log starts a new line, which the runner may read as a workflow command (`sharder.core.log_text`); escaped
afterwards for the log it no longer pastes as the same argument.

So an argument holding a control character (or `##[`, the runner's legacy command syntax) is written in ANSI-C
quotes, `$'a\\nb'`, which bash, zsh, ksh and POSIX.1-2024 `sh` read back as the same bytes; everything else is
`shlex.quote`d, which any POSIX shell reads. The line then holds no control character and no command, so
`log_safe` leaves it as it is, and a Markdown code span (`sharder.reports.markdown.code`) shows it exactly.

The interpreter: sharder and its pytest plugin are importable by the interpreter that runs sharder now, not
necessarily by whatever `python` or `sharder` is first on the user's PATH (a venv not activated, pipx, a CI
image with two Pythons). A command names that interpreter, `sys.executable -m sharder ...` or `-m pytest`,
shortened to `python` when `python` on PATH is that very file (an activated venv), since that is what a user types.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from collections.abc import Sequence

# What `one_line` escapes (C0, DEL, C1, line and paragraph separators, bidirectional controls): never raw in a
# printed command.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_ANSI_C_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\", "'": "\\'"}
_LEGACY_COMMAND = "##["


def _ansi_c(arg: str) -> str:
    """`$'...'`: every character as itself but for the escapes (controls as `\\xHH`/`\\uHHHH`, `#` as `\\x23` so no
    `##[` is left, `'` and `\\` escaped)."""
    out: list[str] = []
    for char in arg:
        if char in _ANSI_C_NAMED:
            out.append(_ANSI_C_NAMED[char])
        elif char == "#" or _UNPRINTABLE.fullmatch(char):
            code = ord(char)
            out.append(f"\\x{code:02x}" if code <= 0x7F else f"\\u{code:04x}")
        else:
            out.append(char)
    return "$'" + "".join(out) + "'"


def quote(arg: str) -> str:
    """One argument as a shell reads it back exactly, on one line."""
    if _UNPRINTABLE.search(arg) or _LEGACY_COMMAND in arg:
        return _ansi_c(arg)
    return shlex.quote(arg)


def interpreter() -> str:
    """How to name the running interpreter in a command: `python` when that word finds this same file on PATH,
    else its full path."""
    found = shutil.which("python")
    if found and os.path.abspath(found) == os.path.abspath(sys.executable):
        return "python"
    return sys.executable


def command_text(argv: Sequence[str]) -> str:
    """`argv` as a line to paste; an `argv[0]` that is the running interpreter is named as `interpreter` says."""
    words = list(argv)
    if words and words[0] == sys.executable:
        words[0] = interpreter()
    return " ".join(quote(word) for word in words)


def sharder_argv(args: Sequence[str]) -> list[str]:
    """`sharder ARGS` as the running interpreter starts it (`python -m sharder ARGS`)."""
    return [sys.executable, "-m", "sharder", *args]
