"""Printed commands read back as the argv that was meant: by `shlex.split` for printable text, by a real bash for
every text (control characters take ANSI-C quotes), and unchanged by the CI-log and Markdown guards."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sharder.core.command_text import command_text, interpreter, quote, sharder_argv
from sharder.core.log_text import log_safe
from sharder.reports.markdown import code

HOSTILE = [
    "not slow and not tooslow", "tests/a b.py::test_x[it's]", 'say "hi"', "$(touch /tmp/pwned)", "`id`", "a;b|c&d",
    "~user", "*.py", "", " ", "-k", "ünïcødé", "back\\slash", "tab\there", "line\nbreak", "cr\rhere", "\x1b[31mred",
    "##[error]forged", "::add-mask::secret", "bidi\u202eevil", "nel\x85", "quote'and\nline",
]
PRINTABLE = [arg for arg in HOSTILE if arg.isprintable() and "##[" not in arg]


def test_printable_arguments_round_trip_through_shlex_split() -> None:
    argv = ["/some/python", "-m", "pytest", "-m", "not slow and not tooslow", *PRINTABLE]
    printed = command_text(argv)
    assert shlex.split(printed) == argv
    assert "'not slow and not tooslow'" in printed


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_every_argument_round_trips_through_a_real_shell() -> None:
    printed = command_text(["printf", "%s\\0", *HOSTILE])
    assert "\n" not in printed and "\r" not in printed
    ran = subprocess.run(["bash", "-c", printed], capture_output=True, check=True,
                         env={**os.environ, "LC_ALL": "C.UTF-8"}, timeout=30)
    assert ran.stdout.decode("utf-8").split("\0")[:-1] == HOSTILE


@given(st.lists(st.text(), max_size=6))
def test_a_printed_command_is_one_safe_line_that_log_and_markdown_leave_as_it_is(args: list[str]) -> None:
    printed = command_text(["python", *args])
    assert log_safe(printed) == printed  # no control character, no `##[`, no leading `::`
    span = code(printed)  # the span's fence outgrows any backtick run, so the command is its whole content
    assert printed in span and "\n" not in span
    if all(arg.isprintable() and "##[" not in arg for arg in args):
        assert shlex.split(printed) == ["python", *args]


def test_the_running_interpreter_is_named_so_that_it_runs_here() -> None:
    printed = command_text(sharder_argv(["replay", "--from", "r.xml"]))
    first = shlex.split(printed)[0]
    assert first == interpreter() and first in ("python", sys.executable)
    assert os.path.abspath(shutil.which(first) or first) == os.path.abspath(sys.executable)
    assert printed.endswith("-m sharder replay --from r.xml")
    assert quote("plain") == "plain"
