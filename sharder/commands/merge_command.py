"""`sharder merge`: one verdict and one JUnit report from all the shards' reports and progress logs."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sharder.merge import MergeResult

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
  1  failures, planned tests that never reported, a shard with no readable report (missing, truncated or
     corrupt: counted as a shard that sent nothing, its progress log used to recover what finished), or tests
     the plan does not list
  2  unusable input: a path that does not exist, a directory with no reports or progress logs, a report with a
     DOCTYPE or entities, a file that is not JUnit XML, the same report twice (by path or content), reports of
     different plans mixed, no readable report and no progress log at all
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
    parser.add_argument("--json", action="store_true",
                        help="print the verdict as JSON on stdout (the text summary goes to stderr)")
    parser.add_argument("--fail-on-flaky", action="store_true", help="exit 1 when a test failed and then passed")
    parser.set_defaults(func=run)


def merge_and_report(
    paths: Sequence[str | os.PathLike[str]],
    *,
    plan_path: str | os.PathLike[str] | None = None,
    output: str | os.PathLike[str] | None = None,
    markdown: str | os.PathLike[str] | None = None,
    as_json: bool = False,
    fail_on_flaky: bool = False,
) -> int:
    """Everything `sharder merge` does; `sharder local` ends with it too."""
    from sharder.merge import judge
    from sharder.merge_inputs import collect, resolve_identity
    from sharder.merged_report import MergedReportWriter
    from sharder.plan import read_plan
    from sharder.summary import render_json, render_terminal

    plan = read_plan(plan_path) if plan_path is not None else None
    writer = MergedReportWriter() if output is not None else None
    inputs = collect(paths, plan, sink=writer.add_report if writer is not None else None)
    identity = resolve_identity(inputs, plan)
    result = judge(inputs, identity, fail_on_flaky=fail_on_flaky)
    if writer is not None and output is not None:
        writer.add_recovered(result.recovered, identity.plan_id)
        writer.add_missing(result)
        writer.write(output)
    text = render_terminal(result)
    if output is not None:
        text += f"\nmerged report written to {os.fspath(output)}"
    _write_markdown(result, markdown)
    _annotate(result)
    if as_json:
        print(text, file=sys.stderr, flush=True)
        print(json.dumps(render_json(result), ensure_ascii=False))
    else:
        print(text, flush=True)
    return result.exit_code


def _write_markdown(result: MergeResult, markdown: str | os.PathLike[str] | None) -> None:
    """To --markdown (whole file, atomically), else appended to GitHub's step summary when there is one."""
    from sharder.annotations import append_step_summary, step_summary_budget
    from sharder.atomic import atomic_write_text
    from sharder.summary import MARKDOWN_MARGIN, STEP_SUMMARY_LIMIT, render_markdown

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


def _annotate(result: MergeResult) -> None:
    from sharder.annotations import error_annotations, in_github_actions

    if in_github_actions():
        for line in error_annotations(result):
            print(line, flush=True)


def run(args: argparse.Namespace) -> int:
    return merge_and_report(
        args.paths, plan_path=args.plan, output=args.output, markdown=args.markdown, as_json=args.json,
        fail_on_flaky=args.fail_on_flaky,
    )
