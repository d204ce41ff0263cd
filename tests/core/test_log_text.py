"""Test-derived text rendered for a CI log: one line, no workflow command, and JSON that reads back the same."""

from __future__ import annotations

import json
import secrets
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sharder.core.log_text import json_line, log_safe, one_line, shielded, stop_token
from tests.faults.github_runner import runner_commands

# Text biased towards what matters: line breaks of every kind, colons, `##[`, escapes, spaces.
PIECES = st.sampled_from(["\n", "\r", "\r\n", "\x85", "\u2028", "\u2029", "\x0b", "\x0c", "\x1c", "\t", "\x1b[2K",
                          "\x00", "\u202e", "::", ":", "##[", "#", "[", "]", " ", "\u00a0", "\u3000", "add-mask",
                          "error file=a.py", "stop-commands", "\\", "x"])
HOSTILE = st.lists(st.one_of(PIECES, st.text(max_size=5)), max_size=30).map("".join)


@given(HOSTILE)
def test_one_line_leaves_no_line_break_of_any_kind(text: str) -> None:
    shown = one_line(text)
    assert len(shown.splitlines()) <= 1
    assert not [c for c in shown if unicodedata.category(c) in ("Cc", "Zl", "Zp") or unicodedata.bidirectional(c)
                in ("LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI")]


def test_one_line_escapes_are_visible_and_named() -> None:
    assert one_line("a\r\nb\tc\x1b[0m\x85\u2028\u202e") == "a\\r\\nb\\tc\\x1b[0m\\x85\\u2028\\u202e"
    assert one_line("tests/a.py::test[ü-✓]") == "tests/a.py::test[ü-✓]"  # printable text is left alone


@given(HOSTILE, st.sampled_from(["", "  ", "sharder merge: ", "  FAILED "]))
def test_a_log_safe_value_holds_no_command_wherever_it_is_printed(text: str, before: str) -> None:
    line = before + log_safe(text)
    assert len(line.splitlines()) <= 1
    assert runner_commands(line)[0] == []


def test_log_safe_breaks_only_the_command_shapes() -> None:
    assert log_safe("  ::add-mask::x") == "  \\x3a:add-mask::x"
    assert log_safe("t[##[error]x]") == "t[#\\x23[error]x]"
    assert log_safe("tests/a.py::test_b") == "tests/a.py::test_b"


@given(HOSTILE)
def test_shielded_text_is_acted_on_only_by_its_own_stop_and_resume(text: str) -> None:
    block = shielded(text, github=True)
    lines = block.splitlines()
    token = lines[0].removeprefix("::stop-commands::")
    assert len(token) == 32 and token.casefold() not in text.casefold()
    assert lines[-1] == f"::{token}::"
    acted, stopped = runner_commands(block + "\n::error::after")
    assert [command.name for command in acted] == ["stop-commands", token, "error"]
    assert stopped is None


def test_outside_github_actions_nothing_is_added() -> None:
    assert shielded("::add-mask::x", github=False) == "::add-mask::x"


def test_a_token_the_text_holds_is_drawn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """The only way to show the redraw: the first token drawn is one the text holds (in another case)."""
    drawn = iter(["deadbeef" * 4, "0123abcd" * 4])
    monkeypatch.setattr(secrets, "token_hex", lambda size: next(drawn))
    assert stop_token("resume with ::DEADBEEF" + "deadbeef" * 3 + ":: please") == "0123abcd" * 4


JSON_VALUES = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), HOSTILE),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(HOSTILE, inner, max_size=4),
                           max_leaves=12)


@given(JSON_VALUES, st.booleans())
def test_json_line_reads_back_the_same_and_holds_no_command(document: object, ensure_ascii: bool) -> None:
    line = json_line(document, ensure_ascii=ensure_ascii)
    assert json.loads(line) == document
    assert len(line.splitlines()) == 1
    assert "##[" not in line
    assert runner_commands(line)[0] == []
