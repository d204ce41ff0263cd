"""`sharder init github --queue` and `init gitlab --queue`: the shard jobs share one Redis queue when the CI gives
them its URL, and run their shard of the plan when it does not.

Checked as the plain workflows are (structure, actionlint, zizmor), then run: the GitHub workflow by the local step
runner of tests/ci/test_workflow_local.py, with the secret unset and set to a real redis-server; the GitLab
pipeline by gitlab-ci-local, its parallel test jobs on one real redis-server.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from sharder.ci.gitlab import PipelineOptions, gitlab_pipeline, render_pipeline
from sharder.ci.providers import SHARD_VARIABLE
from sharder.ci.workflow import QUEUE_SECRET, QUEUE_URL_ENV, WorkflowOptions, github_workflow, render_workflow
from sharder.reports.junit import read_report
from sharder.running.redis_server import RedisServer
from tests.ci.test_gitlab import _job_lines, _pipeline, _project
from tests.ci.test_workflow import load_workflow, run_actionlint, workflow_problems
from tests.ci.test_workflow_local import LocalWorkflowRun, _collected_ids
from tests.ci.test_workflow_local import step_env as step_env  # the fixture, shared with the plain workflow's runs

STEPS_WITH_THE_URL = ["Queue or plan", "Run shard"]


def _queue_workflow(tmp_path: Path, name: str = "queue.yml", **options: Any) -> Path:
    path = tmp_path / name
    path.write_text(render_workflow(github_workflow(WorkflowOptions(queue=True, **options)), queue=True))
    return path


def _steps(document: dict[str, Any], job: str) -> dict[str, dict[str, Any]]:
    return {step.get("name", step.get("uses", "")): step for step in document["jobs"][job]["steps"]}


def test_the_queue_workflow_is_the_sharded_one_with_the_url_from_a_secret(tmp_path: Path) -> None:
    document = load_workflow(_queue_workflow(tmp_path, shards=4))
    assert workflow_problems(document) == []
    # No job has a service container: each job would get a Redis of its own and run the whole suite on it.
    assert all("services" not in job for job in document["jobs"].values())
    test_steps = _steps(document, "test")
    # The secret reaches exactly the two steps that need it, as an environment variable, never a command line.
    holders = [name for name, step in test_steps.items() if QUEUE_URL_ENV in step.get("env", {})]
    assert holders == STEPS_WITH_THE_URL
    assert all(test_steps[name]["env"][QUEUE_URL_ENV] == QUEUE_SECRET for name in holders)
    # Beside the URL, only the shard (through the environment, as in the static workflow) reaches the run step.
    assert test_steps["Queue or plan"]["env"] == {QUEUE_URL_ENV: QUEUE_SECRET}
    assert test_steps["Run shard"]["env"] == {SHARD_VARIABLE: "${{ matrix.shard }}", QUEUE_URL_ENV: QUEUE_SECRET}
    assert "env" not in document["jobs"]["test"] and "env" not in document
    text = _queue_workflow(tmp_path, shards=4).read_text()
    assert text.count("secrets.") == 2 and "--queue" not in test_steps["Run shard"]["run"]
    # the rest is the static workflow, step for step
    plain = load_workflow(_plain(tmp_path, shards=4))
    assert [s.get("name") for s in plain["jobs"]["test"]["steps"]] == \
        [s.get("name") for s in document["jobs"]["test"]["steps"] if s.get("name") != "Queue or plan"]
    assert plain["jobs"]["plan"] == document["jobs"]["plan"] and plain["jobs"]["report"] == document["jobs"]["report"]


def _plain(tmp_path: Path, **options: Any) -> Path:
    path = tmp_path / "plain.yml"
    path.write_text(render_workflow(github_workflow(WorkflowOptions(**options))))
    return path


def test_the_generated_files_pass_actionlint_and_add_no_zizmor_finding(tmp_path: Path, run_sharder: Any) -> None:
    project = tmp_path / "project"
    project.mkdir()
    made = run_sharder(["init", "github", "--queue", "--target", "12m"], cwd=project)
    assert made.returncode == 0, made.stderr
    assert "SHARDER_QUEUE_URL as a repository secret" in made.stderr
    generated = project / ".github" / "workflows" / "sharder.yml"
    assert "'pytest-sharder[queue]'" in generated.read_text()
    result = run_actionlint([generated, _queue_workflow(tmp_path, shards=3)], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    zizmor = shutil.which("zizmor")
    if zizmor is None:
        pytest.skip("zizmor is not installed (the dev extra has it)")

    def findings(path: Path) -> list[str]:
        done = subprocess.run([zizmor, "--offline", "--format", "json", str(path)], capture_output=True, text=True,
                              timeout=120, check=False)
        return sorted(finding["ident"] for finding in json.loads(done.stdout))

    plain = findings(_plain(tmp_path, shards=3))
    assert findings(_queue_workflow(tmp_path, shards=3)) == plain
    assert "secrets-outside-env" not in plain


def test_init_gitlab_queue_says_which_mode_each_job_runs_in(tmp_path: Path, run_sharder: Any) -> None:
    made = run_sharder(["init", "gitlab", "--queue", "--shards", "3", "--install", "pip install x"], cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    document = yaml.safe_load((tmp_path / ".gitlab-ci.yml").read_text())
    assert document["default"]["before_script"] == ["pip install x"]  # a given install line is the user's own
    first, run = document["test"]["script"]
    assert run == "sharder run --plan plan.json --junit-dir reports" and "services" not in document["test"]
    for url, said in (("", "no SHARDER_QUEUE_URL variable: this job runs its shard of the plan"),
                      ("redis://queue:6379/0", "queue mode: this job leases its tests from the Redis queue")):
        echoed = subprocess.run(["bash", "-eo", "pipefail", "-c", first], env={QUEUE_URL_ENV: url},
                                capture_output=True, text=True, check=True)
        assert echoed.stdout.startswith(said)
    plain = yaml.safe_load(render_pipeline(gitlab_pipeline(PipelineOptions(shards=3, install="pip install x"))))
    plain["test"]["script"].insert(0, first)
    assert document == plain  # the static pipeline but for the one line


# ------------------------------------------------------------------------------------------- run locally


class _WithSecrets(LocalWorkflowRun):
    """The local runner with GitHub's `secrets` context: an unset secret is the empty string, as on GitHub."""

    def __init__(self, *args: Any, secrets: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.secrets = secrets

    def evaluate(self, expression: str, context: dict[str, Any]) -> Any:
        name = expression.strip()
        if name.startswith("secrets."):
            return self.secrets.get(name.removeprefix("secrets."), "")
        return super().evaluate(expression, context)


def _ran_by_shard(run: LocalWorkflowRun, shards: int) -> list[list[str]]:
    ran = []
    for index in range(shards):
        artifact = run.artifact(f"sharder-reports-{index}-1")
        ran.append([case.node_id for case in read_report(artifact / f"shard-{index + 1}-of-{shards}.xml").cases])
    return ran


def _output(run: LocalWorkflowRun, job: str, index: int, step: str) -> str:
    return next(s.output for s in run.runs[job][index].steps if s.name == step)


@pytest.fixture
def queue_project(example_dir: Path, run_sharder: Any) -> Path:
    made = run_sharder(["init", "github", "--queue", "--shards", "2"], cwd=example_dir)
    assert made.returncode == 0, made.stderr
    return example_dir


def test_without_the_secret_a_shard_runs_its_part_of_the_plan_and_says_so(
    queue_project: Path, run_sharder: Any
) -> None:
    """GitHub gives an unset secret as the empty string: the step says so in a notice, and `sharder run` runs
    the shard of the plan (the runs of the whole static workflow are tests/ci/test_workflow_local.py's)."""
    steps = _steps(load_workflow(queue_project / ".github" / "workflows" / "sharder.yml"), "test")
    said = subprocess.run(["bash", "-eo", "pipefail", "-c", steps["Queue or plan"]["run"]], env={QUEUE_URL_ENV: ""},
                          capture_output=True, text=True, check=True)
    assert said.stdout == "::notice title=sharder::no SHARDER_QUEUE_URL secret: this job runs its shard of the plan\n"
    assert run_sharder(["plan", "--shards", "2", "-o", "plan.json"], cwd=queue_project).returncode == 0
    ran = run_sharder(["run", "--shard", "2/2", "--plan", "plan.json", "--junit-dir", "reports"], cwd=queue_project,
                      **{QUEUE_URL_ENV: ""})
    assert ran.returncode == 0, ran.stderr
    assert "queue" not in ran.stdout + ran.stderr
    planned = json.loads((queue_project / "plan.json").read_text())["bins"][1]["tests"]
    cases = read_report(queue_project / "reports" / "shard-2-of-2.xml").cases
    assert sorted(case.node_id for case in cases) == sorted(planned)


def test_with_the_secret_the_shards_share_one_queue_and_run_each_test_once(
    queue_project: Path, tmp_path: Path, step_env: dict[str, str], redis_server: RedisServer
) -> None:
    workflow = queue_project / ".github" / "workflows" / "sharder.yml"
    run = _WithSecrets(workflow, queue_project, tmp_path / "run", step_env,
                       secrets={QUEUE_URL_ENV: redis_server.url})
    run.run()
    assert run.failures() == ""
    ids = _collected_ids(queue_project, step_env)
    ran = _ran_by_shard(run, 2)
    assert sorted(test for shard in ran for test in shard) == sorted(ids)  # every test once, over the jobs
    logs = [_output(run, "test", index, "Run shard") for index in range(2)]
    # The local runner runs the jobs one after another: the first seeds the queue and drains it, the others join
    # the same queue run (one namespace: the same CI run) and find nothing left.
    assert "queue mode: this job leases its tests" in _output(run, "test", 0, "Queue or plan")
    namespaces = {m.group(2) for log in logs for m in [re.search(r"(seeded|joined) queue run (\w+)", log)] if m}
    assert len(namespaces) == 1, logs
    assert "seeded queue run" in logs[0] and all("joined queue run" in log for log in logs[1:]), logs
    assert ran[0] and ran[1] == []
    assert f"{len(ids)} of {len(ids)} planned tests reported, 0 failed, 0 missing" in run.summary()


@pytest.mark.integration
def test_the_gitlab_pipeline_shares_one_queue_between_its_parallel_jobs(
    example_dir: Path, run_sharder: Any, sharder_env: dict[str, str], redis_server: RedisServer
) -> None:
    project = _project(example_dir, run_sharder, "--queue", "--shards", "3")
    done = _pipeline(project, {**sharder_env, QUEUE_URL_ENV: redis_server.url})
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    ids = _collected_ids(project, sharder_env)
    namespaces = set()
    for index in (1, 2, 3):
        log = _job_lines(output, f"test: [{index}/3]")
        assert "queue mode: this job leases its tests from the Redis queue" in log, log
        found = re.search(r"(seeded|joined) queue run (\w+)", log)
        assert found, log
        namespaces.add(found.group(2))
    assert len(namespaces) == 1
    assert f"{len(ids)} of {len(ids)} planned tests reported, 0 failed, 0 missing" in _job_lines(output, "report")
    reports = sorted((project / ".gitlab-ci-local" / "artifacts").glob("test*/reports/shard-*.xml"))
    assert len(reports) == 3, reports
    ran = [case.node_id for path in reports for case in read_report(path).cases]
    assert sorted(ran) == sorted(ids)
