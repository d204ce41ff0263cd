"""`sharder init github|gitlab`: write a sharded CI pipeline for the project in the current directory."""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
from pathlib import Path
from typing import Any

from sharder.commands.matrix_command import matrix_count_arg
from sharder.core.durationtext import duration_argument

PROVIDERS = ("github", "gitlab")
DEFAULT_GITLAB_SHARDS = 4


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "init", help="write a CI pipeline that runs this suite sharded (GitHub Actions or GitLab CI)",
        description="github: write .github/workflows/sharder.yml, a plan job (sharder matrix + sharder plan), one "
        "test job per shard (sharder run), and a report job (sharder merge into the job summary, sharder "
        "rebalance). gitlab: write .gitlab-ci.yml, the same three stages with `parallel: N` shards and the "
        "durations store in GitLab's cache.",
    )
    parser.add_argument("provider", choices=PROVIDERS, help="the CI to write for")
    how_many = parser.add_mutually_exclusive_group()
    how_many.add_argument("--shards", type=matrix_count_arg, metavar="N",
                          help=f"always N shards (GitLab's parallel: is fixed in the file; default {DEFAULT_GITLAB_SHARDS})")
    how_many.add_argument("--target", type=duration_argument, metavar="DURATION",
                          help="choose the fewest shards that finish within DURATION on each run (default 10m)")
    parser.add_argument("--job-overhead", type=duration_argument, metavar="DURATION",
                        help="with --target: cost of starting each shard job (default 1m)")
    parser.add_argument("--install", metavar="CMD",
                        help="the install step's command (default: detected from pyproject.toml's test or dev extra "
                             "and requirements files, plus pytest-sharder)")
    parser.add_argument("--python", metavar="VERSION",
                        help="the Python version (default: .python-version, else the newest requires-python allows)")
    parser.add_argument("--store", choices=("cache", "repo"), default="cache",
                        help="github: where the durations store lives between runs: GitHub's cache (default; saved "
                             "from the default branch, read everywhere) or a committed durations.json (the report "
                             "job uploads the refreshed file to commit)")
    parser.add_argument("-o", "--output", metavar="PATH",
                        help="where to write (default .github/workflows/sharder.yml, or .gitlab-ci.yml)")
    parser.add_argument("--force", action="store_true", help="replace an existing file")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sharder.ci.gitlab import DEFAULT_OUTPUT as GITLAB_OUTPUT
    from sharder.ci.gitlab import PipelineOptions, gitlab_pipeline, render_pipeline
    from sharder.ci.workflow import (
        DEFAULT_OUTPUT,
        DEFAULT_OVERHEAD_SECONDS,
        WorkflowOptions,
        detect_setup,
        github_workflow,
        render_workflow,
    )
    from sharder.core.atomic import atomic_write_text
    from sharder.core.errors import SharderError

    if args.install is not None and not args.install.strip():
        raise SharderError("--install needs a command, e.g. --install \"python -m pip install -e . pytest-sharder\"")
    if args.python is not None and not re.fullmatch(r"[\w.+-]+", args.python):
        raise SharderError(f"--python {args.python!r} is not a Python version (e.g. 3.12)")
    if args.provider == "github" and any("${{" in text for text in (args.install or "", *args.pytest_args)):
        # GitHub expands ${{ }} inside run: before the shell parses the line, so the value would become code.
        raise SharderError("${{ }} in --install or the pytest arguments would be expanded by GitHub into the shell "
                           "line; put the value in the environment and write $NAME instead")
    if args.job_overhead is not None and args.shards is not None:
        raise SharderError("--job-overhead goes with --target; --shards N needs no timings")
    if args.target is not None and not args.target > 0:
        raise SharderError("the target must be longer than 0s")
    if args.provider == "gitlab" and (args.target is not None or args.job_overhead is not None):
        raise SharderError("GitLab's parallel: is a number in the file: give --shards N "
                           "(`sharder matrix --target 10m` tells which N meets a target)")
    output = Path(args.output) if args.output else (DEFAULT_OUTPUT if args.provider == "github" else GITLAB_OUTPUT)
    if output.is_dir():
        raise SharderError(f"{os.fspath(output)!r} is a directory; give the file's path")
    if output.exists() and not args.force:
        raise SharderError(f"{os.fspath(output)!r} already exists; pass --force to replace it")
    setup = detect_setup(Path.cwd(), install=args.install, python=args.python)
    if args.provider == "github":
        options = WorkflowOptions(
            shards=args.shards, target_seconds=args.target,
            overhead_seconds=DEFAULT_OVERHEAD_SECONDS if args.job_overhead is None else args.job_overhead,
            install=setup.install, python_version=setup.python_version, dependency_files=setup.dependency_files,
            pytest_args=tuple(args.pytest_args), store=args.store,
        )
        text = render_workflow(github_workflow(options))
    else:
        pipeline = PipelineOptions(shards=args.shards or DEFAULT_GITLAB_SHARDS, install=setup.install,
                                   python_version=setup.python_version, pytest_args=tuple(args.pytest_args))
        text = render_pipeline(gitlab_pipeline(pipeline))
    try:
        atomic_write_text(output, text)
    except OSError as exc:
        raise SharderError(f"cannot write {os.fspath(output)!r}: {exc.strerror}") from None
    print(f"sharder init: wrote {os.fspath(output)}", file=sys.stderr)
    print(f"  install: {setup.install}  ({setup.install_reason}; --install CMD to change)", file=sys.stderr)
    print(f"  python:  {setup.python_version}  ({setup.python_reason}; --python VERSION to change)", file=sys.stderr)
    if args.pytest_args:
        print(f"  pytest arguments on the lines that collect: {shlex.join(args.pytest_args)}", file=sys.stderr)
    return 0
