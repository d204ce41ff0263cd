"""The Markdown summary shows odd node ids as GitHub renders them: a pipe in an id needs its backslash inside a
table (GFM splits cells before it reads code spans) and must not get one outside (there `\\|` in a code span
shows both characters)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sharder.cli import main

PIPE_ID = "suite::pipe | in name"
FLAKY_PIPE_ID = "suite::flaky | pipe"


def _gfm_cells(row: str) -> list[str]:
    """A table row's cells as GFM reads them: split on unescaped pipes, then `\\|` becomes `|`."""
    inner = row.strip()[1:-1]
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", inner)]


def _code_span(text: str) -> str:
    match = re.fullmatch(r"(`+) ?(.*?) ?\1", text)
    assert match, text
    return match.group(2)


@pytest.fixture
def summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    report = tmp_path / "md.xml"
    report.write_text(
        '<testsuite name="s" tests="3" failures="1">'
        '<testcase classname="suite" name="pipe | in name" time="7"><failure message="a | b"/></testcase>'
        '<testcase classname="suite" name="flaky | pipe" time="1"><failure message="first"/></testcase>'
        '<testcase classname="suite" name="flaky | pipe" time="1"/>'
        '</testsuite>', encoding="utf-8")
    code = main(["merge", str(report), "--markdown", str(tmp_path / "out.md")])
    capsys.readouterr()
    assert code == 1
    return (tmp_path / "out.md").read_text(encoding="utf-8")


def test_lists_show_pipes_without_a_backslash(summary: str) -> None:
    lines = summary.splitlines()
    assert f"- `{PIPE_ID}` (no shard, failed)" in lines
    assert any(line.startswith(f"- `{FLAKY_PIPE_ID}` (no shard)") for line in lines)
    assert not [line for line in lines if line.startswith("- ") and "\\|" in line]


def test_table_cells_hold_the_whole_id(summary: str) -> None:
    rows = [line for line in summary.splitlines() if line.startswith("| ") and "pipe" in line]
    slowest = [row for row in rows if len(_gfm_cells(row)) == 3]
    every_test = [row for row in rows if len(_gfm_cells(row)) == 4]
    assert slowest and every_test
    for row in slowest + every_test:
        assert _code_span(_gfm_cells(row)[-1]) in (PIPE_ID, FLAKY_PIPE_ID), row


def test_one_report_is_not_reports(summary: str) -> None:
    assert summary.splitlines()[2] == "1 report"


HOSTILE_LINES = ["````", "</li></ul><details><summary>x</summary>", "<!-- hides the rest", "| a | b |"]


@pytest.mark.parametrize("budget", [3_000, 20_000, 200_000])
def test_the_budget_holds_with_escaped_hostile_text(tmp_path: Path, budget: int) -> None:
    """Escaping makes hostile text longer (fences grow with the backtick runs, punctuation gains backslashes); the
    budget counts the rendered bytes, so it still holds, and a list cut to fit still cuts whole items."""
    from markdown_it import MarkdownIt

    from sharder.reports.inputs import collect, resolve_identity
    from sharder.reports.summary import render_markdown
    from sharder.reports.verdict import judge

    message = "&#10;".join(line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                           for line in ["``````" * 20, *HOSTILE_LINES])
    cases = "".join(f'<testcase classname="t" name="test_{i}[&lt;!--`{"`" * (i % 7)}]" time="{i % 13}">'
                    f'<failure message="{message}"/></testcase>' for i in range(600))
    report = tmp_path / "r.xml"
    report.write_text(f'<testsuite name="s" tests="600" failures="600">{cases}</testsuite>', encoding="utf-8")
    inputs = collect([report])
    result = judge(inputs, resolve_identity(inputs, None))
    markdown = render_markdown(result, budget=budget)
    assert len(markdown.encode("utf-8")) <= budget
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    html = {t.content.strip() for t in tokens if t.type == "html_block"}
    assert html <= {"<details><summary>every test, its outcome and shard</summary>", "</details>"}
    fences = [t for t in tokens if t.type == "fence"]
    assert fences and all(t.content.splitlines()[1:] == HOSTILE_LINES for t in fences)
    assert "more not shown here" in markdown
