"""The footprint's rules (which planned files a shard may skip) and the plan check it relies on, on plain ids."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sharder.core.errors import SharderError
from sharder.core.shardspec import ShardSpec
from sharder.planning.plan import Plan, ShardBin
from sharder.pytest_plugin.footprint import Footprint, FullCollection, in_skipped_file, plan_footprint, unplanned_files
from sharder.pytest_plugin.selection import check_plan_matches, select_from_plan

BINS = (
    ("tests/a/test_one.py::test_x[a::b]", "tests/a/test_one.py::TestK::TestInner::test_y", "tests/conftest.py::x"),
    ("tests/a/test_two.py::test_z", "tests/a/__init__.py::tests.a.half", "tests/a/test_one.py::test_w"),
    ("tests/b/test_três.py::test_u[http://h/p]", "doc/test_guide.txt::test_guide.txt"),
)


def _plan(bins: tuple[tuple[str, ...], ...] = BINS) -> Plan:
    return Plan(
        shards=len(bins), group_by="test", lower_bound_seconds=1.0, useful_shards=3.0, durations_sha256="",
        bins=tuple(ShardBin(shard=i, predicted_seconds=1.0, tests=tests) for i, tests in enumerate(bins, start=1)),
    )


def _write_files(root: Path, plan: Plan) -> None:
    for node_id in plan.all_tests():
        path = root / node_id.split("::")[0]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("", encoding="utf-8")


def test_a_shard_skips_only_other_shards_planned_files_never_conftest_or_init(tmp_path: Path) -> None:
    plan = _plan()
    _write_files(tmp_path, plan)
    first = plan_footprint(plan, ShardSpec(1, 3), tmp_path)
    assert isinstance(first, Footprint)
    assert first.needed == {"tests/a/test_one.py", "tests/conftest.py"}
    assert sorted(first.skippable.values()) == ["doc/test_guide.txt", "tests/a/test_two.py", "tests/b/test_três.py"]
    assert first.skipped_file(tmp_path / "tests" / "a" / "test_two.py") == "tests/a/test_two.py"
    assert first.skipped_file(os.path.join(tmp_path, "tests", "b", "..", "a", "test_two.py")) == "tests/a/test_two.py"
    # its own file, a file the plan does not know, a directory: pytest decides as usual
    assert first.skipped_file(tmp_path / "tests" / "a" / "test_one.py") is None
    assert first.skipped_file(tmp_path / "tests" / "a" / "test_new.py") is None
    assert first.skipped_file(tmp_path / "tests" / "b") is None
    third = plan_footprint(plan, ShardSpec(3, 3), tmp_path)
    assert isinstance(third, Footprint)
    # __init__.py and conftest.py hold planned tests of other shards (doctests) but are still collected
    assert sorted(third.skippable.values()) == ["tests/a/test_one.py", "tests/a/test_two.py"]
    assert third.header().startswith("sharder: footprint: collecting 4 of 6 planned files")  # its 2, conftest, __init__


def test_ids_that_do_not_name_files_under_the_rootdir_mean_full_collection(tmp_path: Path) -> None:
    plan = _plan()
    _write_files(tmp_path / "elsewhere", plan)
    decision = plan_footprint(plan, ShardSpec(1, 3), tmp_path)
    assert isinstance(decision, FullCollection)
    assert "6 of 6 files the plan's ids name are not files under the rootdir" in decision.reason
    assert decision.header().startswith("sharder: collecting the whole suite: ")
    session_item = _plan((("tests/a/test_one.py::test_x",), ("mypy-status",)))
    _write_files(tmp_path, _plan())
    decision = plan_footprint(session_item, ShardSpec(1, 2), tmp_path)
    assert isinstance(decision, FullCollection) and "(mypy-status)" in decision.reason


def test_one_removed_planned_file_means_full_collection_so_the_full_check_names_its_tests(tmp_path: Path) -> None:
    plan = _plan()
    _write_files(tmp_path, plan)
    (tmp_path / "tests" / "a" / "test_two.py").unlink()
    decision = plan_footprint(plan, ShardSpec(1, 3), tmp_path)
    assert isinstance(decision, FullCollection) and "1 of 6 files" in decision.reason
    assert "tests/a/test_two.py" in decision.reason


def test_nothing_to_skip_is_said_and_a_plan_for_another_shard_count_is_an_error(tmp_path: Path) -> None:
    plan = _plan((("t/test_a.py::x", "t/test_b.py::y"), ("t/test_a.py::z", "t/test_b.py::w")))
    _write_files(tmp_path, plan)
    decision = plan_footprint(plan, ShardSpec(1, 2), tmp_path)
    assert decision == FullCollection("every planned file holds a test of shard 1/2, nothing to skip")
    with pytest.raises(SharderError, match="does not fit this plan"):
        plan_footprint(plan, ShardSpec(1, 3), tmp_path)


def test_new_files_are_those_no_planned_id_names() -> None:
    planned = [node_id for tests in BINS for node_id in tests]
    extra = ["tests/a/test_one.py::test_added", "tests/c/test_new.py::test_q[x::y]", "tests/c/test_new.py::test_r"]
    assert unplanned_files(extra, planned) == ["tests/c/test_new.py"]
    assert in_skipped_file("tests/a/test_two.py::test_z", {"tests/a/test_two.py"})
    assert not in_skipped_file("tests/a/test_two.py::test_z", ())


def test_check_ignores_skipped_files_only_and_names_new_files() -> None:
    plan = _plan()
    shard_one = [*BINS[0], "tests/a/test_one.py::test_w"]  # its file is collected whole, split or not
    check_plan_matches(plan, shard_one, skipped_files={"tests/a/test_two.py", "tests/b/test_três.py",
                                                       "doc/test_guide.txt", "tests/a/__init__.py"})
    with pytest.raises(SharderError, match=r"1 planned tests were not collected \(tests/a/test_one.py::test_w\)"):
        check_plan_matches(plan, list(BINS[0]), skipped_files={"tests/a/test_two.py", "tests/b/test_três.py",
                                                               "doc/test_guide.txt", "tests/a/__init__.py"})
    with pytest.raises(SharderError) as raised:
        check_plan_matches(plan, [*shard_one, "tests/c/test_new.py::test_q"], skipped_files={"tests/a/test_two.py"})
    message = str(raised.value)
    assert "1 collected tests are not in the plan (tests/c/test_new.py::test_q)" in message
    assert "1 test files are new since the plan was made (tests/c/test_new.py)" in message
    assert "planned tests were not collected" in message  # shard 3's files were not declared skipped


def test_selection_refuses_a_shard_that_lost_one_of_its_own_tests() -> None:
    plan = _plan()
    collected = [node_id for node_id in plan.all_tests() if node_id != "tests/a/test_one.py::test_w"]
    # Declaring the shard's own file skipped must not let a smaller set through.
    with pytest.raises(SharderError, match=r"1 of shard 2/3's tests were not collected"):
        select_from_plan(plan, ShardSpec(2, 3), collected, skipped_files={"tests/a/test_one.py"})
    selection = select_from_plan(plan, ShardSpec(3, 3), list(BINS[2]),
                                 skipped_files={"tests/a/test_one.py", "tests/a/test_two.py", "tests/conftest.py",
                                                "tests/a/__init__.py"})
    assert selection.ids == BINS[2]
    assert selection.header().startswith("sharder: shard 3/3, 2 of 8 tests")
