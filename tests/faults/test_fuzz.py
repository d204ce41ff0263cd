"""Bounded fuzzing of the three readers that take input from outside: durations, plans, JUnit.

Each either returns a well-formed result or raises SharderError (one line at the CLI); nothing else escapes.
"""

from __future__ import annotations

import contextlib
import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sharder.core.errors import SharderError
from sharder.core.nodeid import forward_key
from sharder.durations.store import parse_durations
from sharder.planning.plan import plan_from_json
from sharder.reports.junit import mangling_index, read_report

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=5),
    max_leaves=25,
)


@FUZZ
@given(document=json_values)
def test_durations_reader_on_any_json(document: Any) -> None:
    raw = json.dumps(document).encode()
    try:
        durations = parse_durations(raw)
    except SharderError:
        return
    for node_id, timing in durations.tests.items():
        assert isinstance(node_id, str) and node_id
        assert timing.seconds >= 0 and timing.seconds == timing.seconds


@FUZZ
@given(raw=st.binary(max_size=200))
def test_durations_reader_on_any_bytes(raw: bytes) -> None:
    with contextlib.suppress(SharderError):
        parse_durations(raw)


test_ids = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=10)
plan_like = st.fixed_dictionaries(
    {
        "format": st.sampled_from(["sharder-plan", "other"]),
        "version": st.sampled_from([1, 2, "1", None]),
        "shards": st.one_of(st.integers(-1, 4), st.just("2"), st.none()),
        "lower_bound_seconds": st.one_of(st.floats(allow_nan=True), st.integers(-5, 5)),
        "bins": st.lists(
            st.fixed_dictionaries(
                {"shard": st.integers(0, 4), "predicted_seconds": st.floats(allow_nan=True),
                 "tests": st.lists(st.one_of(test_ids, st.integers()), max_size=4)}
            ),
            max_size=4,
        ),
    }
)


@FUZZ
@given(document=st.one_of(plan_like, json_values))
def test_plan_reader_accepts_only_consistent_plans(document: Any) -> None:
    try:
        plan = plan_from_json(document)
    except SharderError:
        return
    ids = plan.all_tests()
    assert len(ids) == len(set(ids))
    assert len(plan.bins) == plan.shards >= 1
    assert [b.shard for b in plan.bins] == list(range(1, plan.shards + 1))


segment = st.text(alphabet=st.characters(whitelist_categories=("L", "N"), whitelist_characters="_-"), min_size=1,
                  max_size=8)
params = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=8)
node_ids = st.builds(
    lambda dirs, module, classes, function, param: "/".join([*dirs, f"test_{module}.py"]) + "".join(
        f"::{c}" for c in classes) + f"::test_{function}" + (f"[{param}]" if param else ""),
    st.lists(segment, max_size=2), segment, st.lists(segment, max_size=2), segment, params,
)


def _write_cases(pairs: list[tuple[str, str]], directory: Path) -> Path:
    """A JUnit file with one test case per (classname, name), written by ElementTree as any producer might."""
    root = ElementTree.Element("testsuites")
    suite = ElementTree.SubElement(root, "testsuite", name="fuzz")
    for classname, name in pairs:
        ElementTree.SubElement(suite, "testcase", classname=classname, name=name, time="0.1")
    path = directory / "r.xml"
    ElementTree.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path


@FUZZ
@given(ids=st.lists(node_ids, min_size=1, max_size=8, unique=True))
def test_junit_mapper_maps_pytest_classnames_back_to_node_ids(ids: list[str], tmp_path_factory: Any) -> None:
    keys = [forward_key(node_id) for node_id in ids]
    if len(set(keys)) != len(keys):
        return  # pytest's classname is ambiguous for these (a/b.py vs a.b): mapping cannot tell them apart
    path = _write_cases(keys, tmp_path_factory.mktemp("junit"))
    report = read_report(path, mangling_index(ids))
    assert [case.node_id for case in report.cases] == ids


@FUZZ
@given(pairs=st.lists(st.tuples(params, params), min_size=1, max_size=6))
def test_junit_mapper_gives_foreign_cases_stable_keys(pairs: list[tuple[str, str]], tmp_path_factory: Any) -> None:
    pairs = list(dict.fromkeys(pairs))
    path = _write_cases(pairs, tmp_path_factory.mktemp("junit"))
    first = [case.node_id for case in read_report(path).cases]
    assert first == [case.node_id for case in read_report(path).cases]
    assert len(first) == len(pairs)
