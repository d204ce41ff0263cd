"""Hostile text in the Markdown step summary, and a step summary that cannot be written whole, through the real CLI.

A failure message holding a line of four backticks closes the fence a summary put it in, and what follows is read
as Markdown and HTML: `</li></ul><details>` reshapes the page, an unclosed `<!--` hides everything after it
(later steps' summaries too). Node ids and report names reach the page as well. The summary is parsed here with a
real CommonMark parser (markdown-it-py, GFM tables on): no HTML may come from test text, every fence must close
where sharder closes it, and every id must read back as written.

A step summary is appended to a file other steps share; a full disk or `ulimit -f` that stops the append part-way
would leave half a summary (an open fence or `<details>` swallowing what comes after). The append is whole or not
at all, and the failure is one line and exit 2 after the verdict.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from tests.faults.conftest import CPU_CEILING_SECONDS, MEMORY_CEILING_BYTES, Outcome

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


# ---------------------------------------------------------------------------------------------- append limits


def _run_with_file_limit(args: list[str], cwd: Path, env: dict[str, str], limit: int) -> Outcome:
    def limit_child() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CEILING_BYTES, MEMORY_CEILING_BYTES))
        resource.setrlimit(resource.RLIMIT_CPU, (CPU_CEILING_SECONDS, CPU_CEILING_SECONDS))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run([sys.executable, "-m", "sharder", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, errors="replace", timeout=600, check=False, preexec_fn=limit_child)
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


@pytest.mark.parametrize("room", [1, 300, 3000])
def test_a_step_summary_cut_short_by_a_file_size_limit_is_not_left_half_written(
    tmp_path: Path, sharder_env: dict[str, str], ledger: Callable[[str, str], None], room: int
) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "r.xml").write_text(_report(), encoding="utf-8")
    earlier = "## an earlier step's summary\n\nsome text\n"
    step_summary = tmp_path / "step_summary.md"
    step_summary.write_text(earlier, encoding="utf-8")
    env = {**sharder_env, "GITHUB_STEP_SUMMARY": str(step_summary), "PYTHONDONTWRITEBYTECODE": "1"}
    outcome = _run_with_file_limit(["merge", "reports"], tmp_path, env, len(earlier.encode()) + room)
    assert outcome.code == 2, outcome.stdout[-2000:] + outcome.stderr[-2000:]
    assert "Traceback" not in outcome.stderr
    last = outcome.stderr.rstrip().splitlines()[-1]
    assert last.startswith("sharder merge: error: cannot write $GITHUB_STEP_SUMMARY"), last
    assert len(outcome.stderr.strip().splitlines()) == 1
    assert "sharder merge: FAILED" in outcome.stdout  # the verdict was still given
    assert step_summary.read_text(encoding="utf-8") == earlier  # whole or nothing: here nothing
    ledger(f"merge appending its step summary under ulimit -f with {room} bytes of room",
           f"exit 2 after the verdict, the file as it was: ...: {last.split(chr(39) + ': ', 1)[-1][:120]}")


def test_the_step_summary_is_appended_whole_when_it_fits(
    tmp_path: Path, sharder_env: dict[str, str]
) -> None:
    """The guard's other side: with room for it, the whole summary follows the earlier step's text, once."""
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "r.xml").write_text(_report(), encoding="utf-8")
    earlier = "## an earlier step's summary\n"
    step_summary = tmp_path / "step_summary.md"
    step_summary.write_text(earlier, encoding="utf-8")
    env = {**sharder_env, "GITHUB_STEP_SUMMARY": str(step_summary), "PYTHONDONTWRITEBYTECODE": "1"}
    outcome = _run_with_file_limit(["merge", "reports"], tmp_path, env, 10 * 1024 * 1024)
    assert outcome.code == 1, outcome.stderr[-2000:]
    alone = _run_with_file_limit(["merge", "reports", "--markdown", "alone.md"], tmp_path, sharder_env,
                                 10 * 1024 * 1024)
    assert alone.code == 1, alone.stderr[-2000:]
    assert step_summary.read_text(encoding="utf-8") == earlier + (tmp_path / "alone.md").read_text(encoding="utf-8")
