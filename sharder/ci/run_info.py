"""Which CI run this is: provider, run and attempt, branch, default branch, commit, read from the environment.

The durations store records it when a run saves timings, so the next plan can say where its timings came from
("pipeline 1234 on main, 3 h ago"), and the merge summary can show it. Values come from the provider's own
variables; anything absent is None, and a machine outside CI is a `local` run.
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
        return CiRun("gitlab", _get(env, "CI_PIPELINE_ID"), None,
                     _get(env, "CI_COMMIT_REF_NAME") or _get(env, "CI_COMMIT_BRANCH"), _get(env, "CI_DEFAULT_BRANCH"),
                     _get(env, "CI_COMMIT_SHA"))
    return CiRun("local")
