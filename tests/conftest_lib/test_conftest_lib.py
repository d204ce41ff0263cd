"""conftest_lib on real pytest sessions (pytester subprocesses): cleanup, fresh, markers, asyncio hygiene, opt-in."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration

CLEANUP_SUITE = """
import pytest
from conftest_lib import fresh_fixture

LOG = []

class Resource:
    def __init__(self, name): self.name = name
    def close(self): LOG.append("close " + self.name)

class AsyncResource:
    async def aclose(self): LOG.append("aclose")

class Broken:
    def close(self): raise ValueError("close failed")

class Store:
    instances = 0
    def __init__(self): Store.instances += 1; self.items = []
    def close(self): LOG.append("store closed")

store = fresh_fixture(Store)

def test_order(cleanup):
    cleanup.register(Resource("a"))
    cleanup.add(LOG.append, "callback")
    cleanup.register(AsyncResource())
    cleanup.register(Resource("b"))

def test_order_was_reverse():
    assert LOG == ["close b", "aclose", "callback", "close a"]
    LOG.clear()

def test_broken_close_is_reported_test_still_passes(cleanup):
    cleanup.register(Broken())
    cleanup.register(Resource("after broken"))

def test_failure_is_kept_beside_cleanup_error(cleanup):
    cleanup.register(Broken())
    assert 1 == 2, "the test's own failure"

def test_every_step_ran():
    assert LOG == ["close after broken"]
    LOG.clear()

def test_fresh_gives_new_objects(fresh, store):
    first, second = fresh(Store), fresh(Store)
    assert first is not second and store is not first
    store.items.append(1)

def test_fresh_store_is_new_again(store):
    assert store.items == []
    assert LOG.count("store closed") == 3
"""


def test_cleanup_runs_in_reverse_and_reports_errors_beside_the_result(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_cleanup=CLEANUP_SUITE)
    result = pytester.runpytest_subprocess("-p", "conftest_lib", "-p", "no:randomly", "-rA")
    result.assert_outcomes(passed=6, failed=1, errors=2)
    result.stdout.fnmatch_lines([
        "*ERROR at teardown of test_broken_close_is_reported_test_still_passes*",
        "*CleanupError: 1 cleanup step(s) failed:*",
        "*Broken.close(): ValueError: close failed*",
        "*the test's own failure*",
    ])


def test_markers_are_registered(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest
        @pytest.mark.unit
        @pytest.mark.integration
        @pytest.mark.slow
        @pytest.mark.memory_intensive
        def test_marked(): pass
    """)
    assert pytester.runpytest_subprocess("-p", "conftest_lib", "--strict-markers").ret == 0
    assert pytester.runpytest_subprocess("--strict-markers").ret != 0, "installed alone, it must register nothing"


def test_installed_alone_changes_nothing_until_the_ini_asks(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest
        @pytest.mark.slow
        def test_marked(): pass
    """)
    plain = pytester.runpytest_subprocess("--strict-markers")
    assert "conftest_lib:" not in plain.stdout.str()
    pytester.makeini("[pytest]\nconftest_lib = true\n")
    enabled = pytester.runpytest_subprocess("--strict-markers")
    enabled.assert_outcomes(passed=1)
    enabled.stdout.fnmatch_lines(["conftest_lib: gc per test, asyncio hygiene on*"])
    blocked = pytester.runpytest_subprocess("--strict-markers", "-p", "no:conftest_lib")
    assert blocked.ret != 0


def test_bad_gc_mode_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest_subprocess("-p", "conftest_lib", "-o", "conftest_lib_gc=sometimes")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*conftest_lib_gc = 'sometimes': expected one of test, module, off*"])


ASYNC_WITHOUT_PLUGIN = """
import asyncio, gc

async def forever():
    await asyncio.sleep(3600)

LOOPS = []

def test_leaves_task_and_loop():
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    LOOPS.append(loop)
    loop.create_task(forever())
    loop.run_until_complete(asyncio.sleep(0))

def test_they_were_cleaned_up():
    assert LOOPS[0].is_closed()
    assert not [t for t in gc.get_objects() if isinstance(t, asyncio.Task) and not t.done()]

def test_asyncio_run_is_clean():
    asyncio.run(asyncio.sleep(0))
"""


def test_asyncio_hygiene_without_pytest_asyncio(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_loops=ASYNC_WITHOUT_PLUGIN)
    result = pytester.runpytest_subprocess("-p", "conftest_lib", "-p", "no:asyncio", "-p", "no:randomly")
    result.assert_outcomes(passed=3, warnings=1)
    result.stdout.fnmatch_lines([
        "*LeakWarning: test_loops.py::test_leaves_task_and_loop left 1 asyncio task(s) pending (forever); "
        "cancelled and awaited them; left 1 event loop(s) open; closed them*",
    ])


ASYNC_WITH_PLUGIN = """
import asyncio, pytest, pytest_asyncio

async def forever():
    await asyncio.sleep(3600)

@pytest_asyncio.fixture
async def background():
    task = asyncio.get_running_loop().create_task(forever())
    yield task
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)

@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server():
    task = asyncio.get_running_loop().create_task(forever())
    yield task
    task.cancel()

@pytest.mark.asyncio
async def test_leaves_task_pending():
    asyncio.get_running_loop().create_task(forever())
    await asyncio.sleep(0)

@pytest.mark.asyncio
async def test_fixture_cleans_its_task(background):
    await asyncio.sleep(0)

@pytest.mark.asyncio(loop_scope="module")
async def test_module_server_is_not_a_leak(server):
    await asyncio.sleep(0)
"""


def test_asyncio_hygiene_with_pytest_asyncio(pytester: pytest.Pytester) -> None:
    pytest.importorskip("pytest_asyncio")
    pytester.makepyfile(test_async=ASYNC_WITH_PLUGIN)
    # pytest-asyncio loads by its entry point.
    result = pytester.runpytest_subprocess("-p", "conftest_lib", "-p", "no:randomly")
    result.assert_outcomes(passed=3, warnings=1)
    result.stdout.fnmatch_lines(["*LeakWarning: test_async.py::test_leaves_task_pending left 1 asyncio task(s) "
                                 "pending on a loop that was then closed under them (forever)*"])


RERUN_SUITE = """
import pathlib

def test_fails_twice_then_passes():
    count = pathlib.Path(__file__).with_name("attempts")
    attempts = int(count.read_text()) if count.exists() else 0
    count.write_text(str(attempts + 1))
    assert attempts >= 2, "not yet"
"""


def test_a_rerun_test_carries_one_peak_rss_property_per_attempt(pytester: pytest.Pytester) -> None:
    """pytest-rerunfailures tears the same item down once per attempt; each attempt's case must say its own
    peak once, not repeat the earlier attempts' ones, and merge, durations and the progress log read it."""
    import json
    import subprocess
    import sys

    from sharder.core.junit_names import PEAK_RSS_PROPERTY
    from sharder.core.progress_log import read_progress_log
    from sharder.reports.junit import parse_xml_root, read_report
    from sharder.reports.junit_durations import observations_from_reports

    pytester.makepyfile(test_rerun=RERUN_SUITE)
    report, log = pytester.path / "r.xml", pytester.path / "r.progress.jsonl"
    result = pytester.runpytest_subprocess("-p", "conftest_lib", "-p", "no:randomly", "--reruns", "2",
                                           f"--junitxml={report}", f"--sharder-progress-log={log}")
    result.stdout.fnmatch_lines(["*1 passed, 2 rerun*"])
    cases = list(parse_xml_root(report).iter("testcase"))
    peaks = [[prop.get("value") for prop in case.iter("property") if prop.get("name") == PEAK_RSS_PROPERTY]
             for case in cases]
    assert len(cases) == 3 and all(len(values) == 1 for values in peaks), peaks
    (folded,) = read_report(report).cases
    assert folded.earlier_failures == 2 and folded.properties[PEAK_RSS_PROPERTY] == peaks[-1][0]
    observed, _ = observations_from_reports([read_report(report)])
    assert observed[folded.node_id].peak_rss_mb == float(peaks[-1][0] or "nan")
    logged = read_progress_log(log).tests
    assert [test.outcome for test in logged][-1] == "passed"
    assert all(test.peak_rss_mb is not None and test.peak_rss_mb > 0 for test in logged)
    merged = subprocess.run([sys.executable, "-m", "sharder", "merge", str(report), "--json"], cwd=pytester.path,
                            capture_output=True, text=True, check=False)
    assert merged.returncode == 0 and "Traceback" not in merged.stderr, merged.stderr
    assert json.loads(merged.stdout)["flaky"] == 1
