"""A GitHub Actions workflow that runs a project's pytest suite sharded by sharder (`sharder init github`).

Three jobs, the shape of sharder's own `.github/workflows/ci.yml`:
- `plan`: `sharder matrix` picks N (or takes the given N) and `sharder plan` writes plan.json, uploaded once so
  every shard runs the same plan;
- `test`: one job per shard from `fromJSON(needs.plan.outputs.matrix)`, `fail-fast: false` so one red shard does
  not cancel the others' evidence, reports and progress logs uploaded even when tests fail;
- `report`: runs even when a shard failed or died (`if: always()`), merges every report into the step summary,
  and uploads a refreshed durations.json to commit for the next plans.

Built as data and written with PyYAML: every `run:` is one line a user would type, and the document is checked
by actionlint and executed step by step in sharder's own tests.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sharder.core.durationtext import format_duration

CHECKOUT = "actions/checkout@v4"
SETUP_PYTHON = "actions/setup-python@v5"
UPLOAD_ARTIFACT = "actions/upload-artifact@v4"
DOWNLOAD_ARTIFACT = "actions/download-artifact@v4"
DEFAULT_OUTPUT = Path(".github/workflows/sharder.yml")
DEFAULT_PYTHON = "3.12"
DEFAULT_TARGET_SECONDS = 600.0
DEFAULT_OVERHEAD_SECONDS = 60.0
PLAN_ARTIFACT = "sharder-plan"
REPORTS_ARTIFACT_PREFIX = "sharder-reports-"

HEADER = """\
# Written by `sharder init github`: a sharded pytest run.
#   plan:   chooses the shard count and writes plan.json from durations.json (commit that file);
#   test:   one job per shard; JUnit reports and progress logs are uploaded even when tests fail;
#   report: always runs; merges all reports into the job summary and uploads a refreshed durations.json
#           (artifact "durations"): commit it now and then so the plan follows the suite.
# Edit the Install step to install your project and its test dependencies.
"""


@dataclass(frozen=True)
class WorkflowOptions:
    shards: int | None = None  # a fixed count, or
    target_seconds: float | None = None  # the wall time to meet, N chosen by `sharder matrix --target`
    overhead_seconds: float = DEFAULT_OVERHEAD_SECONDS
    install: str = "python -m pip install sharder"
    python_version: str = DEFAULT_PYTHON


def install_command(project: str | os.PathLike[str]) -> str:
    """A guess at installing the project with its test requirements, plus sharder; the header says to check it."""
    root = Path(project)
    parts = ["python -m pip install"]
    if any((root / name).exists() for name in ("pyproject.toml", "setup.py", "setup.cfg")):
        parts.append("-e .")
    for name in ("requirements-dev.txt", "requirements-test.txt", "requirements.txt"):
        if (root / name).exists():
            parts.append(f"-r {name}")
            break
    parts.append("sharder")
    return " ".join(parts)


def matrix_command(options: WorkflowOptions) -> str:
    if options.shards is not None:
        return f"sharder matrix --shards {options.shards}"
    target = options.target_seconds if options.target_seconds is not None else DEFAULT_TARGET_SECONDS
    return (f"sharder matrix --target {format_duration(target)} "
            f"--job-overhead {format_duration(options.overhead_seconds)}")


def _setup_steps(options: WorkflowOptions) -> list[dict[str, Any]]:
    return [
        {"uses": CHECKOUT},
        {"uses": SETUP_PYTHON, "with": {"python-version": options.python_version}},
        {"name": "Install", "run": options.install},
    ]


def github_workflow(options: WorkflowOptions) -> dict[str, Any]:
    """The workflow as plain data (the YAML document's structure, key order as written)."""
    plan_job = {
        "name": "Plan shards",
        "runs-on": "ubuntu-latest",
        "outputs": {"matrix": "${{ steps.matrix.outputs.matrix }}", "shards": "${{ steps.matrix.outputs.shards }}"},
        "steps": [
            *_setup_steps(options),
            {"name": "Choose the shard count", "id": "matrix", "run": matrix_command(options)},
            {"name": "Plan", "run": "sharder plan --shards ${{ steps.matrix.outputs.shards }} -o plan.json"},
            {"uses": UPLOAD_ARTIFACT, "with": {"name": PLAN_ARTIFACT, "path": "plan.json"}},
        ],
    }
    test_job = {
        "name": "Tests ${{ matrix.shard }}",
        "needs": "plan",
        "runs-on": "ubuntu-latest",
        "strategy": {"fail-fast": False, "matrix": "${{ fromJSON(needs.plan.outputs.matrix) }}"},
        "steps": [
            *_setup_steps(options),
            {"uses": DOWNLOAD_ARTIFACT, "with": {"name": PLAN_ARTIFACT}},
            {"name": "Run shard", "run": "sharder run --shard ${{ matrix.shard }} --plan plan.json --junit-dir reports"},
            {"name": "Upload reports", "if": "always()", "uses": UPLOAD_ARTIFACT, "with": {
                # The shard ("3/8") cannot name an artifact ("/" is not allowed); the job index can.
                "name": REPORTS_ARTIFACT_PREFIX + "${{ strategy.job-index }}",
                "path": "reports/",
                "if-no-files-found": "warn",
            }},
        ],
    }
    report_job = {
        "name": "Report",
        "needs": ["plan", "test"],
        "if": "always()",
        "runs-on": "ubuntu-latest",
        "steps": [
            *_setup_steps(options),
            {"uses": DOWNLOAD_ARTIFACT, "with": {"name": PLAN_ARTIFACT}},
            {"uses": DOWNLOAD_ARTIFACT, "with": {
                "pattern": REPORTS_ARTIFACT_PREFIX + "*", "path": "reports", "merge-multiple": True}},
            {"name": "Merge", "run": "sharder merge reports --plan plan.json -o merged.xml"},
            {"name": "Rebalance", "if": "always()", "run": "sharder rebalance reports --plan plan.json"},
            {"name": "Upload durations", "if": "always()", "uses": UPLOAD_ARTIFACT, "with": {
                "name": "durations", "path": "durations.json", "if-no-files-found": "warn"}},
            {"name": "Upload merged report", "if": "always()", "uses": UPLOAD_ARTIFACT, "with": {
                "name": "merged-report", "path": "merged.xml", "if-no-files-found": "warn"}},
        ],
    }
    return {
        "name": "tests",
        "on": {"push": {"branches": ["main"]}, "pull_request": None, "workflow_dispatch": None},
        "permissions": {"contents": "read"},
        "concurrency": {"group": "${{ github.workflow }}-${{ github.ref }}", "cancel-in-progress": True},
        "jobs": {"plan": plan_job, "test": test_job, "report": report_job},
    }


class _WorkflowDumper(yaml.SafeDumper):
    """Lists indented under their key as GitHub's examples write them, and an empty trigger (`pull_request:`)
    written as nothing rather than `null`."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_none(dumper: yaml.SafeDumper, _: None) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:null", "")


_WorkflowDumper.add_representer(type(None), _represent_none)


def render_workflow(workflow: dict[str, Any]) -> str:
    # width: a `run:` line folded by the dumper would still be valid YAML, but not the line a user typed.
    body = yaml.dump(workflow, Dumper=_WorkflowDumper, sort_keys=False, default_flow_style=False, width=10_000,
                     allow_unicode=True)
    return HEADER + body
