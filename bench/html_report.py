"""Benchmark: the HTML report of a 100,000-test run: its size, what `--html` adds to the merge, and the time to first
render in headless Chromium.

The run is `merge.py`'s generated one (a plan and 16 shard reports, 1% failures with tracebacks, 3% skips) plus a
progress log per shard in the plugin's format, every test stamped with its start and end, so the page draws the
real timeline (canvas mode, tiny tests merged into blocks). The merge runs as its own process with and without
`--html`, alternating, `--repeat` rounds: the ratio of CPU times is what the page costs the merge. First render is
the page's own mark (`document.body.dataset.rendered`: `performance.now()` once the timeline is drawn and the
frame painted, so milliseconds since navigation started), each time in a fresh tab; the table shows the median
and the spread.

    python bench/html_report.py [--tests 100000] [--shards 16] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from merge import measure, write_reports

from sharder.core.progress_log import encode_event
from sharder.core.table import format_table
from sharder.planning.plan import Plan

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.reports.browser, the tests' own driver
from tests.reports.browser import Browser

START = 1_780_000_000.0


def write_progress_logs(reports: Path, plan: Plan, seed: int = 11) -> None:
    """Each shard's log as its plugin writes it: 1 to 3 s of start-up and collection, then its tests one after
    another (a little scheduling gap each), then a second of session teardown."""
    rng = random.Random(seed)
    for shard_bin in plan.bins:
        stem = f"shard-{shard_bin.shard}-of-{plan.shards}"
        clock = START + rng.uniform(1.0, 3.0)
        events = [{"event": "session", "format": 1, "shard": f"{shard_bin.shard}/{plan.shards}",
                   "plan_id": plan.plan_id, "plan_sizes": [len(b.tests) for b in plan.bins],
                   "predicted_seconds": shard_bin.predicted_seconds, "order": list(shard_bin.tests),
                   "started_at": START, "at": clock}]
        for index, node_id in enumerate(shard_bin.tests, 1):
            seconds = rng.lognormvariate(-3.0, 1.5)
            events.append({"event": "start", "nodeid": node_id, "at": round(clock, 6)})
            clock += seconds
            events.append({"event": "test", "nodeid": node_id, "outcome": "passed", "setup": 0.0, "call": seconds,
                           "teardown": 0.0, "seconds": round(seconds, 6), "shard": f"{shard_bin.shard}/{plan.shards}",
                           "index": index, "at": round(clock, 6)})
            clock += rng.uniform(0.0, 0.002)
        events.append({"event": "finish", "exitstatus": 1, "at": round(clock + 1.0, 6)})
        (reports / f"{stem}.progress.jsonl").write_bytes(b"".join(encode_event(event) for event in events))


def first_render_ms(browser: Browser, page_path: Path) -> tuple[float, float]:
    """(the page's own mark, the wall time this process saw from navigating to the mark), in milliseconds."""
    page = browser.page()
    try:
        started = time.perf_counter()
        page.open(page_path)
        seen = (time.perf_counter() - started) * 1000
        return float(page.evaluate("document.body.dataset.rendered")), seen
    finally:
        page.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=100_000)
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="write the run and the page here and leave them")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args(argv)
    work = args.keep or Path(tempfile.mkdtemp(prefix="sharder-html-bench-"))
    try:
        plan_path, _, plan = write_reports(work, args.tests, args.shards)
        reports = work / "reports"
        write_progress_logs(reports, plan)
        page_path = work / "report.html"
        merge = [sys.executable, "-m", "sharder", "merge", str(reports), "--plan", str(plan_path),
                 "--markdown", str(work / "summary.md")]
        plain, with_html = [], []
        for _ in range(args.repeat):  # alternating, so the machine's load falls on both alike
            plain.append(measure(merge, work))
            with_html.append(measure([*merge, "--html", str(page_path)], work))
        size_mb = page_path.stat().st_size / 1e6
        with Browser(args.chromium, timeout=120) as browser:
            renders = [first_render_ms(browser, page_path) for _ in range(args.repeat)]
        marks = [mark for mark, _ in renders]
        walls = [wall for _, wall in renders]
        cpu_ratio = statistics.median(h.cpu_seconds for h in with_html) / statistics.median(
            p.cpu_seconds for p in plain)
        wall_ratio = statistics.median(h.seconds for h in with_html) / statistics.median(p.seconds for p in plain)
        print(f"{args.tests} tests in {args.shards} shards (progress logs with times), {args.repeat} rounds\n")
        print(format_table(("what", "median", "min", "max"), [
            ("HTML file size (MB)", f"{size_mb:.2f}", "", ""),
            ("first render, the page's mark (ms since navigation)", f"{statistics.median(marks):.0f}",
             f"{min(marks):.0f}", f"{max(marks):.0f}"),
            ("navigate to rendered, as the driver saw it (ms)", f"{statistics.median(walls):.0f}",
             f"{min(walls):.0f}", f"{max(walls):.0f}"),
            ("merge with --html / without, CPU", f"{cpu_ratio:.2f}", "", ""),
            ("merge with --html / without, wall", f"{wall_ratio:.2f}", "", ""),
        ]))
        failed = [m.code for m in plain + with_html if m.code not in (0, 1)]
        if failed:
            print(f"merge exited {failed}", file=sys.stderr)
            return 2
        return 0
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
