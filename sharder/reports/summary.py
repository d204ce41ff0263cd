"""Rendering a merge verdict: the terminal summary, the Markdown summary (under a byte budget) and JSON.

Knows nothing of parsing. The same facts in each form: totals; failures with the first lines of their message;
per shard: tests, planned seconds vs actual seconds, status; the slowest tests; the imbalance.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from sharder.core.table import format_table
from sharder.reports.verdict import MergeResult, ShardResult, TestOutcome

MESSAGE_LINES = 5
MESSAGE_LINE_CHARS = 300
SLOWEST = 10
# The terminal has no size limit, but ten thousand failures scroll past anyone: the rest go to --json / the XML.
TERMINAL_LIST_LIMIT = 100
# GitHub refuses a step summary over 1 MiB; keep a margin for what other steps wrote and for the notes.
STEP_SUMMARY_LIMIT = 1024 * 1024
MARKDOWN_MARGIN = 8 * 1024


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def first_lines(message: str, lines: int = MESSAGE_LINES) -> list[str]:
    kept = [line.rstrip()[:MESSAGE_LINE_CHARS] for line in message.strip().splitlines() if line.strip()]
    return kept[:lines]


def headline(result: MergeResult) -> str:
    """The one line everybody reads: 'N of M planned tests reported, F failed, X missing'."""
    failed = len(result.failures)
    planned = result.planned_total
    parts: list[str] = []
    if planned is not None:
        parts.append(f"{planned - result.missing_count} of {planned} planned tests reported, {failed} failed, "
                     f"{result.missing_count} missing")
    else:
        parts.append(f"{len(result.tests)} tests reported, {failed} failed (no plan known)")
    if result.flaky:
        parts.append(f"{len(result.flaky)} flaky")
    skipped = len(result.with_outcome("skipped"))
    if skipped:
        parts.append(f"{skipped} skipped")
    # apart from the skips, as pytest's summary counts them; a non-strict xpass cannot be told from a pass in
    # JUnit XML (pytest writes it as a bare passed case), so there is no "xpassed" count to give
    xfailed = len(result.with_outcome("xfailed"))
    if xfailed:
        parts.append(f"{xfailed} xfailed")
    problems = result.problem_shards
    if problems:
        parts.append(f"{len(problems)} shard{'s' if len(problems) > 1 else ''} without a complete report")
    return ", ".join(parts)


def verdict_word(result: MergeResult) -> str:
    return "OK" if result.exit_code == 0 else "FAILED"


def status_text(shard: ShardResult) -> str:
    text = f"cancelled by {shard.cancelled_by}" if shard.cancelled_by else shard.status
    if shard.died_in:
        text += f" while running {shard.died_in}"
    if shard.recovered:
        text += f"; {shard.recovered} recovered from its progress log"
    return text


def shard_rows(result: MergeResult) -> list[tuple[object, ...]]:
    return [
        (shard.label, "?" if shard.planned is None else shard.planned, shard.reported, shard.failed,
         _seconds(shard.predicted_seconds), _seconds(shard.actual_seconds), status_text(shard))
        for shard in result.shards
    ]


SHARD_HEADER = ("shard", "planned", "reported", "failed", "planned s", "actual s", "status")


def imbalance_text(result: MergeResult) -> str | None:
    ratio = result.imbalance
    if ratio is None:
        return None
    ran = [s.actual_seconds for s in result.shards if s.spec is not None and s.reported]
    return (f"imbalance: slowest shard {max(ran):.1f} s / mean {math.fsum(ran) / len(ran):.1f} s "
            f"= {ratio:.2f}")


def _history(test: TestOutcome) -> str:
    return ", ".join(f"{outcome} in {source}" for outcome, source in test.history)


def _shard_of(test: TestOutcome) -> str:
    return f"shard {test.shard}" if test.shard is not None else "no shard"


# ---------------------------------------------------------------------------------------------- terminal


def _capped(lines: list[str], items: int, shown: int, what: str) -> list[str]:
    if items > shown:
        lines.append(f"  ... and {items - shown} more {what} (all of them: --json, or the merged XML)")
    return lines


def render_terminal(result: MergeResult) -> str:
    identity = result.identity
    intro = f"sharder merge: {result.report_count} report{'s' if result.report_count != 1 else ''}"
    if identity.plan_id:
        intro += f", plan {identity.plan_id}"
    if identity.shards is not None:
        intro += f", {identity.shards} shard{'s' if identity.shards != 1 else ''}"
    out = [intro, "", format_table(SHARD_HEADER, shard_rows(result))] if result.shards else [intro]
    balance = imbalance_text(result)
    if balance:
        out += ["", balance]
    slowest = result.slowest(SLOWEST)
    if slowest:
        out += ["", f"{len(slowest)} slowest tests:"]
        out += [f"  {test.seconds:8.2f} s  {_shard_of(test):>12}  {test.node_id}" for test in slowest]
    failures = result.failures
    if failures:
        out += ["", f"FAILED ({len(failures)}):"]
        for test in failures[:TERMINAL_LIST_LIMIT]:
            tag = "ERROR" if test.outcome == "error" else "FAILED"
            recovered = ", from the progress log" if test.recovered else ""
            out.append(f"  {tag} {test.node_id}  [{_shard_of(test)}{recovered}]")
            out += [f"      {line}" for line in first_lines(test.message)]
        _capped(out, len(failures), TERMINAL_LIST_LIMIT, "failures")
    flaky = result.flaky
    if flaky:
        out += ["", f"FLAKY ({len(flaky)}): failed, then passed on another attempt"]
        out += [f"  {test.node_id}  [{_shard_of(test)}]: {_history(test)}" for test in flaky[:TERMINAL_LIST_LIMIT]]
        _capped(out, len(flaky), TERMINAL_LIST_LIMIT, "flaky tests")
    out += _terminal_missing(result)
    if result.unplanned:
        out += ["", f"NOT IN THE PLAN ({len(result.unplanned)}): these ran but the plan does not list them"]
        out += [f"  {node_id}" for node_id in result.unplanned[:TERMINAL_LIST_LIMIT]]
        _capped(out, len(result.unplanned), TERMINAL_LIST_LIMIT, "tests")
    if result.unreadable:
        out += ["", f"UNREADABLE REPORTS ({len(result.unreadable)}): counted as shards that sent no report"]
        out += [f"  {reason}" for reason in result.unreadable]
    if result.notes:
        out += [""] + [f"note: {note}" for note in result.notes]
    out += ["", f"sharder merge: {verdict_word(result)}: {headline(result)}"]
    return "\n".join(out)


def _terminal_missing(result: MergeResult) -> list[str]:
    out: list[str] = []
    for shard in result.shards:
        if not shard.missing and not shard.missing_unnamed and not shard.is_problem:
            continue
        if shard.status == "failed" and not shard.missing and not shard.missing_unnamed:
            continue
        count = len(shard.missing) + shard.missing_unnamed
        out.append(f"  shard {shard.label}: {status_text(shard)}; {count} planned tests never reported")
        for node_id in shard.missing[:TERMINAL_LIST_LIMIT]:
            mark = "   <- running when the shard died" if node_id == shard.died_in else ""
            out.append(f"    NEVER REPORTED {node_id}{mark}")
        _capped(out, len(shard.missing), TERMINAL_LIST_LIMIT, "tests of this shard")
        if shard.missing_unnamed:
            out.append(f"    {shard.missing_unnamed} more not named: pass --plan to list them")
    if out:
        out = ["", f"MISSING ({result.missing_count} tests):", *out]
    return out


# ---------------------------------------------------------------------------------------------- Markdown


def code(text: str) -> str:
    """An inline code span that survives backticks in node ids. Pipes are left alone: outside a table GitHub
    shows `\\|` in a code span as both characters; inside one, `_cell` escapes them (GFM splits table cells
    before it parses code spans, so there a pipe needs its backslash even between backticks)."""
    text = text.replace("\n", " ")
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if "`" in (text[:1], text[-1:]) else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _cell(value: object) -> str:
    return str(value).replace("\n", " ").replace("|", "\\|")


def _md_table(header: tuple[str, ...], rows: list[tuple[object, ...]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


@dataclass
class _Section:
    """A Markdown section whose items may be cut to fit the budget, with a note saying how many were cut."""

    title: str
    items: list[str]
    intro: list[str] = field(default_factory=list)
    outro: list[str] = field(default_factory=list)
    shown: int = -1
    unlisted: int = 0  # items known to be too many to fit, left out before rendering (counted in the note)
    complete_in: str = "the merged XML and `--json` have them all"  # where a reader finds what was cut

    def render(self) -> list[str]:
        if not self.items and not self.intro:
            return []
        shown = len(self.items) if self.shown < 0 else self.shown
        lines = ["", self.title, "", *self.intro, *self.items[:shown]]
        if shown < len(self.items) + self.unlisted:
            lines += ["", f"_... and {len(self.items) + self.unlisted - shown} more not shown here (GitHub's 1 MiB "
                          f"summary limit); {self.complete_in}._"]
        return lines + self.outro

    def size(self) -> int:
        return len("\n".join(self.render()).encode("utf-8")) + 1


def _failure_item(test: TestOutcome) -> str:
    lines = first_lines(test.message)
    kind = "error" if test.outcome == "error" else "failed"
    head = f"- {code(test.node_id)} ({_shard_of(test)}, {kind}{', from the progress log' if test.recovered else ''})"
    if not lines:
        return head
    fence = "````" if any("```" in line for line in lines) else "```"
    return "\n".join([head, f"  {fence}", *[f"  {line}" for line in lines], f"  {fence}"])


def _missing_items(result: MergeResult) -> list[str]:
    items: list[str] = []
    for node_id, shard in result.missing:
        died = " (running when the shard died)" if node_id == shard.died_in else ""
        items.append(f"- {code(node_id)} (shard {shard.label}, {shard.status}){died}")
    for shard in result.shards:
        if shard.missing_unnamed:
            items.append(f"- {shard.missing_unnamed} tests of shard {shard.label} ({shard.status}): "
                         "pass `--plan` to name them")
    return items


def _all_tests_section(result: MergeResult, budget: int) -> _Section:
    """Every test with its outcome and shard, folded away (`<details>`): "did my test run, and where?" answered
    in the job summary. On a large suite it is the first list cut to fit the budget, so rows past the budget are
    not even built (100,000 rows would cost a second to render and then be cut)."""
    header = ("outcome", "shard", "seconds", "test")
    rows: list[str] = []
    size = 0
    for test in result.tests.values():
        if size > budget:  # characters never outnumber UTF-8 bytes: every row that could fit is built
            break
        rows.append(f"| {test.outcome} | {test.shard or '-'} | {test.seconds:.2f} | {_cell(code(test.node_id))} |")
        size += len(rows[-1]) + 1
    if not rows:
        return _Section("### All tests (0)", [])
    return _Section(f"### All tests ({len(result.tests)})", rows, unlisted=len(result.tests) - len(rows),
                    intro=["<details><summary>every test, its outcome and shard</summary>", "",
                           *_md_table(header, [])[:2]], outro=["", "</details>"],
                    complete_in="the merged XML (`sharder merge -o`) has every test; `--json` lists only failures")


def render_markdown(result: MergeResult, budget: int = STEP_SUMMARY_LIMIT - MARKDOWN_MARGIN) -> str:
    """The summary as GitHub-flavoured Markdown, at most `budget` bytes: long lists are cut, with a note."""
    mark = "✅" if result.exit_code == 0 else "❌"
    identity = result.identity
    facts = [f"{result.report_count} report{'s' if result.report_count != 1 else ''}"]
    if identity.plan_id:
        facts.append(f"plan `{identity.plan_id}`")
    if identity.shards is not None:
        facts.append(f"{identity.shards} shard{'s' if identity.shards != 1 else ''}")
    head = [f"## sharder: {mark} {headline(result)}", "", ", ".join(facts)]
    balance = imbalance_text(result)
    sections = [
        _Section("### Shards", _md_table(SHARD_HEADER, shard_rows(result))[2:],
                 intro=_md_table(SHARD_HEADER, [])[:2], outro=["", balance.capitalize()] if balance else []),
        _Section(f"### Failures ({len(result.failures)})", [_failure_item(t) for t in result.failures]),
        _Section(f"### Never reported ({result.missing_count})", _missing_items(result)),
        _Section(f"### Flaky ({len(result.flaky)})",
                 [f"- {code(t.node_id)} ({_shard_of(t)}): {_history(t)}" for t in result.flaky]),
        _Section(f"### Not in the plan ({len(result.unplanned)})", [f"- {code(n)}" for n in result.unplanned]),
        _Section("### Unreadable reports", [f"- {_cell(reason)}" for reason in result.unreadable]),
        _Section(f"### {SLOWEST} slowest tests", _md_table(("seconds", "shard", "test"), [
            (f"{t.seconds:.2f}", t.shard or "-", code(t.node_id)) for t in result.slowest(SLOWEST)])[2:],
            intro=_md_table(("seconds", "shard", "test"), [])[:2]),
        _all_tests_section(result, budget),
        _Section("### Notes", [f"- {_cell(note)}" for note in result.notes]),
    ]
    _fit(sections, budget - len("\n".join(head).encode("utf-8")) - 2)
    lines = head + [line for section in sections for line in section.render()]
    return "\n".join(lines) + "\n"


def _fit(sections: list[_Section], budget: int) -> None:
    """Halve the longest list until everything fits; a section keeps its title and its 'N more' note."""
    while sum(section.size() for section in sections) > budget:
        cuttable = [s for s in sections if (len(s.items) if s.shown < 0 else s.shown) > 0]
        if not cuttable:
            return
        largest = max(cuttable, key=lambda s: s.size())
        shown = len(largest.items) if largest.shown < 0 else largest.shown
        largest.shown = shown // 2


# ---------------------------------------------------------------------------------------------- JSON


def _test_json(test: TestOutcome) -> dict[str, Any]:
    return {"nodeid": test.node_id, "outcome": test.outcome, "shard": str(test.shard) if test.shard else None,
            "seconds": round(test.seconds, 6), "attempts": test.attempts, "message": test.message,
            "history": [list(item) for item in test.history], "from_progress_log": test.recovered}


def render_json(result: MergeResult) -> dict[str, Any]:
    identity = result.identity
    return {
        "exit_code": result.exit_code,
        "verdict": headline(result),
        "plan_id": identity.plan_id,
        "shards_total": identity.shards,
        "planned": result.planned_total,
        "reported": len(result.tests),
        "failed": len(result.with_outcome("failed")),
        "errors": len(result.with_outcome("error")),
        "skipped": len(result.with_outcome("skipped")),
        "xfailed": len(result.with_outcome("xfailed")),
        "flaky": len(result.flaky),
        "missing": result.missing_count,
        "imbalance": None if result.imbalance is None else round(result.imbalance, 4),
        "shards": [
            {"shard": shard.label, "planned": shard.planned, "reported": shard.reported, "failed": shard.failed,
             "predicted_seconds": shard.predicted_seconds, "actual_seconds": round(shard.actual_seconds, 6),
             "status": shard.status, "died_in": shard.died_in, "recovered": shard.recovered,
             "cancelled_by": shard.cancelled_by,
             "sources": shard.sources, "missing": shard.missing, "missing_unnamed": shard.missing_unnamed}
            for shard in result.shards
        ],
        "failures": [_test_json(t) for t in result.failures],
        "flaky_tests": [_test_json(t) for t in result.flaky],
        "unplanned": result.unplanned,
        "unreadable": result.unreadable,
        "notes": result.notes,
        "slowest": [_test_json(t) for t in result.slowest(SLOWEST)],
    }
