"""Which shard a CI job runs, from each provider's variables; and `sharder run` with no --shard on a real suite."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sharder.ci.providers import PROVIDERS, SHARD_VARIABLE, Provider, append_github_output, shard_from_environment
from sharder.core.errors import SharderError
from sharder.core.shardspec import ShardSpec

RunSharder = Callable[..., subprocess.CompletedProcess[str]]
CI_VARIABLES = [SHARD_VARIABLE, "GITHUB_ACTIONS", *(v for p in PROVIDERS for v in (p.index_variable, p.count_variable))]

GITLAB, CIRCLECI, BUILDKITE = PROVIDERS


def test_the_providers_and_their_bases() -> None:
    assert [(p.index_variable, p.count_variable, p.index_base) for p in PROVIDERS] == [
        ("CI_NODE_INDEX", "CI_NODE_TOTAL", 1),
        ("CIRCLE_NODE_INDEX", "CIRCLE_NODE_TOTAL", 0),
        ("BUILDKITE_PARALLEL_JOB", "BUILDKITE_PARALLEL_JOB_COUNT", 0),
    ]


def _env(provider: Provider, index: str, count: str) -> dict[str, str]:
    return {provider.index_variable: index, provider.count_variable: count}


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: p.name)
def test_first_and_last_copy_map_to_shard_1_and_n(provider: Provider) -> None:
    base = provider.index_base
    first = shard_from_environment(_env(provider, str(base), "4"))
    last = shard_from_environment(_env(provider, str(base + 3), "4"))
    assert (first.spec, last.spec) == (ShardSpec(1, 4), ShardSpec(4, 4))
    assert provider.name in first.source and f"{provider.index_variable}={base}" in first.source


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: p.name)
def test_every_copy_gets_a_different_shard(provider: Provider) -> None:
    specs = [shard_from_environment(_env(provider, str(provider.index_base + i), "7")).spec for i in range(7)]
    assert specs == [ShardSpec(k, 7) for k in range(1, 8)]


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: p.name)
def test_a_single_copy_is_shard_1_of_1(provider: Provider) -> None:
    assert shard_from_environment(_env(provider, str(provider.index_base), "1")).spec == ShardSpec(1, 1)


OUT_OF_RANGE = [(p, p.index_base + offset) for p in PROVIDERS for offset in (-1, 4, 5, 100) if p.index_base + offset >= 0]


@pytest.mark.parametrize(("provider", "index"), OUT_OF_RANGE, ids=[f"{p.name}-{i}" for p, i in OUT_OF_RANGE])
def test_index_out_of_range_is_an_error(provider: Provider, index: int) -> None:
    with pytest.raises(SharderError, match=rf"{provider.index_variable}={index} is out of range .*"
                                           rf"counts from {provider.index_base}"):
        shard_from_environment(_env(provider, str(index), "4"))


def test_the_0_and_1_based_edge() -> None:
    # The same numbers mean different shards: GitLab's 1 is the first copy, CircleCI's and Buildkite's 1 the second.
    assert shard_from_environment(_env(GITLAB, "1", "2")).spec == ShardSpec(1, 2)
    assert shard_from_environment(_env(CIRCLECI, "1", "2")).spec == ShardSpec(2, 2)
    assert shard_from_environment(_env(BUILDKITE, "1", "2")).spec == ShardSpec(2, 2)
    # GitLab never sends 0; the 0-based providers never send N.
    with pytest.raises(SharderError, match="out of range"):
        shard_from_environment(_env(GITLAB, "0", "2"))
    for provider in (CIRCLECI, BUILDKITE):
        with pytest.raises(SharderError, match="out of range"):
            shard_from_environment(_env(provider, "2", "2"))


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: p.name)
@pytest.mark.parametrize("garbage", ["", "x", "-1", "1.0", " 2", "2 ", "0x1", "٣", "1e2", "１"])
def test_garbage_index_or_count_is_an_error(provider: Provider, garbage: str) -> None:
    with pytest.raises(SharderError, match="is not a whole number"):
        shard_from_environment(_env(provider, garbage, "4"))
    with pytest.raises(SharderError, match="is not a whole number"):
        shard_from_environment(_env(provider, str(provider.index_base), garbage))


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: p.name)
def test_zero_or_huge_count_is_an_error(provider: Provider) -> None:
    with pytest.raises(SharderError, match="must be at least 1"):
        shard_from_environment(_env(provider, str(provider.index_base), "0"))
    with pytest.raises(SharderError, match="too large"):
        shard_from_environment(_env(provider, str(provider.index_base), "10000000"))


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: p.name)
def test_half_set_pair_is_an_error(provider: Provider) -> None:
    with pytest.raises(SharderError, match=f"{provider.index_variable}=1 is set but {provider.count_variable} is not"):
        shard_from_environment({provider.index_variable: "1"})
    with pytest.raises(SharderError, match=f"{provider.count_variable}=3 is set but {provider.index_variable} is not"):
        shard_from_environment({provider.count_variable: "3"})


def test_gitlab_job_without_parallel_says_so() -> None:
    # GitLab sets CI_NODE_TOTAL=1 on every job; CI_NODE_INDEX only on `parallel:` copies.
    with pytest.raises(SharderError, match="without `parallel:`"):
        shard_from_environment({"CI_NODE_TOTAL": "1", "GITLAB_CI": "true"})


def test_sharder_shard_wins_over_provider_variables() -> None:
    env = {SHARD_VARIABLE: "3/5", **_env(CIRCLECI, "0", "2")}
    detected = shard_from_environment(env)
    assert detected.spec == ShardSpec(3, 5) and detected.source == "SHARDER_SHARD=3/5"


@pytest.mark.parametrize("value", ["", "0/4", "5/4", "3", "a/b", "1/4/2"])
def test_bad_sharder_shard_is_an_error_not_a_fallback(value: str) -> None:
    with pytest.raises(SharderError, match=r"^SHARDER_SHARD: "):
        shard_from_environment({SHARD_VARIABLE: value, **_env(GITLAB, "1", "2")})


def test_providers_that_agree_are_fine_and_that_disagree_are_an_error() -> None:
    agree = {**_env(GITLAB, "2", "3"), **_env(CIRCLECI, "1", "3")}
    assert shard_from_environment(agree).spec == ShardSpec(2, 3)
    disagree = {**_env(GITLAB, "1", "3"), **_env(BUILDKITE, "1", "3")}
    with pytest.raises(SharderError, match=r"disagree.*1/3 from GitLab CI.*2/3 from Buildkite"):
        shard_from_environment(disagree)


def test_no_variables_is_an_error_and_github_gets_a_hint() -> None:
    with pytest.raises(SharderError, match=r"no --shard given and no CI shard variables .*--shard 1/1"):
        shard_from_environment({})
    with pytest.raises(SharderError, match=r"matrix\.shard"):
        shard_from_environment({"GITHUB_ACTIONS": "true"})


def test_github_output_is_appended(tmp_path: Path) -> None:
    output = tmp_path / "out"
    output.write_text("earlier=1\n")
    assert append_github_output({"shards": "2"}, {"GITHUB_OUTPUT": str(output)}) == str(output)
    assert output.read_text() == "earlier=1\nshards=2\n"
    assert append_github_output({"shards": "2"}, {}) is None
    with pytest.raises(SharderError, match=r"cannot write \$GITHUB_OUTPUT"):
        append_github_output({"shards": "2"}, {"GITHUB_OUTPUT": str(tmp_path)})
    with pytest.raises(ValueError, match="one line"):
        append_github_output({"x": "a\nb"}, {"GITHUB_OUTPUT": str(output)})


# ------------------------------------------------------------------------------ sharder run, no --shard


@pytest.fixture
def run_without_shard(sharder_env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    """`sharder run` with no --shard, in an environment holding only the CI variables a test gives."""
    base = {name: value for name, value in sharder_env.items() if name not in CI_VARIABLES}

    def run(cwd: Path, **variables: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sharder", "run", "--junit-dir", "reports", "--", "-p", "no:randomly"],
            cwd=cwd, env={**base, **variables}, capture_output=True, text=True, timeout=300, check=False,
        )

    return run


def test_run_takes_its_shard_from_circleci(run_without_shard: RunSharder, example_dir: Path) -> None:
    result = run_without_shard(example_dir, CIRCLE_NODE_INDEX="1", CIRCLE_NODE_TOTAL="3")
    assert result.returncode == 0, result.stderr
    assert "sharder run: shard 2/3 from CircleCI: CIRCLE_NODE_INDEX=1, CIRCLE_NODE_TOTAL=3" in result.stdout
    assert sorted(p.name for p in (example_dir / "reports").glob("*.xml")) == ["shard-2-of-3.xml"]


@pytest.mark.parametrize("variables", [
    {},
    {"CI_NODE_TOTAL": "1"},
    {"CI_NODE_INDEX": "0", "CI_NODE_TOTAL": "3"},
    {"BUILDKITE_PARALLEL_JOB": "3", "BUILDKITE_PARALLEL_JOB_COUNT": "3"},
    {"SHARDER_SHARD": "1/x"},
], ids=["none", "gitlab-half-set", "gitlab-zero", "buildkite-past-end", "garbage"])
def test_run_without_a_usable_shard_runs_nothing(run_without_shard: RunSharder, example_dir: Path,
                                                 variables: dict[str, str]) -> None:
    result = run_without_shard(example_dir, **variables)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sharder run: error: "), result.stderr
    assert not (example_dir / "reports").exists()  # pytest never started
