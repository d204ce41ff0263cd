"""`sharder merge`: one verdict and one JUnit report from all the shards' reports and progress logs."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sharder.reports.verdict import MergeResult

DESCRIPTION = """\
Combine shard reports (JUnit XML from `sharder run` or any producer) into one verdict and, with -o, one report.
Each report's progress log (NAME.progress.jsonl beside it) is read too: a shard killed mid-run leaves no report
but its log says which tests finished and which one was running.

Which tests were planned comes from --plan, or from the plan identity sharder's plugin records in every report
(plan id and every shard's size), so a shard that sent nothing is still noticed; without --plan its tests can be
counted but not named, unless its progress log survived.
"""

EPILOG = """\
exit status:
  0  every planned test reported and none failed (flaky tests, which failed and then passed, are listed but
     pass unless --fail-on-flaky)
  1  failures, planned tests that never reported, a shard with no readable report (missing, truncated,
     corrupt, or with counters its cases contradict: failures declared but no failing case, tests declared
     but no case; counted as a shard that sent nothing, its progress log used to recover what finished), or
     tests the plan does not list
  2  unusable input: a path that does not exist, a directory with no reports or progress logs, a report with a
     DOCTYPE or entities, a file that is not JUnit XML, a test time over 10,000,000 s, the same report twice
     (by path or content), reports of different plans mixed, no readable report and no progress log at all
"""


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "merge", help="merge shard reports into one verdict (and one JUnit report)",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="REPORT_OR_DIR",
                        help="JUnit XML files, progress logs (*.progress.jsonl), or directories holding them")
    parser.add_argument("--plan", metavar="PATH", help="the plan.json the shards ran (names every missing test)")
    parser.add_argument("-o", "--output", metavar="PATH", help="write the merged JUnit XML here")
    parser.add_argument("--markdown", metavar="PATH",
                        help="write the summary as Markdown here (default: append to $GITHUB_STEP_SUMMARY if set)")
    parser.add_argument("--html", metavar="PATH",
                        help="write a self-contained HTML report here: the shard timeline, the verdict, the shard "
                             "table, the slowest tests and the failures (opens from disk, fetches nothing)")
    parser.add_argument("--json", action="store_true",
                        help="print the verdict as JSON on stdout (the text summary goes to stderr)")
    parser.add_argument("--fail-on-flaky", action="store_true", help="exit 1 when a test failed and then passed")
    # A flag plus its own path option: an optional value on --coverage would swallow the first report path.
    parser.add_argument("--coverage", action="store_true",
                        help="also combine the shards' coverage data (shard-K-of-N.coverage, from `sharder run "
                             "--coverage`) into --coverage-file; a shard with results but no data fails the merge")
    parser.add_argument("--coverage-file", default=".coverage", metavar="PATH",
                        help="where --coverage writes the combined data (default: .coverage)")
    parser.set_defaults(func=run)


def merge_and_report(
    paths: Sequence[str | os.PathLike[str]],
    *,
    plan_path: str | os.PathLike[str] | None = None,
    output: str | os.PathLike[str] | None = None,
    markdown: str | os.PathLike[str] | None = None,
    as_json: bool = False,
    fail_on_flaky: bool = False,
    coverage: str | os.PathLike[str] | None = None,
    html: str | os.PathLike[str] | None = None,
) -> int:
    """Everything `sharder merge` does; `sharder local` ends with it too."""
    from sharder.core.collector import collector_paused

    # A merge builds a few records per test (cases, attempts, outcomes), none in a cycle: without the pause the
    # cyclic collector walks them again and again, 40% of a 1,000,000-case merge.
    with collector_paused():
        return _merge_and_report(paths, plan_path=plan_path, output=output, markdown=markdown, as_json=as_json,
                                 fail_on_flaky=fail_on_flaky, coverage=coverage, html=html)


def _merge_and_report(
    paths: Sequence[str | os.PathLike[str]],
    *,
    plan_path: str | os.PathLike[str] | None,
    output: str | os.PathLike[str] | None,
    markdown: str | os.PathLike[str] | None,
    as_json: bool,
    fail_on_flaky: bool,
    coverage: str | os.PathLike[str] | None,
    html: str | os.PathLike[str] | None,
) -> int:
    from sharder.core.log_text import json_line, log_safe, shielded
    from sharder.planning.plan import read_plan
    from sharder.reports.annotations import error_annotations, in_github_actions
    from sharder.reports.inputs import collect, resolve_identity
    from sharder.reports.merged_xml import MergedReportWriter
    from sharder.reports.summary import render_json, render_terminal
    from sharder.reports.verdict import judge

    plan = read_plan(plan_path) if plan_path is not None else None
    writer = MergedReportWriter(output) if output is not None else None
    inputs = collect(paths, plan, sink=writer.add_report if writer is not None else None)
    identity = resolve_identity(inputs, plan)
    result = judge(inputs, identity, fail_on_flaky=fail_on_flaky)
    if writer is not None and output is not None:
        writer.add_recovered(result.recovered, identity.plan_id)
        writer.add_missing(result)
        writer.write()
    text = render_terminal(result)
    if output is not None:
        text += f"\nmerged report written to {log_safe(os.fspath(output))}"
    if html is not None:
        from sharder.reports.html_report import write_html

        write_html(html, result, inputs)
        text += f"\nHTML report written to {log_safe(os.fspath(html))}"
    exit_code = result.exit_code
    if coverage is not None:
        coverage_text, coverage_ok = _combine_coverage(paths, coverage, result)
        text += "\n" + coverage_text
        if not coverage_ok:
            exit_code = max(exit_code, 1)
    # Under GitHub Actions the text, which quotes the suite's ids and messages, goes out between stop-commands
    # markers, and sharder's own annotations before it on the same stream (the runner reads stdout and stderr
    # apart, and a stop holds for both): with --json, stdout is the JSON document alone.
    github = in_github_actions()
    stream = sys.stderr if as_json else sys.stdout
    if github:
        for line in error_annotations(result):
            print(line, file=stream, flush=True)
    print(shielded(text, github=github), file=stream, flush=True)
    if as_json:
        print(json_line(render_json(result)), flush=True)
    # Last: a step summary that cannot be written (a garbage $GITHUB_STEP_SUMMARY) is an error (exit 2), but
    # the verdict above has been printed first, so the job log still says what happened to every test.
    _write_markdown(result, markdown)
    return exit_code


def _combine_coverage(
    paths: Sequence[str | os.PathLike[str]], output: str | os.PathLike[str], result: MergeResult,
) -> tuple[str, bool]:
    """Combine the shards' coverage data; the summary line, and False when a reporting shard sent none."""
    from sharder.reports.coverage import combine_coverage

    reporting = [shard.spec.report_stem for shard in result.shards if shard.spec is not None and shard.reported]
    combined = combine_coverage(paths, output, reporting)
    line = (f"coverage: {len(combined.inputs)} data files combined into {os.fspath(output)} "
            f"({combined.measured_files} measured files)")
    if combined.shards_without_data:
        line += ("\ncoverage INCOMPLETE: no coverage data from " + ", ".join(combined.shards_without_data)
                 + " (their tests reported, so the combined numbers would be too low)")
        return line, False
    return line, True


def _write_markdown(result: MergeResult, markdown: str | os.PathLike[str] | None) -> None:
    """To --markdown (whole file, atomically), else appended to GitHub's step summary when there is one."""
    from sharder.core.atomic import atomic_write_text
    from sharder.reports.annotations import append_step_summary, step_summary_budget
    from sharder.reports.summary import MARKDOWN_MARGIN, STEP_SUMMARY_LIMIT, render_markdown

    if markdown is not None:
        atomic_write_text(markdown, render_markdown(result, budget=STEP_SUMMARY_LIMIT - MARKDOWN_MARGIN))
        return
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_file:
        path = Path(summary_file)
        budget = step_summary_budget(path) - MARKDOWN_MARGIN
        if budget < MARKDOWN_MARGIN:
            print("sharder merge: $GITHUB_STEP_SUMMARY is nearly full (1 MiB); summary not added", file=sys.stderr)
            return
        append_step_summary(path, render_markdown(result, budget=budget))


def run(args: argparse.Namespace) -> int:
    return merge_and_report(
        args.paths, plan_path=args.plan, output=args.output, markdown=args.markdown, as_json=args.json,
        fail_on_flaky=args.fail_on_flaky, coverage=args.coverage_file if args.coverage else None, html=args.html,
    )
