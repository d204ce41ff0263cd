"""Durations files as broken runners and careless hands produce them, fed to the real CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.faults.conftest import Outcome, assert_clean_refusal

BAD_FILES = {
    "empty file": b"",
    "null": b"null",
    "a list of numbers": b"[1, 2, 3]",
    "a bare string": b'"durations"',
    "NaN seconds": b'{"t.py::a": NaN}',
    "Infinity seconds": b'{"t.py::a": Infinity}',
    "negative seconds": b'{"t.py::a": 1.0, "t.py::b": -0.5}',
    "string seconds": b'{"t.py::a": "1.5"}',
    "boolean seconds": b'{"t.py::a": true}',
    "duplicate keys": b'{"t.py::a": 1.0, "t.py::a": 2.0}',
    "wrong format version": b'{"format": "sharder-durations", "version": 2, "tests": {}}',
    "truncated JSON": b'{"t.py::a": 1.0, "t.py::b": 2',
    "not UTF-8": b'{"t.py::\xff\xfe": 1.0}',
    "nested garbage record": b'{"format": "sharder-durations", "version": 1, "tests": {"t.py::a": [1]}}',
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_durations_file_is_refused_in_one_line(
    name: str, tmp_path: Path, sharder_capped: Callable[..., Outcome], ledger: Callable[[str, str], None]
) -> None:
    (tmp_path / "durations.json").write_bytes(BAD_FILES[name])
    outcome = sharder_capped(["plan", "--shards", "2", "--from-durations"], cwd=tmp_path)
    ledger(f"durations: {name}", outcome.observed)
    assert_clean_refusal(outcome)


ODD_IDS = [
    "tests/t.py::test_x[a::b]",
    "tests/t.py::TestA::TestB::test_y[http://h/p?q=1]",
    "tests/ünï/tëst.py::test_ü[ß]",
    "tests/t.py::test_newline[a\\nb]",
    "tests/t.py::test_real_newline[a\nb]",
    "tests/t.py::test_emoji[🙂]",
    "tests/t.py::test_brackets[[]]]",
]


def test_odd_ids_and_a_bom_plan_correctly(
    tmp_path: Path, sharder_capped: Callable[..., Outcome], ledger: Callable[[str, str], None]
) -> None:
    durations = {node_id: float(i + 1) for i, node_id in enumerate(ODD_IDS)}
    raw = "\ufeff" + json.dumps(durations, ensure_ascii=False)
    (tmp_path / ".test_durations").write_bytes(raw.encode("utf-8"))
    outcome = sharder_capped(["plan", "--shards", "3", "--from-durations", "-o", "plan.json"], cwd=tmp_path)
    ledger("durations: unicode, newline and :: ids behind a BOM", outcome.observed)
    assert outcome.code == 0, outcome.stderr
    plan = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    assert sorted(t for b in plan["bins"] for t in b["tests"]) == sorted(ODD_IDS)


def test_a_million_entries_plan_within_the_ceiling(
    tmp_path: Path, sharder_capped: Callable[..., Outcome], ledger: Callable[[str, str], None]
) -> None:
    with (tmp_path / "durations.json").open("w") as handle:
        handle.write("{")
        handle.write(",".join(f'"tests/d{i % 97}/test_{i % 5000}.py::test_{i}": {(i % 13) * 0.1}' for i in range(1_000_000)))
        handle.write("}")
    outcome = sharder_capped(["plan", "--shards", "16", "--from-durations", "--json", "-o", "plan.json"], cwd=tmp_path)
    ledger("durations: 1,000,000 entries", outcome.observed if outcome.code else "exit 0: planned within 1 GiB")
    assert outcome.code == 0, outcome.stderr[-2000:]
    assert json.loads(outcome.stdout)["tests"] == 1_000_000
