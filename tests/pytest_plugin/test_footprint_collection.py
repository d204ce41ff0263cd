"""The footprint on real pytest sessions: a shard collects fewer files but never loses or adds a test.

The suite below is built to trip a careless footprint: packages and plain directories, two test files with one
basename, a second `python_files` pattern, `testpaths`, `norecursedirs`, a text doctest, doctests in modules,
in `__init__.py` and in a conftest, parametrized ids holding `::`, `/` and unicode, nested classes, fixtures from
three conftest levels, and a conftest whose hook deselects tests in *other* directories (so it must load even in a
shard that runs none of its directory's tests). Every module logs its import, so the tests see what was skipped.
"""

from __future__ import annotations

import json

import pytest

from sharder.planning.plan import Plan, read_plan, write_plan
from sharder.planning.planner import make_plan
from sharder.reports.junit import read_report

LOG_ENV = "SHARDER_FOOTPRINT_IMPORT_LOG"
_LOG = (
    'import os as _os\nwith open(_os.environ["' + LOG_ENV + '"], "a", encoding="utf-8") as _log:\n'
    '    _log.write({!r} + "\\n")\n'
)

SUITE = {
    # -p no:asyncio: nothing here is async, and pytest-asyncio (dev extra) warns in every in-process run otherwise
    "pytest.ini": "[pytest]\ntestpaths = tests doc\npython_files = test_*.py *_check.py\nnorecursedirs = skipme .*\n"
                  "addopts = -p no:asyncio\n",
    "conftest.py": "import pytest\n\n@pytest.fixture\ndef root_value():\n    return 1\n",
    "tests/conftest.py": "import pytest\n\n@pytest.fixture\ndef tests_value(root_value):\n    return root_value + 1\n",
    "tests/test_top.py": "def test_top(tests_value):\n    assert tests_value == 2\n\ndef test_top_two():\n    pass\n",
    "tests/pkg/__init__.py": 'def half(x):\n    """\n    >>> half(4)\n    2.0\n    """\n    return x / 2\n',
    "tests/pkg/conftest.py": (
        'import pytest\n\ndef helper():\n    """\n    >>> helper()\n    3\n    """\n    return 3\n\n'
        "@pytest.fixture\ndef pkg_value(tests_value):\n    return tests_value * 10\n"
    ),
    "tests/pkg/test_alpha.py": (
        "import pytest\n\n"
        '@pytest.mark.parametrize("arg", ["a::b", "http://h/p", "ünï", "sp ace[x]"])\n'
        "def test_param(arg, pkg_value):\n    assert pkg_value == 20\n\n"
        "class TestOuter:\n    class TestInner:\n        def test_nested(self, tests_value):\n"
        "            assert tests_value == 2\n\n    def test_method(self):\n        pass\n\n"
        'def test_quarantined_alpha():\n    raise AssertionError("tests/plain/conftest.py deselects this")\n'
    ),
    "tests/pkg/util.py": 'def double(x):\n    """\n    >>> double(2)\n    4\n    """\n    return 2 * x\n',
    "tests/pkg/sub/__init__.py": "",
    "tests/pkg/sub/test_alpha.py": "def test_same_basename(pkg_value):\n    assert pkg_value == 20\n",
    "tests/pkg/sub/beta_check.py": "def test_second_pattern():\n    pass\n",
    "tests/plain/conftest.py": (
        "def pytest_collection_modifyitems(config, items):\n"
        '    dropped = [item for item in items if "quarantined" in item.name]\n'
        "    if dropped:\n        config.hook.pytest_deselected(items=dropped)\n"
        "        items[:] = [item for item in items if item not in dropped]\n"
    ),
    "tests/plain/test_gamma.py": (
        "import pytest\n\n"
        '@pytest.mark.parametrize("n", range(6))\ndef test_gamma(n, tests_value):\n    assert tests_value == 2\n\n'
        "class TestGamma:\n    def test_a(self):\n        pass\n\n    def test_quarantined_b(self):\n"
        "        raise AssertionError\n"
    ),
    "tests/plain/test_delta.py": (
        "def test_delta(root_value):\n    assert root_value == 1\n\ndef test_delta_2():\n    pass\n"
    ),
    "tests/plain/deeper/test_epsilon.py": "def test_epsilon():\n    pass\n\ndef test_epsilon_2(tests_value):\n    pass\n",
    "tests/skipme/test_never.py": 'def test_never():\n    raise AssertionError("norecursedirs")\n',
    "doc/test_guide.txt": ">>> 1 + 1\n2\n",
}


def _logged(relative: str, text: str) -> str:
    if not relative.endswith(".py"):
        return text
    return _LOG.format(relative) + text


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for relative, text in SUITE.items():
        path = pytester.path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_logged(relative, text), encoding="utf-8")
    monkeypatch.setenv(LOG_ENV, str(pytester.path / "imports.log"))
    return pytester


def _imports(suite: pytest.Pytester) -> set[str]:
    """Modules imported since the last call (and forget them)."""
    log = suite.path / "imports.log"
    seen = set(log.read_text(encoding="utf-8").splitlines()) if log.exists() else set()
    log.unlink(missing_ok=True)
    return seen


def _full_ids(suite: pytest.Pytester, *args: str) -> list[str]:
    out = suite.path / "ids.json"
    result = suite.runpytest_inprocess("--collect-only", "-p", "no:randomly", f"--sharder-collect-to={out}", *args)
    assert result.ret == 0, result.stdout.str()
    ids: list[str] = json.loads(out.read_text(encoding="utf-8"))["tests"]
    return ids


def _plan(suite: pytest.Pytester, ids: list[str], shards: int, group_by: str) -> Plan:
    # Uneven seconds, so the bins are not a round robin of the collection order.
    seconds = {node_id: 1.0 + (len(node_id) % 7) for node_id in ids}
    write_plan(suite.path / "plan.json", make_plan(ids, seconds, shards, group_by=group_by))
    return read_plan(suite.path / "plan.json")


def _shard_ids(suite: pytest.Pytester, index: int, shards: int, *args: str) -> tuple[list[str], list[str]]:
    """Run shard `index` for real; return the ids it ran (JUnit) and its sharder header lines."""
    report = suite.path / f"shard-{index}.xml"
    result = suite.runpytest_inprocess(
        f"--shard={index}/{shards}", "--sharder-plan=plan.json", f"--junitxml={report}", "-p", "no:randomly", *args
    )
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    headers = [line for line in result.stdout.lines if line.startswith("sharder: ")]
    return [case.node_id for case in read_report(report).cases], headers


@pytest.mark.parametrize(
    ("group_by", "args"),
    [("module", ()), ("test", ()), ("module", ("--doctest-modules",)), ("class", ("-k", "not gamma"))],
    ids=["module", "test", "doctest-modules", "class-with-k"],
)
def test_each_shard_runs_exactly_its_planned_tests_as_with_full_collection(
    suite: pytest.Pytester, group_by: str, args: tuple[str, ...]
) -> None:
    full = _full_ids(suite, *args)
    all_modules = _imports(suite)
    assert "tests/skipme/test_never.py" not in all_modules
    assert ("tests/pkg/util.py" in all_modules) == ("--doctest-modules" in args)
    assert not any("quarantined" in node_id or "test_never" in node_id for node_id in full)
    plan = _plan(suite, full, 3, group_by)
    ran_by_footprint: list[str] = []
    skipped_somewhere = False
    for shard_bin in plan.bins:
        index = shard_bin.shard
        expected = [node_id for node_id in full if node_id in set(shard_bin.tests)]
        footprint_ids, headers = _shard_ids(suite, index, 3, *args)
        footprint_modules = _imports(suite)
        assert footprint_ids == expected  # the tests a full collection selects, in the same order
        assert headers[0].startswith(("sharder: footprint: collecting ", "sharder: collecting the whole suite: every"))
        assert headers[1].startswith(f"sharder: shard {index}/3, {len(expected)} of {len(full)} tests, predicted")
        # Every conftest loads; test files holding none of the shard's tests do not. (A package's __init__ is
        # imported with its first module, as in any run that imports none of the package's modules.)
        needed = {node_id.split("::")[0] for node_id in shard_bin.tests}
        planned = {node_id.split("::")[0] for node_id in plan.all_tests()}
        modules = {m for m in footprint_modules if not m.endswith("__init__.py")}
        assert modules == {m for m in all_modules if m in needed or m not in planned or m.endswith("conftest.py")
                           if not m.endswith("__init__.py")}
        skipped_somewhere = skipped_somewhere or footprint_modules < all_modules
        ran_by_footprint += footprint_ids
    assert sorted(ran_by_footprint) == sorted(full)  # together the shards run everything once
    assert skipped_somewhere


def test_a_test_file_added_after_the_plan_is_reported_by_every_shard(suite: pytest.Pytester) -> None:
    plan = _plan(suite, _full_ids(suite), 3, "module")
    # One new file beside planned files of one shard, one in a directory the plan has never seen.
    (suite.path / "tests" / "plain" / "deeper" / "test_added.py").write_text("def test_added():\n    pass\n")
    (suite.path / "tests" / "fresh").mkdir()
    (suite.path / "tests" / "fresh" / "test_brand_new.py").write_text("def test_brand_new():\n    pass\n")
    for index in range(1, plan.shards + 1):
        result = suite.runpytest_inprocess(f"--shard={index}/3", "--sharder-plan=plan.json", "-p", "no:randomly")
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        assert any(line.startswith("sharder: footprint: collecting") for line in result.stdout.lines)
        result.stderr.fnmatch_lines([
            "*does not match this test suite: 2 collected tests are not in the plan*; 2 test files are new since "
            "the plan was made (tests/fresh/test_brand_new.py, tests/plain/deeper/test_added.py)*"
        ])
        assert not any(" passed" in line for line in result.stdout.lines)


def test_a_test_added_to_a_planned_file_is_reported_by_the_shard_that_collects_that_file(
    suite: pytest.Pytester,
) -> None:
    plan = _plan(suite, _full_ids(suite), 3, "module")
    owner = next(b.shard for b in plan.bins if any(t.startswith("tests/plain/test_delta.py::") for t in b.tests))
    with (suite.path / "tests" / "plain" / "test_delta.py").open("a", encoding="utf-8") as module:
        module.write("\ndef test_delta_added():\n    pass\n")
    result = suite.runpytest_inprocess(f"--shard={owner}/3", "--sharder-plan=plan.json", "-p", "no:randomly")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*1 collected tests are not in the plan (tests/plain/test_delta.py::test_delta_added)*"])
    # A shard that skips the file cannot see the new test, and still runs exactly its own planned tests.
    other = next(b for b in plan.bins if b.shard != owner and b.tests)
    ran, _ = _shard_ids(suite, other.shard, 3)
    assert sorted(ran) == sorted(other.tests)


def test_a_removed_planned_file_means_full_collection_and_the_full_check(suite: pytest.Pytester) -> None:
    plan = _plan(suite, _full_ids(suite), 3, "module")
    (suite.path / "tests" / "plain" / "test_delta.py").unlink()
    shard = next(b.shard for b in plan.bins if not any(t.startswith("tests/plain/test_delta.py::") for t in b.tests))
    result = suite.runpytest_inprocess(f"--shard={shard}/3", "--sharder-plan=plan.json", "-p", "no:randomly")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(["sharder: collecting the whole suite: 1 of * files the plan's ids name are not files "
                                 "under the rootdir * (tests/plain/test_delta.py)*"])
    result.stderr.fnmatch_lines(["*2 planned tests were not collected (tests/plain/test_delta.py::test_delta*"])


def test_xdist_workers_collect_the_footprint_and_run_the_planned_tests(suite: pytest.Pytester) -> None:
    plan = _plan(suite, _full_ids(suite), 3, "module")
    target = max(plan.bins, key=lambda b: len(b.tests))
    ran, headers = _shard_ids(suite, target.shard, 3, "-n", "2")
    assert sorted(ran) == sorted(target.tests)
    assert headers[0].startswith("sharder: footprint: collecting ")


def test_full_collection_option_collects_and_imports_everything(suite: pytest.Pytester) -> None:
    full = _full_ids(suite)
    all_modules = _imports(suite)
    plan = _plan(suite, full, 3, "module")
    ran, headers = _shard_ids(suite, 2, 3, "--sharder-full-collection")
    assert ran == [node_id for node_id in full if node_id in set(plan.bins[1].tests)]
    assert headers[0] == "sharder: collecting the whole suite: --sharder-full-collection was given"
    assert _imports(suite) == all_modules
