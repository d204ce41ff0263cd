"""Rendering a merge verdict: the terminal summary, the Markdown summary (under a byte budget) and JSON.

Knows nothing of parsing. The same facts in each form: totals; failures with the first lines of their message;
per shard: tests, planned seconds vs actual seconds, status; the slowest tests; the imbalance.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sharder.core.command_text import command_text
from sharder.core.log_text import log_safe
from sharder.core.table import format_table
from sharder.reports import markdown as md
from sharder.reports import wall_summary
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
    parts: list[str] = [result.nothing_ran] if result.nothing_ran else []
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


def status_text(shard: ShardResult, show: Callable[[str], str] = log_safe) -> str:
    """The shard's status; `show` renders the test it died in (log-safe for a terminal, a code span in Markdown)."""
    text = f"cancelled by {shard.cancelled_by}" if shard.cancelled_by else shard.status
    if shard.died_in:
        text += f" while running {show(shard.died_in)}"
    if shard.recovered:
        text += f"; {shard.recovered} recovered from its progress log"
    if shard.attempt:  # it ran more than once: say which run this is and what the earlier ones were
        earlier = ", ".join(f"{label} {status}" for label, status in shard.earlier_attempts)
        text += f" ({shard.attempt}; earlier: {earlier})" if earlier else f" ({shard.attempt})"
    return text


def shard_problem(shard: ShardResult) -> str:
    """The status with the shard's own reason: its error (said once, above its tests), or what deselected it."""
    text = status_text(shard)
    if shard.error:
        text += ": " + (first_lines(shard.error, 1) or [""])[0]
    elif shard.all_deselected is not None:
        args = f" ({command_text(shard.pytest_args)})" if shard.pytest_args else ""
        text += f": its pytest arguments{args} deselected all {shard.all_deselected} of its tests"
    return text


def shard_rows(result: MergeResult, show: Callable[[str], str] = log_safe) -> list[tuple[object, ...]]:
    return [
        (shard.label, "?" if shard.planned is None else shard.planned, shard.reported, shard.failed,
         _seconds(shard.predicted_seconds), _seconds(shard.actual_seconds), status_text(shard, show))
        for shard in result.shards
    ]


SHARD_HEADER = ("shard", "planned", "reported", "failed", "planned s", "actual s", "status")


def imbalance_text(result: MergeResult) -> str | None:
    """Measured, so over the mean shard (the total / N part of the plan's lower bound), in the plan's words."""
    ratio = result.imbalance
    if ratio is None:
        return None
    ran = [s.actual_seconds for s in result.shards if s.spec is not None and s.reported]
    return (f"imbalance {100 * (ratio - 1):.2f}% over the mean shard (slowest shard {max(ran):.1f} s, "
            f"mean {math.fsum(ran) / len(ran):.1f} s)")


def _history(test: TestOutcome) -> str:
    """Raw: each form escapes it as a whole (the sources are report file names, which anyone may choose)."""
    return ", ".join(f"{outcome} in {source}" for outcome, source in test.history)


def _shard_of(test: TestOutcome) -> str:
    return f"shard {test.shard}" if test.shard is not None else "no shard"


# ---------------------------------------------------------------------------------------------- terminal


def _capped(lines: list[str], items: int, shown: int, what: str) -> list[str]:
    if items > shown:
        lines.append(f"  ... and {items - shown} more {what} (all of them: --json, or the merged XML)")
    return lines


def timings_line(result: MergeResult) -> str | None:
    """Where the plan's timings came from (`sharder plan` records it in plan.json): the one provenance line."""
    from sharder.planning.plan import TIMINGS_KEY
    from sharder.stores.timings_source import describe_record

    plan = result.identity.plan
    record = plan.extra.get(TIMINGS_KEY) if plan is not None else None
    return f"planned with {describe_record(record)}" if isinstance(record, dict) else None


def run_facts(result: MergeResult, quote: Callable[[str], str]) -> list[str]:
    """How many reports, which plan, how many shards: the opening facts of every rendering (terminal, Markdown,
    HTML), the plan id through the rendering's own `quote`, since it comes from a report."""
    identity = result.identity
    facts = [f"{result.report_count} report{'s' if result.report_count != 1 else ''}"]
    if identity.plan_id:
        facts.append(f"plan {quote(identity.plan_id)}")
    if identity.shards is not None:
        facts.append(f"{identity.shards} shard{'s' if identity.shards != 1 else ''}")
    return facts


def render_terminal(result: MergeResult) -> str:
    """Every value that came from a report (ids, messages, names, reasons) goes through `log_safe`: one line each,
    no workflow command, so the summary can be printed into a CI log whatever the suite put in it."""
    intro = "sharder merge: " + ", ".join(run_facts(result, log_safe))
    out = [intro, "", format_table(SHARD_HEADER, shard_rows(result))] if result.shards else [intro]
    timings = timings_line(result)
    if timings:
        out += ["", log_safe(timings)]
    balance = imbalance_text(result)
    if balance:
        out += ["", balance]
    out += wall_summary.terminal_lines(result)
    slowest = result.slowest(SLOWEST)
    if slowest:
        out += ["", f"{len(slowest)} slowest tests:"]
        out += [f"  {test.seconds:8.2f} s  {_shard_of(test):>12}  {log_safe(test.node_id)}" for test in slowest]
    failures = result.failures
    if failures:
        out += ["", f"FAILED ({len(failures)}):"]
        for test in failures[:TERMINAL_LIST_LIMIT]:
            tag = "ERROR" if test.outcome == "error" else "FAILED"
            recovered = ", from the progress log" if test.recovered else ""
            out.append(f"  {tag} {log_safe(test.node_id)}  [{_shard_of(test)}{recovered}]")
            out += [f"      {log_safe(line)}" for line in first_lines(test.message)]
        _capped(out, len(failures), TERMINAL_LIST_LIMIT, "failures")
    flaky = result.flaky
    if flaky:
        out += ["", f"FLAKY ({len(flaky)}): failed, then passed on another attempt"]
        out += [f"  {log_safe(test.node_id)}  [{_shard_of(test)}]: {log_safe(_history(test))}"
                for test in flaky[:TERMINAL_LIST_LIMIT]]
        _capped(out, len(flaky), TERMINAL_LIST_LIMIT, "flaky tests")
    out += _terminal_missing(result)
    out += [log_safe(line) if line else line for line in queue_lines(result)]
    if result.unplanned:
        out += ["", f"NOT IN THE PLAN ({len(result.unplanned)}): these ran but the plan does not list them"]
        out += [f"  {log_safe(node_id)}" for node_id in result.unplanned[:TERMINAL_LIST_LIMIT]]
        _capped(out, len(result.unplanned), TERMINAL_LIST_LIMIT, "tests")
    if result.unreadable:
        out += ["", f"UNREADABLE REPORTS ({len(result.unreadable)}): counted as shards that sent no report"]
        out += [f"  {log_safe(reason)}" for reason in result.unreadable]
    if result.notes:
        out += [""] + [f"note: {log_safe(note)}" for note in result.notes]
    out += ["", f"sharder merge: {verdict_word(result)}: {headline(result)}"]
    return "\n".join(out)


def queue_lines(result: MergeResult) -> list[str]:
    """Queue mode: which queue run, the tests that went back to the queue when a job died, and the causes."""
    queue = result.queue
    if queue is None:
        return []
    out = ["", f"QUEUE: run {', '.join(queue.runs)}; {len(queue.re_leased)} tests re-leased after a lease expired "
           "(a job died or hung)" + (":" if queue.re_leased else "")]
    out += [f"  {node_id}" for node_id in queue.re_leased[:TERMINAL_LIST_LIMIT]]
    _capped(out, len(queue.re_leased), TERMINAL_LIST_LIMIT, "re-leased tests")
    for node_id, kills in queue.causes.items():
        out.append(f"  CAUSE {node_id}: {kills} jobs died running it; it was not leased again")
    return out


def _terminal_missing(result: MergeResult) -> list[str]:
    out: list[str] = []
    for shard in result.shards:
        if not shard.missing and not shard.missing_unnamed and not shard.is_problem:
            continue
        if shard.status == "failed" and not shard.missing and not shard.missing_unnamed:
            continue
        count = len(shard.missing) + shard.missing_unnamed
        never = f"; {count} planned tests never reported" if count or not (shard.error or shard.all_deselected) else ""
        out.append(f"  shard {shard.label}: {log_safe(shard_problem(shard))}{never}")
        for node_id in shard.missing[:TERMINAL_LIST_LIMIT]:
            mark = "   <- running when the shard died" if node_id == shard.died_in else ""
            out.append(f"    NEVER REPORTED {log_safe(node_id)}{mark}")
        _capped(out, len(shard.missing), TERMINAL_LIST_LIMIT, "tests of this shard")
        if shard.missing_unnamed:
            out.append(f"    {shard.missing_unnamed} more not named: pass --plan to list them")
    if out:
        out = ["", f"MISSING ({result.missing_count} tests):", *out]
    return out


# ---------------------------------------------------------------------------------------------- Markdown


# Every value from a report goes through `markdown` (md): ids as code spans (`md.code`, `md.cell_code` in a table),
# messages in fences longer than their backtick runs (`md.fenced`), other text escaped (`md.text`); sharder's own
# words and numbers in cells through `md.cell`. So no HTML and no Markdown structure comes from a test.


def _md_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    """Rows of cells already rendered for a table (`md.cell`, `md.cell_code`, `md.text`)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _md_shard_rows(result: MergeResult) -> list[tuple[str, ...]]:
    rows = shard_rows(result, show=md.cell_code)
    return [(*(md.cell(value) for value in row[:-1]), str(row[-1])) for row in rows]


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
    head = f"- {md.code(test.node_id)} ({_shard_of(test)}, {kind}{', from the progress log' if test.recovered else ''})"
    if not lines:
        return head
    return "\n".join([head, *md.fenced(lines, indent="  ")])


def _missing_items(result: MergeResult) -> list[str]:
    items = [f"- shard {shard.label}: {md.code(shard_problem(shard))}" for shard in result.shards
             if shard.error or shard.all_deselected is not None]
    for node_id, shard in result.missing:
        died = " (running when the shard died)" if node_id == shard.died_in else ""
        items.append(f"- {md.code(node_id)} (shard {shard.label}, {shard.status}){died}")
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
        rows.append(f"| {md.cell(test.outcome)} | {test.shard or '-'} | {test.seconds:.2f} | {md.cell_code(test.node_id)} |")
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
    facts = run_facts(result, md.code)
    head = [f"## sharder: {mark} {headline(result)}", "", ", ".join(facts)]
    timings = timings_line(result)
    if timings:
        head += ["", md.text(timings[:1].upper() + timings[1:])]
    balance = imbalance_text(result)
    sections = [
        _Section("### Shards", _md_table(SHARD_HEADER, _md_shard_rows(result))[2:],
                 intro=_md_table(SHARD_HEADER, [])[:2], outro=["", balance.capitalize()] if balance else []),
        _Section("### Wall per shard", wall_summary.markdown_rows(result),
                 intro=wall_summary.markdown_intro() if wall_summary.wall_rows(result) else []),
        _Section(f"### Failures ({len(result.failures)})", [_failure_item(t) for t in result.failures]),
        _Section(f"### Never reported ({result.missing_count})", _missing_items(result)),
        *_md_queue_sections(result),
        _Section(f"### Flaky ({len(result.flaky)})",
                 [f"- {md.code(t.node_id)} ({_shard_of(t)}): {md.text(_history(t))}" for t in result.flaky]),
        _Section(f"### Not in the plan ({len(result.unplanned)})", [f"- {md.code(n)}" for n in result.unplanned]),
        _Section("### Unreadable reports", [f"- {md.text(reason)}" for reason in result.unreadable]),
        _Section(f"### {SLOWEST} slowest tests", _md_table(("seconds", "shard", "test"), [
            (f"{t.seconds:.2f}", md.cell(t.shard or "-"), md.cell_code(t.node_id)) for t in result.slowest(SLOWEST)])[2:],
            intro=_md_table(("seconds", "shard", "test"), [])[:2]),
        _all_tests_section(result, budget),
        _Section("### Notes", [f"- {md.text(note)}" for note in result.notes]),
    ]
    _fit(sections, budget - len("\n".join(head).encode("utf-8")) - 2)
    lines = head + [line for section in sections for line in section.render()]
    return "\n".join(lines) + "\n"


def _md_queue_sections(result: MergeResult) -> list[_Section]:
    queue = result.queue
    if queue is None:
        return []
    return [
        _Section(f"### Causes ({len(queue.causes)})",
                 [f"- {md.code(node_id)}: {kills} jobs died running it; not leased again"
                  for node_id, kills in queue.causes.items()]),
        _Section(f"### Re-leased after a job died ({len(queue.re_leased)})",
                 [f"- {md.code(node_id)}" for node_id in queue.re_leased],
                 intro=[f"Queue run {md.code(', '.join(queue.runs))}.", ""]),
    ]


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
        "nothing_ran": result.nothing_ran,
        "imbalance": None if result.imbalance is None else round(result.imbalance, 4),
        "shards": [
            {"shard": shard.label, "planned": shard.planned, "reported": shard.reported, "failed": shard.failed,
             "predicted_seconds": shard.predicted_seconds, "actual_seconds": round(shard.actual_seconds, 6),
             "status": shard.status, "died_in": shard.died_in, "recovered": shard.recovered,
             "sources": shard.sources, "missing": shard.missing, "missing_unnamed": shard.missing_unnamed,
             "error": shard.error, "all_deselected": shard.all_deselected,
             "pytest_args": list(shard.pytest_args) if shard.pytest_args is not None else None,
             "stale_reports": shard.stale, "cancelled_by": shard.cancelled_by, "attempt": shard.attempt,
             "earlier_attempts": [{"attempt": label, "status": status} for label, status in shard.earlier_attempts],
             **wall_summary.wall_json(shard)}
            for shard in result.shards
        ],
        "failures": [_test_json(t) for t in result.failures],
        "flaky_tests": [_test_json(t) for t in result.flaky],
        "unplanned": result.unplanned,
        "unreadable": result.unreadable,
        "notes": result.notes,
        "slowest": [_test_json(t) for t in result.slowest(SLOWEST)],
        "queue": None if result.queue is None else {"runs": list(result.queue.runs),
                                                    "re_leased": list(result.queue.re_leased),
                                                    "causes": result.queue.causes},
    }
