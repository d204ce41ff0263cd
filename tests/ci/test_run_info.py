"""Which CI run wrote a store: read from each provider's own variables."""

from __future__ import annotations

from sharder.ci.run_info import CiRun, ci_run_from_environment


def test_github_run_attempt_and_branch() -> None:
    run = ci_run_from_environment({"GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "77", "GITHUB_RUN_ATTEMPT": "2",
                                   "GITHUB_REF_NAME": "main", "GITHUB_SHA": "abc"})
    assert run == CiRun("github", "77", "2", "main", None, "abc")
    pull = ci_run_from_environment({"GITHUB_ACTIONS": "true", "GITHUB_REF_NAME": "12/merge", "GITHUB_HEAD_REF": "fix"})
    assert pull.branch == "fix"  # a pull request's own branch, not GitHub's merge ref


def test_gitlab_pipeline_and_default_branch() -> None:
    run = ci_run_from_environment({"GITLAB_CI": "true", "CI_PIPELINE_ID": "9", "CI_COMMIT_REF_NAME": "dev",
                                   "CI_DEFAULT_BRANCH": "main", "CI_COMMIT_SHA": "def"})
    assert run == CiRun("gitlab", "9", None, "dev", "main", "def")
    assert run.on_default_branch is False


def test_anything_else_is_a_local_run() -> None:
    assert ci_run_from_environment({}) == CiRun("local")
    assert ci_run_from_environment({"GITHUB_ACTIONS": "false", "CI_PIPELINE_ID": ""}).provider == "local"


def test_the_attempt_a_shard_stamps_on_its_outputs() -> None:
    github = {"GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "77"}
    assert ci_run_from_environment({**github, "GITHUB_RUN_ATTEMPT": "2"}).attempt_number == 2
    assert ci_run_from_environment({**github, "GITHUB_RUN_ATTEMPT": "two"}).attempt_number is None
    assert ci_run_from_environment(github).attempt_number is None
    gitlab = {"GITLAB_CI": "true", "CI_PIPELINE_ID": "9", "CI_JOB_ID": "501"}
    # most GitLab versions say nothing of a retry (a retried job only gets a new CI_JOB_ID): unknown, not 1
    assert ci_run_from_environment(gitlab).attempt_number is None
    assert ci_run_from_environment({**gitlab, "CI_JOB_RETRY_COUNT": "0"}).attempt_number == 1
    assert ci_run_from_environment({**gitlab, "CI_JOB_RETRY_COUNT": "2"}).attempt_number == 3
    assert ci_run_from_environment({}).attempt_number == 1  # a run on a laptop is its own first attempt
