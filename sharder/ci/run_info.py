"""Which CI run this is: provider, run and attempt, branch, default branch, commit, read from the environment.

The durations store records it when a run saves timings, so the next plan can say where its timings came from
("pipeline 1234 on main, 3 h ago"), and the merge summary can show it. Values come from the provider's own
variables; anything absent is None, and a machine outside CI is a `local` run.

The attempt (`attempt_number`) is stamped on every shard's report and progress log by `sharder run`, so a merge of
every attempt's reports takes each shard's latest as its verdict. GitHub numbers a run's attempts
(`GITHUB_RUN_ATTEMPT`: 1, then 2 for "Re-run failed jobs" or "Re-run all jobs"). GitLab has no such variable in
most versions: a retried job is a new job with a new, larger `CI_JOB_ID` in the same pipeline, and only newer
GitLab versions add `CI_JOB_RETRY_COUNT` (0 on the first run), read here as attempt count + 1 when it is set;
without it the attempt is unknown and the merge orders a shard's attempts by their progress logs' start times
(a retry starts after the job it retries ended). A local run is attempt 1.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class CiRun:
    provider: str  # "github", "gitlab", or "local"
    run_id: str | None = None
    attempt: str | None = None
    branch: str | None = None
    default_branch: str | None = None
    commit: str | None = None

    @property
    def attempt_number(self) -> int | None:
        """The attempt as a number from 1, or None when the CI gives none (or gives something else)."""
        if self.provider == "local":
            return 1
        text = self.attempt or ""
        if text.isascii() and text.isdigit() and 0 < int(text) < 1_000_000:
            return int(text)
        return None

    @property
    def on_default_branch(self) -> bool | None:
        if self.branch is None or self.default_branch is None:
            return None
        return self.branch == self.default_branch


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def ci_run_from_environment(environ: Mapping[str, str] | None = None) -> CiRun:
    env = os.environ if environ is None else environ
    if env.get("GITHUB_ACTIONS") == "true":
        return CiRun("github", _get(env, "GITHUB_RUN_ID"), _get(env, "GITHUB_RUN_ATTEMPT"),
                     _get(env, "GITHUB_HEAD_REF") or _get(env, "GITHUB_REF_NAME"), None, _get(env, "GITHUB_SHA"))
    # GitLab sets GITLAB_CI=true; runners that emulate it (gitlab-ci-local) set only the pipeline's own variables.
    if env.get("GITLAB_CI") == "true" or (_get(env, "CI_PIPELINE_ID") and _get(env, "CI_COMMIT_SHA")):
        retries = _get(env, "CI_JOB_RETRY_COUNT")
        attempt = str(int(retries) + 1) if retries is not None and retries.isascii() and retries.isdigit() else None
        return CiRun("gitlab", _get(env, "CI_PIPELINE_ID"), attempt,
                     _get(env, "CI_COMMIT_REF_NAME") or _get(env, "CI_COMMIT_BRANCH"), _get(env, "CI_DEFAULT_BRANCH"),
                     _get(env, "CI_COMMIT_SHA"))
    return CiRun("local")
