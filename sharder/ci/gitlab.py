"""A GitLab CI pipeline that runs a project's pytest suite sharded by sharder (`sharder init gitlab`).

Three stages, the GitHub workflow's shape in GitLab's terms:
- `plan`: `sharder plan` writes plan.json from the durations store (the GitLab cache of the default branch, else
  a committed durations.json, else counting tests; it says which), kept as an artifact so every shard runs it;
- `test`: `parallel: N` copies; each learns its shard from `CI_NODE_INDEX`/`CI_NODE_TOTAL`, and its JUnit report
  (shown in the merge request through `artifacts:reports:junit`), progress log and raw report are kept even when
  tests fail;
- `report`: `when: always` after every shard: merges all reports into one verdict and an HTML report (kept as
  an artifact, its address printed in the job log) and rebalances the store. Its
  cache is pushed only on the default branch (`policy` from a rules variable), so a branch's failures never teach
  the store, and pulled everywhere else; `when: always` on the cache so a red run still saves its timings.

GitLab's `parallel:` is a number in the file, so N is fixed here (`--shards N`); `sharder matrix --target` tells
which N to write.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sharder.ci.workflow import DISTRIBUTION, queue_mode_line
from sharder.ci.yaml_text import render_yaml

DEFAULT_OUTPUT = Path(".gitlab-ci.yml")
DEFAULT_SHARDS = 4
STORE_DIR = ".sharder"
CACHE_KEY = "sharder-durations-$CI_DEFAULT_BRANCH"
POLICY_VARIABLE = "SHARDER_STORE_POLICY"

HEADER = """\
# Written by `sharder init gitlab`: a sharded pytest run.
#   plan:   writes plan.json from the durations store (GitLab cache of the default branch, else a committed
#           durations.json, else counting tests; the job log says which);
#   test:   `parallel` shards; JUnit reports, progress logs and reports/ kept even when tests fail;
#   report: always runs after the shards; one verdict for all of them, and the rebalanced durations store
#           saved to the cache on the default branch only.
"""
QUEUE_HEADER = """\
# Queue mode (--queue): with the CI/CD variable SHARDER_QUEUE_URL (masked; redis://[:PASSWORD@]HOST:PORT/DB of a
#   Redis every job can reach; `services:` are per job, so one cannot be the shared queue) the test jobs lease
#   batches from one queue. Without it (not set, or a protected variable on an unprotected branch) every job runs
#   its shard of the plan, as without --queue, and its log says so.
"""


@dataclass(frozen=True)
class PipelineOptions:
    shards: int = DEFAULT_SHARDS
    install: str = f"python -m pip install {DISTRIBUTION}"
    python_version: str = "3.12"
    pytest_args: tuple[str, ...] = ()
    test_timeout_minutes: int = 60
    queue: bool = False  # test jobs lease from the Redis queue at $SHARDER_QUEUE_URL, else run the plan


def _with_pytest_args(command: str, options: PipelineOptions) -> str:
    return f"{command} -- {shlex.join(options.pytest_args)}" if options.pytest_args else command


def _store_cache(policy: str) -> dict[str, Any]:
    return {"key": CACHE_KEY, "paths": [f"{STORE_DIR}/"], "policy": policy, "when": "always"}


def gitlab_pipeline(options: PipelineOptions) -> dict[str, Any]:
    """The pipeline as plain data, key order as written."""
    return {
        "stages": ["plan", "test", "report"],
        "default": {
            "image": f"python:{options.python_version}",
            "before_script": [options.install],
        },
        "variables": {"PIP_CACHE_DIR": "$CI_PROJECT_DIR/.cache/pip"},
        "plan": {
            "stage": "plan",
            "timeout": "15 minutes",
            "cache": [_store_cache("pull")],
            "script": [_with_pytest_args(f"sharder plan --shards {options.shards} --store {STORE_DIR} -o plan.json",
                                         options)],
            "artifacts": {"paths": ["plan.json"]},
        },
        "test": {
            "stage": "test",
            "needs": ["plan"],
            "parallel": options.shards,
            "timeout": f"{options.test_timeout_minutes} minutes",
            "script": [*([queue_mode_line("", "variable")] if options.queue else []),
                       _with_pytest_args("sharder run --plan plan.json --junit-dir reports", options)],
            "artifacts": {
                "when": "always",
                "paths": ["reports/"],
                "reports": {"junit": "reports/shard-*.xml"},
            },
        },
        "report": {
            "stage": "report",
            "needs": ["plan", "test"],
            "timeout": "15 minutes",
            "rules": [
                {"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH", "when": "always",
                 "variables": {POLICY_VARIABLE: "pull-push"}},
                {"when": "always", "variables": {POLICY_VARIABLE: "pull"}},
            ],
            "cache": [_store_cache(f"${POLICY_VARIABLE}")],
            "script": ["sharder merge reports --plan plan.json -o merged.xml --html report.html"],
            # after_script runs when the merge is red too; the store learns only from trusted results.
            "after_script": [f"sharder rebalance reports --plan plan.json --store {STORE_DIR}",
                             'echo "HTML report (the shard timeline): ${CI_JOB_URL}/artifacts/file/report.html"'],
            # The shards' own JUnit reports feed GitLab's test report; merged.xml again would count every test twice.
            "artifacts": {"when": "always", "paths": ["merged.xml", "report.html", f"{STORE_DIR}/"]},
        },
    }


def render_pipeline(pipeline: dict[str, Any], *, queue: bool = False) -> str:
    return HEADER + (QUEUE_HEADER if queue else "") + render_yaml(pipeline)
