"""The fault suite's tools: running the real CLI under a memory and CPU ceiling, and the `ledger` fixture.

Every attack records what it did and what sharder answered; `tests/faults/ledger.py` prints the table.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.faults.ledger import LEDGER_PROPERTY

# Every attack on a parser runs in a child capped at this much address space and CPU time: a bomb that got
# through would die of the limit (and fail the test) instead of taking the machine down.
MEMORY_CEILING_BYTES = 1024 * 1024 * 1024
CPU_CEILING_SECONDS = 60


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str

    @property
    def observed(self) -> str:
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        # A third-party plugin's deprecation warning may come first; the row should show sharder's or pytest's word.
        errors = [line for line in lines if "error" in line.lower() and "warning" not in line.lower()]
        first = (errors or lines)[0] if lines else (self.stdout.strip().splitlines() or [""])[-1]
        return f"exit {self.code}: {first[:160]}"


@pytest.fixture
def ledger(request: pytest.FixtureRequest) -> Callable[[str, str], None]:
    """`ledger(attack, observed)`: add a row to the fault report."""

    def record(attack: str, observed: str) -> None:
        suite = request.node.nodeid.split("::")[0].rsplit("/", 1)[-1]
        request.node.user_properties.append((LEDGER_PROPERTY, json.dumps([suite, attack, observed])))

    return record


def _limit_child() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CEILING_BYTES, MEMORY_CEILING_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_CEILING_SECONDS, CPU_CEILING_SECONDS))


@pytest.fixture
def sharder_capped(sharder_env: dict[str, str]) -> Callable[..., Outcome]:
    """Run the real `python -m sharder ARGS` under the memory and CPU ceiling."""

    def run(args: Sequence[str], cwd: Path, **env: str) -> Outcome:
        proc = subprocess.run(
            [sys.executable, "-m", "sharder", *args], cwd=cwd, env={**sharder_env, **env},
            capture_output=True, text=True, errors="replace", timeout=600, check=False, preexec_fn=_limit_child,
        )
        return Outcome(proc.returncode, proc.stdout, proc.stderr)

    return run


def assert_clean_refusal(outcome: Outcome, code: int = 2) -> None:
    """One line on stderr, the documented exit code, no traceback, not killed by the ceiling."""
    assert outcome.code == code, outcome.stdout[-2000:] + outcome.stderr[-2000:]
    assert "Traceback" not in outcome.stderr, outcome.stderr[-3000:]
    assert "MemoryError" not in outcome.stderr
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, outcome.stderr[-3000:]
