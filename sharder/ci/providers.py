"""CI providers: which shard this job is, from the environment; and GitHub's output file for the matrix.

Each provider that starts N parallel copies of a job tells each copy its index, with its own name and base:

| provider  | index variable           | count variable                 | base |
|-----------|--------------------------|--------------------------------|------|
| any       | `SHARDER_SHARD=K/N`      |                                | 1    |
| GitLab    | `CI_NODE_INDEX`          | `CI_NODE_TOTAL`                | 1    |
| CircleCI  | `CIRCLE_NODE_INDEX`      | `CIRCLE_NODE_TOTAL`            | 0    |
| Buildkite | `BUILDKITE_PARALLEL_JOB` | `BUILDKITE_PARALLEL_JOB_COUNT` | 0    |

GitHub Actions has no such variable: the matrix value is passed as `SHARDER_SHARD: ${{ matrix.shard }}` in the step's
`env:` (as the generated workflow does: an expression pasted into `run:` would be shell code). Anything doubtful (no
variables, one of a pair, a non-number, an index outside the count, two providers that disagree) is a `SharderError`:
a job that silently ran the whole suite, or shard 1 in every copy, would be green while proving nothing, which is the
failure this module exists to prevent.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from sharder.core.errors import SharderError
from sharder.core.shardspec import ShardSpec, parse_shard

SHARD_VARIABLE = "SHARDER_SHARD"

# Digits as CI systems write them: ASCII only, no sign, no spaces (a "٣" or " 2" is not a CI's doing).
_INTEGER = re.compile(r"[0-9]{1,6}", re.ASCII)


@dataclass(frozen=True)
class Provider:
    name: str
    index_variable: str
    count_variable: str
    index_base: int  # the index the first parallel copy gets


PROVIDERS = (
    Provider("GitLab CI", "CI_NODE_INDEX", "CI_NODE_TOTAL", 1),
    Provider("CircleCI", "CIRCLE_NODE_INDEX", "CIRCLE_NODE_TOTAL", 0),
    Provider("Buildkite", "BUILDKITE_PARALLEL_JOB", "BUILDKITE_PARALLEL_JOB_COUNT", 0),
)


@dataclass(frozen=True)
class DetectedShard:
    spec: ShardSpec
    source: str  # where it came from, in the words a user would search their CI config for


def _integer(provider: Provider, variable: str, value: str) -> int:
    if not _INTEGER.fullmatch(value):
        too_big = value.isascii() and value.isdigit()
        raise SharderError(f"{provider.name}: {variable}={value!r} is {'too large' if too_big else 'not a whole number'}")
    return int(value)


def _from_provider(provider: Provider, environ: Mapping[str, str]) -> DetectedShard | None:
    index_text = environ.get(provider.index_variable)
    count_text = environ.get(provider.count_variable)
    if index_text is None and count_text is None:
        return None
    if index_text is None:
        hint = (" (GitLab sets CI_NODE_TOTAL=1 on every job without `parallel:`)"
                if provider.index_base == 1 and count_text == "1" else "")
        raise SharderError(
            f"{provider.name}: {provider.count_variable}={count_text} is set but {provider.index_variable} is not"
            f"{hint}; give the job parallel copies, or pass --shard K/N")
    if count_text is None:
        raise SharderError(
            f"{provider.name}: {provider.index_variable}={index_text} is set but {provider.count_variable} is not; "
            "pass --shard K/N")
    index = _integer(provider, provider.index_variable, index_text)
    count = _integer(provider, provider.count_variable, count_text)
    if count < 1:
        raise SharderError(f"{provider.name}: {provider.count_variable}={count_text} must be at least 1")
    first, last = provider.index_base, provider.index_base + count - 1
    if not first <= index <= last:
        raise SharderError(
            f"{provider.name}: {provider.index_variable}={index_text} is out of range for "
            f"{provider.count_variable}={count_text} (this provider counts from {first}: {first}..{last})")
    spec = ShardSpec(index - provider.index_base + 1, count)
    return DetectedShard(spec, f"{provider.name}: {provider.index_variable}={index_text}, "
                               f"{provider.count_variable}={count_text}")


def shard_from_environment(environ: Mapping[str, str] | None = None) -> DetectedShard:
    """The shard this CI job should run, or a `SharderError` saying why it cannot be told.

    `SHARDER_SHARD` wins over the providers' variables: it is the one a user sets on purpose.
    """
    env = os.environ if environ is None else environ
    explicit = env.get(SHARD_VARIABLE)
    if explicit is not None:
        try:
            return DetectedShard(parse_shard(explicit), f"{SHARD_VARIABLE}={explicit}")
        except SharderError as exc:
            raise SharderError(f"{SHARD_VARIABLE}: {exc}") from None
    found = [shard for shard in (_from_provider(p, env) for p in PROVIDERS) if shard is not None]
    if len({shard.spec for shard in found}) > 1:
        raise SharderError("CI variables disagree on the shard: " + "; ".join(
            f"{shard.spec} from {shard.source}" for shard in found) + "; pass --shard K/N")
    if found:
        return found[0]
    github = " (GitHub Actions has no shard variable: set SHARDER_SHARD: ${{ matrix.shard }} in the step's env)" if env.get(
        "GITHUB_ACTIONS") == "true" else ""
    names = ", ".join([SHARD_VARIABLE] + [f"{p.index_variable}/{p.count_variable}" for p in PROVIDERS])
    raise SharderError(f"no --shard given and no CI shard variables set ({names}){github}; "
                       "pass --shard K/N (--shard 1/1 runs everything)")


def github_output_lines(outputs: Mapping[str, str]) -> str:
    """`name=value` lines for `$GITHUB_OUTPUT`; values must be one line (the matrix JSON is)."""
    lines = []
    for name, value in outputs.items():
        if "\n" in value or "\r" in value:
            raise ValueError(f"GitHub output {name} must be one line")
        lines.append(f"{name}={value}\n")
    return "".join(lines)


def append_github_output(outputs: Mapping[str, str], environ: Mapping[str, str] | None = None) -> str | None:
    """Append `outputs` to the file `$GITHUB_OUTPUT` names (other steps' outputs stay); its path, or None."""
    env = os.environ if environ is None else environ
    path = env.get("GITHUB_OUTPUT")
    if not path:
        return None
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(github_output_lines(outputs))
    except OSError as exc:
        raise SharderError(f"cannot write $GITHUB_OUTPUT {path!r}: {exc.strerror}") from None
    return path
