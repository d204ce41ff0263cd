"""Hostile text in the Markdown step summary, through the real CLI.

A failure message holding a line of four backticks closes the fence a summary put it in, and what follows is read
as Markdown and HTML: `</li></ul><details>` reshapes the page, an unclosed `<!--` hides everything after it
(later steps' summaries too). Node ids and report names reach the page as well. The summary is parsed here with a
real CommonMark parser (markdown-it-py, GFM tables on): no HTML may come from test text, every fence must close
where sharder closes it, and every id must read back as written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from tests.faults.conftest import Outcome

pytestmark = pytest.mark.integration

TEST_FILE = "tests/test_md.py"
FENCE_MESSAGE = [
    "AssertionError: the next line closes a three- or four-backtick fence",
    "````",
    "</li></ul><details><summary>opened by a test</summary>",
    "<!-- hides the rest of the page",
    "````` and ``` inside a line",
]
# a message that is one fence-like line with an info string, then a line of tildes
TICKS_MESSAGE = ["``````python", "~~~~", "<script>alert(1)</script>"]
# testcase name -> the id's text as the summary must show it (one line, visible escapes)
HOSTILE_NAMES = {
    "test_html[</li></ul><details>]": "test_html[</li></ul><details>]",
    "test_comment[<!--]": "test_comment[<!--]",
    "test_ticks[``x``]": "test_ticks[``x``]",
    "ends with a backtick `": "ends with a backtick `",
    "test_pipe[a|b]": "test_pipe[a|b]",
    "test_backslash_pipe[a\\|b]": "test_backslash_pipe[a\\|b]",
    "test_cr[\r# heading]": "test_cr[\\r# heading]",
    "test_lf[\n- item <b>bold</b>]": "test_lf[\\n- item <b>bold</b>]",
    "test_entity[&lt;i&gt;]": "test_entity[&lt;i&gt;]",
    "test_tab[\t<i>]": "test_tab[\\t<i>]",
}
REPORT_NAME = "hostile <!-- *em* &amp; [x](y).xml"
UNREADABLE_NAME = "<!-- unreadable <ul><li> `x.xml"
OWN_HTML = {"<details><summary>every test, its outcome and shard</summary>", "</details>"}


def _case(name: str, message: list[str] | None) -> str:
    inner = "" if message is None else f"<failure message={quoteattr(chr(10).join(message))}/>"
    return (f'<testcase classname="tests.test_md" name={quoteattr(name)} file="{TEST_FILE}" time="1">'
            f"{inner}</testcase>")


def _report() -> str:
    cases = [_case("test_fence", FENCE_MESSAGE), _case("test_ticks_message", TICKS_MESSAGE)]
    cases += [_case(name, ["failed"]) for name in HOSTILE_NAMES]
    cases += [_case("test_flaky", ["first"]), _case("test_flaky", None)]  # failed, then passed: flaky
    body = "".join(cases)
    return f'<testsuite name="s" tests="{len(cases)}" failures="{len(cases) - 1}">{body}</testsuite>'


@pytest.fixture
def summary(tmp_path: Path, sharder_capped: Callable[..., Outcome]) -> str:
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / REPORT_NAME).write_text(_report(), encoding="utf-8")
    (reports / UNREADABLE_NAME).write_text(_report()[:-30], encoding="utf-8")
    outcome = sharder_capped(["merge", "reports", "--markdown", "summary.md"], cwd=tmp_path)
    assert outcome.code == 1, outcome.stderr[-2000:]
    return (tmp_path / "summary.md").read_text(encoding="utf-8")


def _tokens(markdown: str) -> list[Token]:
    return MarkdownIt("commonmark").enable("table").parse(markdown)


def _all(tokens: list[Token]) -> list[Token]:
    return [t for token in tokens for t in (token, *(token.children or []))]


def _tables(tokens: list[Token]) -> list[list[list[str]]]:
    """Each table's body rows, each cell as shown; a pipe that split a cell would show as a cell too many."""
    tables: list[list[list[str]]] = []
    for index, token in enumerate(tokens):
        if token.type == "tbody_open":
            tables.append([])
        elif token.type == "tr_open" and tables and tokens[index + 1].type == "td_open":
            tables[-1].append([])
        elif token.type == "td_open":
            tables[-1][-1].append(_shown(tokens[index + 1]))
    return tables


def _shown(inline: Token) -> str:
    """An inline's text as a reader sees it: code spans' content and text, nothing else."""
    return "".join(child.content for child in inline.children or [] if child.type in ("text", "code_inline"))


def test_no_html_comes_from_test_text(summary: str, ledger: Callable[[str, str], None]) -> None:
    html = [token.content.strip() for token in _all(_tokens(summary)) if token.type in ("html_block", "html_inline")]
    assert set(html) <= OWN_HTML, html
    ledger("merge --markdown: failure message with a ```` line, </li></ul><details>, <!--; ids and report names "
           "with <!--, </li>, <b>, entities", f"HTML nodes in the summary: only sharder's own {sorted(set(html))}")


def test_every_fence_closes_where_sharder_closes_it(summary: str, ledger: Callable[[str, str], None]) -> None:
    tokens = _tokens(summary)
    fences = [(index, token) for index, token in enumerate(tokens) if token.type == "fence"]
    expected = ["\n".join(FENCE_MESSAGE) + "\n", "\n".join(TICKS_MESSAGE) + "\n"] + ["failed\n"] * len(HOSTILE_NAMES)
    assert sorted(token.content for _, token in fences) == sorted(expected)
    for index, token in fences:
        assert token.info == ""
        assert tokens[index + 1].type == "list_item_close"  # the fence ends its item: nothing spilled out of it
    ledger("merge --markdown: message lines of 4, 5 and 6 backticks, a ~~~~ line",
           f"{len(fences)} fences, each holding exactly its message and closed by sharder")


def test_ids_read_back_as_written_in_lists_and_tables(summary: str, ledger: Callable[[str, str], None]) -> None:
    tokens = _tokens(summary)
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    failures = len(HOSTILE_NAMES) + 2
    assert headings == [f"sharder: ❌ {failures + 1} tests reported, {failures} failed (no plan known), 1 flaky",
                        "Shards", f"Failures ({failures})", "Flaky (1)", "Unreadable reports", "10 slowest tests",
                        f"All tests ({failures + 1})", "Notes"]
    expected = {f"{TEST_FILE}::{shown}" for shown in HOSTILE_NAMES.values()}
    listed = {child.content for token in tokens if token.type == "inline"
              for child in (token.children or [])[:1] if child.type == "code_inline"}
    assert expected <= listed
    shards, slowest, every_test = _tables(tokens)
    assert [len(row) for row in shards] == [7]
    assert all(len(row) == 4 for row in every_test) and all(len(row) == 3 for row in slowest)
    assert expected <= {row[-1] for row in every_test}, expected - {row[-1] for row in every_test}
    assert {row[-1] for row in slowest} <= {f"{TEST_FILE}::{name}" for name in ("test_fence", "test_ticks_message",
                                                                              "test_flaky")} | expected
    texts = [_shown(token) for token in tokens if token.type == "inline"]
    assert any(UNREADABLE_NAME in text for text in texts), texts
    assert any(REPORT_NAME in text for text in texts if "passed in" in text), texts
    ledger("merge --markdown: ids with CR, LF, tab, backticks at the edge, pipes, a backslash before a pipe",
           "every id reads back as written (one line) in lists and table cells; the report names as text")
