"""Plans that lie, shard strings CI should never send, and a checkout that differs from the plan's."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.faults.conftest import Outcome, assert_clean_refusal


def _good_plan(sharder_capped: Callable[..., Outcome], cwd: Path) -> dict[str, Any]:
    outcome = sharder_capped(["plan", "--shards", "3", "-o", "plan.json"], cwd=cwd)
    assert outcome.code == 0, outcome.stderr
    plan: dict[str, Any] = json.loads((cwd / "plan.json").read_text())
    return plan


def _wrong_version(plan: dict[str, Any]) -> None:
    plan["version"] = 99


def _wrong_shard_count(plan: dict[str, Any]) -> None:
    plan["shards"] = 4


def _duplicated_id(plan: dict[str, Any]) -> None:
    plan["bins"][1]["tests"].append(plan["bins"][0]["tests"][0])
    plan.pop("plan_id")


def _missing_bin(plan: dict[str, Any]) -> None:
    del plan["bins"][2]
    plan.pop("plan_id")


def _edited_after_planning(plan: dict[str, Any]) -> None:
    plan["bins"][0]["tests"].append(plan["bins"][1]["tests"].pop())


def _not_a_plan(plan: dict[str, Any]) -> None:
    plan.clear()
    plan["tests"] = {}


TAMPERING = {
    "plan with a wrong version": _wrong_version,
    "plan whose shard count disagrees with its bins": _wrong_shard_count,
    "plan with one id in two bins": _duplicated_id,
    "plan with a bin missing": _missing_bin,
    "plan edited after it was made": _edited_after_planning,
    "a durations file given as the plan": _not_a_plan,
}


@pytest.mark.parametrize("name", sorted(TAMPERING))
def test_tampered_plan_is_refused_before_any_test_runs(
    name: str, example_dir: Path, sharder_capped: Callable[..., Outcome], ledger: Callable[[str, str], None]
) -> None:
    plan = _good_plan(sharder_capped, example_dir)
    TAMPERING[name](plan)
    (example_dir / "plan.json").write_text(json.dumps(plan))
    outcome = sharder_capped(["run", "--shard", "1/3", "--plan", "plan.json"], cwd=example_dir)
    ledger(f"run: {name}", outcome.observed)
    assert outcome.code == 2, outcome.stdout[-1500:] + outcome.stderr[-1500:]
    assert "Traceback" not in outcome.stdout + outcome.stderr
    assert not list((example_dir / "reports").glob("*.xml")) or "passed" not in outcome.stdout


@pytest.mark.parametrize("shard", ["0/0", "-1/4", "4/3", "1/4/2", "３/４", "1/٤", "1 /4", "1/4 extra", "+1/4", "0x1/4"])
def test_garbage_shard_strings(
    shard: str, tmp_path: Path, sharder_capped: Callable[..., Outcome], ledger: Callable[[str, str], None]
) -> None:
    outcome = sharder_capped(["run", f"--shard={shard}"], cwd=tmp_path)
    ledger(f"run --shard {shard!r}", outcome.observed)
    assert_clean_refusal(outcome)


def test_a_test_added_in_one_jobs_checkout_is_detected(
    example_dir: Path, sharder_capped: Callable[..., Outcome], ledger: Callable[[str, str], None]
) -> None:
    _good_plan(sharder_capped, example_dir)
    (example_dir / "tests" / "test_only_here.py").write_text("def test_surprise():\n    pass\n")
    outcome = sharder_capped(["run", "--shard", "2/3", "--plan", "plan.json"], cwd=example_dir)
    ledger("run: collection differs from the plan (a test added in one job)", outcome.observed)
    assert outcome.code == 2
    assert "test_surprise" in outcome.stdout + outcome.stderr
    assert "passed" not in outcome.stdout
