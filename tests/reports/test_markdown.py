"""Any text put into the summary through `sharder.reports.markdown` reads back, under a real CommonMark parser
(markdown-it-py, GFM tables on), as exactly that text on one line, and adds no HTML and no structure."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token

from sharder.core.log_text import one_line
from sharder.reports import markdown as md

PIECES = st.sampled_from(["`", "``", "````", "~~~", " ", "\\", "|", "\\|", "<", ">", "&", "&lt;", "&#124;", "<!--",
                          "-->", "</li></ul><details>", "<b>", "*", "_", "#", "- ", "1. ", "> ", "[x](y)", "![i](j)",
                          "\n", "\r", "\t", "\x00", "\u2028", "=", "http://e.x", "x", "é"])
HOSTILE = st.lists(st.one_of(PIECES, st.text(max_size=4)), max_size=25).map("".join)


def _parse(text: str) -> list[Token]:
    return MarkdownIt("commonmark").enable("table").parse(text)


def _kinds(tokens: list[Token]) -> list[str]:
    return [token.type for token in tokens]


def _inline_children(tokens: list[Token]) -> list[Token]:
    inlines = [token for token in tokens if token.type == "inline"]
    assert len(inlines) == 1, _kinds(tokens)
    return inlines[0].children or []


ONE_ITEM = ["bullet_list_open", "list_item_open", "paragraph_open", "inline", "paragraph_close", "list_item_close",
            "bullet_list_close"]


@given(HOSTILE)
def test_a_code_span_holds_exactly_the_text(text: str) -> None:
    tokens = _parse(f"- {md.code(text)} (shard 1)\n")
    assert _kinds(tokens) == ONE_ITEM
    children = _inline_children(tokens)
    assert [child.type for child in children] == ["code_inline", "text"]
    assert children[0].content == (one_line(text) or " ")
    assert children[1].content == " (shard 1)"


@given(HOSTILE)
def test_escaped_text_is_only_text(text: str) -> None:
    tokens = _parse(f"- {md.text(text)}\n")
    expected = one_line(text).strip()
    if not expected:
        return  # an empty item is a list item with no paragraph: nothing to read back
    assert _kinds(tokens) == ONE_ITEM
    children = _inline_children(tokens)
    assert {child.type for child in children} <= {"text", "text_special"}
    assert "".join(child.content for child in children) == expected


@given(HOSTILE, HOSTILE)
def test_a_table_cell_holds_exactly_its_id(node_id: str, other: str) -> None:
    table = f"| test | note |\n|---|---|\n| {md.cell_code(node_id)} | {md.text(other) or '-'} |\n"
    tokens = _parse(table)
    cells = [tokens[index + 1] for index, token in enumerate(tokens) if token.type == "td_open"]
    assert len(cells) == 2
    shown = "".join(child.content for child in cells[0].children or [])
    expected = one_line(node_id)
    if "\\|" in expected:
        expected = expected.strip()  # shown as escaped text (see the module), which is trimmed like any cell
    assert shown == (expected or " ")
    assert not [t for t in cells[0].children or [] if t.type not in ("code_inline", "text", "text_special")]


@given(st.lists(HOSTILE, min_size=1, max_size=6))
def test_a_fence_closes_only_where_it_is_closed(lines: list[str]) -> None:
    tokens = _parse("\n".join(["- `tests/a.py::t` (failed)", *md.fenced(lines, indent="  "), "- after", ""]))
    fences = [token for token in tokens if token.type == "fence"]
    assert len(fences) == 1
    assert fences[0].content == "".join(one_line(line) + "\n" for line in lines)
    assert fences[0].info == ""
    assert _kinds(tokens).count("list_item_open") == 2  # the next item is still an item of the same list
    assert _kinds(tokens).count("bullet_list_open") == 1
