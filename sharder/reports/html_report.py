"""The merge as one self-contained HTML page: the shard timeline, the verdict, the shard table, the slowest tests
and the failures with their messages (`sharder merge --html report.html`).

One file that opens from disk anywhere, so nothing is fetched: the CSS and the script are inline, the timeline's
data is a JSON document inside `<script type="application/json">`, and a Content-Security-Policy meta forbids
every network request (`default-src 'none'`) and every script or style but the page's own (by SHA-256 hash, so
the same run gives the same bytes). Every string that came from a report is untrusted: in the HTML it goes through
`html.escape`, in the JSON `<`, `>` and `&` are `\\u` escapes (so `</script>` in a test name cannot end the
element) as is every non-ASCII character (U+2028 and U+2029 included), and the script puts text in the page with
`textContent` and `dataset`, never `innerHTML`.

Drawing, for one design that holds from 35 tests to 100,000: each lane is a row of the page (a DOM element per
lane), and its bars are drawn either as DOM elements (`div.bar`, with `data-nodeid` and `data-outcome`) when the
whole run has at most `DOM_BAR_LIMIT` bars, or on one `<canvas>` per lane beyond that, where bars narrower than a
pixel or two merge into blocks coloured by their worst outcome and zooming in (wheel, buttons) separates them.
Both draw the same layout from the same data, and hovering and clicking use one hit test over that data (time
under the pointer, row, binary search), so the tooltip and the failure message behave the same in either mode.
The verdict's numbers are the terminal summary's (`summary.headline`, `summary.shard_rows`, `MergeResult.slowest`).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
from collections.abc import Sequence
from importlib import resources
from typing import Any

from sharder.core.atomic import atomic_write_bytes
from sharder.reports.inputs import MergeInputs
from sharder.reports.summary import (
    SHARD_HEADER,
    SLOWEST,
    first_lines,
    headline,
    imbalance_text,
    run_facts,
    shard_rows,
    timings_line,
    verdict_word,
)
from sharder.reports.timeline import DIED, Lane, build_lanes
from sharder.reports.verdict import MergeResult, TestOutcome

# Above this many bars in the whole run, lanes are drawn on canvases: 2,000 absolutely placed elements lay out in
# a few milliseconds, 100,000 take seconds.
DOM_BAR_LIMIT = 2000
# Times go into the JSON as integers of 0.1 ms: short numbers, and finer than any clock a test report carries.
TICK_SECONDS = 1e-4
# Failures listed in the page with their message; the merged XML and `--json` hold them all.
FAILURES_LISTED = 200
# Messages kept for clicking a bar: enough for a traceback's gist, bounded so 100,000 failures stay a few MB.
MESSAGE_CHARS = 2000
MESSAGES_KEPT = 5000
# The outcomes a bar may have, in the order of the legend; anything else a report invents is shown as "other".
OUTCOMES = ("passed", "failed", "error", "flaky", "rerun", "skipped", "xfailed", DIED, "other")


def _clean(text: str) -> str:
    """Lone surrogates (a test id may hold any code point) become U+FFFD: the page is UTF-8."""
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _script_json(value: Any) -> str:
    """JSON that cannot leave its `<script>` element nor be read as HTML: ASCII only, `<>&` as escapes."""
    text = json.dumps(value, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _ticks(seconds: float) -> int:
    return max(0, round(seconds / TICK_SECONDS))


def _outcome_code(outcome: str) -> int:
    return OUTCOMES.index(outcome) if outcome in OUTCOMES else OUTCOMES.index("other")


class _Strings:
    """A test file's path once per page, not once per test: `f` indexes `files`, `n` is the id after `::`."""

    def __init__(self) -> None:
        self.files: list[str] = []
        self._index: dict[str, int] = {}

    def split(self, node_id: str) -> tuple[int, str]:
        head, sep, rest = node_id.partition("::")
        if not sep:
            return -1, _clean(node_id)
        index = self._index.get(head)
        if index is None:
            index = self._index[head] = len(self.files)
            self.files.append(_clean(head))
        return index, _clean(rest)


def _lane_json(lane: Lane, strings: _Strings, messages: dict[str, int]) -> dict[str, Any]:
    files: list[int] = []
    names: list[str] = []
    starts: list[int] = []
    lengths: list[int] = []
    outcomes: list[int] = []
    attempt_outcomes: list[int] = []
    peaks: list[float] = []
    rows: list[int] = []
    message_of: list[int] = []
    for bar in lane.bars:
        file_index, name = strings.split(bar.node_id)
        files.append(file_index)
        names.append(name)
        start = _ticks(bar.start)
        starts.append(start)
        lengths.append(max(0, _ticks(bar.end) - start))
        outcomes.append(_outcome_code(bar.outcome))
        attempt_outcomes.append(_outcome_code(bar.attempt_outcome))
        peaks.append(-1 if bar.peak_rss_mb is None else round(bar.peak_rss_mb, 1))
        rows.append(bar.row)
        message_of.append(messages.get(bar.node_id, -1))
    return {
        "label": _clean(lane.label), "timed": lane.timed, "rows": lane.rows, "end": _ticks(lane.end),
        "before": None if lane.fixed_before is None else _ticks(lane.fixed_before),
        "after": None if lane.fixed_after is None else _ticks(lane.fixed_after),
        "outside": None if lane.outside_seconds is None else _ticks(lane.outside_seconds),
        "predicted": None if lane.predicted_seconds is None else _ticks(lane.predicted_seconds),
        "status": lane.status,
        "f": files, "n": names, "s": starts, "d": lengths, "o": outcomes, "a": attempt_outcomes, "m": peaks,
        "r": rows, "x": message_of,
    }


def _messages(result: MergeResult) -> tuple[list[list[str]], dict[str, int]]:
    """[node id, message] of the failed, errored and flaky tests (first `MESSAGES_KEPT`), and each one's index."""
    kept: list[list[str]] = []
    index: dict[str, int] = {}
    for test in [*result.failures, *result.flaky][:MESSAGES_KEPT]:
        index[test.node_id] = len(kept)
        kept.append([_clean(test.node_id), _clean(_message_text(test)[:MESSAGE_CHARS])])
    return kept, index


def _message_text(test: TestOutcome) -> str:
    if test.message.strip():
        return test.message
    if test.history:
        return ", ".join(f"{outcome} in {source}" for outcome, source in test.history)
    return "(no message recorded)"


def timeline_lanes(result: MergeResult, inputs: MergeInputs) -> list[Lane]:
    """The lanes, each with its shard's predicted seconds and status from the verdict; a shard that sent no
    test at all (no report, died before its first test, refused to run) gets an empty lane with its status, so
    the picture shows the hole."""
    outcome_of = {node_id: test.outcome for node_id, test in result.tests.items()}
    lanes = build_lanes(inputs.logs, result.attempts, outcome_of)
    drawn = {lane.shard for lane in lanes}
    lanes += [Lane(key=str(shard.spec), label=f"shard {shard.spec}", shard=shard.spec, timed=True)
              for shard in result.shards if shard.spec is not None and shard.spec not in drawn]
    lanes.sort(key=lambda lane: (lane.shard is None, lane.shard.index if lane.shard else 0, lane.key))
    by_spec = {shard.spec: shard for shard in result.shards if shard.spec is not None}
    for lane in lanes:
        shard = by_spec.get(lane.shard) if lane.shard is not None else None
        if shard is not None:
            lane.predicted_seconds = shard.predicted_seconds
            lane.status = shard.status
    return lanes


def page_data(result: MergeResult, inputs: MergeInputs, *, dom_bar_limit: int = DOM_BAR_LIMIT) -> dict[str, Any]:
    lanes = timeline_lanes(result, inputs)
    strings = _Strings()
    messages, message_index = _messages(result)
    lane_data = [_lane_json(lane, strings, message_index) for lane in lanes]
    plan = result.identity.plan
    bars = sum(len(lane.bars) for lane in lanes)
    return {
        "tick": TICK_SECONDS,
        "outcomes": list(OUTCOMES),
        "files": strings.files,
        "lanes": lane_data,
        "messages": messages,
        "lower_bound": _ticks(plan.lower_bound_seconds) if plan is not None else None,
        "dom": bars <= dom_bar_limit,
    }


def _h(text: object) -> str:
    return html.escape(_clean(str(text)), quote=True)


def _table(header: Sequence[str], rows: Sequence[Sequence[object]], css: str) -> str:
    head = "".join(f"<th>{_h(cell)}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{_h(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _failures_html(result: MergeResult) -> str:
    failures = result.failures
    if not failures:
        return "<p>No test failed.</p>"
    items = []
    for test in failures[:FAILURES_LISTED]:
        kind = "error" if test.outcome == "error" else "failed"
        shard = f"shard {test.shard}" if test.shard is not None else "no shard"
        message = "\n".join(first_lines(test.message, 40)) or "(no message recorded)"
        items.append(f'<li><code class="nodeid">{_h(test.node_id)}</code> <span class="tag {kind}">{kind}</span> '
                     f"<span class=\"where\">{_h(shard)}</span><pre>{_h(message)}</pre></li>")
    more = (f"<p>... and {len(failures) - FAILURES_LISTED} more failures: the merged XML and "
            "<code>sharder merge --json</code> list them all.</p>") if len(failures) > FAILURES_LISTED else ""
    return f'<ol class="failures">{"".join(items)}</ol>{more}'


def _notes_html(result: MergeResult, lanes: Sequence[dict[str, Any]]) -> str:
    notes = list(result.notes)
    placed = [lane["label"] for lane in lanes if not lane["timed"]]
    if placed:
        notes.insert(0, "no progress-log times for " + ", ".join(placed) + ": their tests are placed one after "
                     "another in report order by their durations, not at the times they ran")
    if not notes:
        return ""
    return '<ul class="notes">' + "".join(f"<li>{_h(note)}</li>" for note in notes) + "</ul>"


def _asset(name: str) -> str:
    return resources.files("sharder.reports").joinpath("html_assets").joinpath(name).read_text(encoding="utf-8")


def _hash_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def render_html(result: MergeResult, inputs: MergeInputs, *, dom_bar_limit: int = DOM_BAR_LIMIT) -> str:
    data = page_data(result, inputs, dom_bar_limit=dom_bar_limit)
    css, script = _asset("report.css"), _asset("report.js")
    policy = (f"default-src 'none'; script-src {_hash_source(script)}; style-src {_hash_source(css)}; "
              "img-src 'none'; connect-src 'none'; base-uri 'none'; form-action 'none'")
    ok = result.exit_code == 0
    identity = result.identity
    facts = run_facts(result, str)  # escaped where the page writes it, as every string from a report
    balance = imbalance_text(result)
    if balance:
        facts.append(balance)
    if identity.plan is not None:
        facts.append(f"lower bound {identity.plan.lower_bound_seconds:.1f} s")
    timings = timings_line(result)
    if timings:
        facts.append(timings)
    slowest = [(f"{t.seconds:.2f}", t.outcome, str(t.shard) if t.shard else "-", t.node_id)
               for t in result.slowest(SLOWEST)]
    legend = "".join(f'<span class="key"><span class="swatch o-{name}"></span>{name}</span>'
                     for name in OUTCOMES if name not in ("other", DIED))
    legend += f'<span class="key"><span class="swatch o-{DIED}"></span>running when its shard died</span>'
    legend += ('<span class="key"><span class="swatch fixed"></span>fixed cost (before the first test, after the '
               'last)</span><span class="key"><span class="swatch outside"></span>outside pytest (sharder\'s start, '
               'the interpreter\'s exit)</span>'
               '<span class="key"><span class="swatch predicted"></span>predicted shard time</span>'
               '<span class="key"><span class="swatch bound"></span>lower bound</span>')
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_h(policy)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sharder: {_h(verdict_word(result))}</title>
<style>{css}</style>
</head>
<body>
<header class="verdict {'ok' if ok else 'bad'}">
<h1><span class="word">{_h(verdict_word(result))}</span> <span class="headline">{_h(headline(result))}</span></h1>
<p class="facts">{_h(", ".join(facts))}</p>
</header>
{_notes_html(result, data["lanes"])}
<section class="timeline-section">
<div class="toolbar"><button type="button" id="zoom-in">zoom in</button>
<button type="button" id="zoom-out">zoom out</button><button type="button" id="zoom-fit">fit</button>
<span class="hint">wheel: zoom, drag: pan, click a bar: its details</span></div>
<div class="legend">{legend}</div>
<div id="axis"></div>
<div id="timeline"></div>
<div id="tip" hidden></div>
<div id="detail" hidden><button type="button" id="detail-close">close</button><h2 id="detail-title"></h2>
<p id="detail-facts"></p><pre id="detail-message"></pre></div>
</section>
<div class="columns">
<section><h2>Shards</h2>{_table(SHARD_HEADER, shard_rows(result, show=str), "shards")}</section>
<section><h2>{SLOWEST} slowest tests</h2>{_table(("seconds", "outcome", "shard", "test"), slowest, "slowest")}</section>
</div>
<section><h2>Failures ({len(result.failures)})</h2>{_failures_html(result)}</section>
<script type="application/json" id="sharder-data">{_script_json(data)}</script>
<script>{script}</script>
</body>
</html>
"""


def write_html(path: str | os.PathLike[str], result: MergeResult, inputs: MergeInputs) -> None:
    atomic_write_bytes(path, render_html(result, inputs).encode("utf-8"))
