"""`sharder replay` on a real suite with deliberate test pollution (tests/example_suites/polluted).

One "CI" run per module: the suite is planned into 2 shards (its durations.json makes one test so slow that it gets
a shard of its own, so shard 2/2 holds the other 36 in collection order), shard 2/2 runs and fails. Every check then
replays or bisects that shard in real pytest processes, counted by the suite's conftest (SHARDER_TEST_RUN_LOG).
"""

from __future__ import annotations

import math
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from sharder.core.errors import SharderError
from sharder.core.junit_names import RANDOMLY_SEED_PROPERTY
from sharder.core.progress_log import read_progress_log
from sharder.planning.plan import read_plan
from sharder.reports.junit import read_report
from sharder.running.replay import find_test, without_missing
from tests.paths import EXAMPLE_SUITES

SUITE = EXAMPLE_SUITES / "polluted"
POLLUTER = "test_accounts.py::test_switch_account_to_dollars"
VICTIM = "test_pricing.py::test_price_label_in_euros"
PAIR = ("test_accounts.py::test_enable_fast_lane", "test_catalog.py::test_enable_prepaid")
PAIR_VICTIM = "test_pricing.py::test_standard_checkout"
ENV_VICTIM = "test_pricing.py::test_region_defaults_to_eu"


def _env(**extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("GITHUB_", "SHARDER_", "SHOP_", "PYTEST_ADDOPTS"))}
    return {**env, **extra}


def sharder(args: Sequence[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sharder", *args], cwd=cwd, env=_env(**env),
                          capture_output=True, text=True, timeout=300, check=False)


def copy_suite(target: Path) -> Path:
    shutil.copytree(SUITE, target, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "reports"))
    return target


@dataclass
class CiRun:
    root: Path
    plan: Path
    report: Path
    log: Path

    @property
    def order(self) -> list[str]:
        return read_progress_log(self.log).order

    @property
    def failed(self) -> set[str]:
        return {case.node_id for case in read_report(self.report).cases if case.outcome in ("failed", "error")}


def run_ci_shard(root: Path, *pytest_args: str, **env: str) -> CiRun:
    """Plan 2 shards and run shard 2/2 as a CI job would."""
    planned = sharder(["plan", "--shards", "2", "-o", "plan.json"], root)
    assert planned.returncode == 0, planned.stderr
    ran = sharder(["run", "--shard", "2/2", "--plan", "plan.json", "--", "-q", *pytest_args], root, **env)
    assert ran.returncode == 1, ran.stdout + ran.stderr  # the shard fails: that is the point
    return CiRun(root, root / "plan.json", root / "reports" / "shard-2-of-2.xml",
                 root / "reports" / "shard-2-of-2.progress.jsonl")


@pytest.fixture(scope="module")
def ci(tmp_path_factory: pytest.TempPathFactory) -> CiRun:
    return run_ci_shard(copy_suite(tmp_path_factory.mktemp("ci") / "suite"))


def count_runs(log: Path) -> int:
    """pytest sessions started in the suite, as its conftest logged them."""
    return sum(line.startswith("session ") for line in log.read_text().splitlines()) if log.exists() else 0


def replay_log(work_dir: Path) -> tuple[list[str], set[str]]:
    """Order and failures of the replay's own pytest run, from the progress log it wrote in the work dir."""
    log = read_progress_log(work_dir / "replay.progress.jsonl")
    return log.order, {test.node_id for test in log.tests if test.outcome in ("failed", "error")}


def line_after(output: str, prefix: str) -> str:
    return next(line[len(prefix):] for line in output.splitlines() if line.startswith(prefix))


def one_line_error(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sharder replay: error: "), result.stderr
    for text in expected:
        assert text in lines[0]


def test_the_ci_shard_runs_the_polluter_before_its_victims(ci: CiRun) -> None:
    shard = list(read_plan(ci.plan).bins[1].tests)
    assert len(shard) >= 31
    assert shard.index(POLLUTER) < shard.index(VICTIM)
    assert max(shard.index(t) for t in PAIR) < shard.index(PAIR_VICTIM)
    assert ci.order == shard
    assert ci.failed == {VICTIM, PAIR_VICTIM}


@pytest.mark.parametrize("source", ["report", "progress-log", "plan"])
def test_replay_repeats_the_shard_in_order_with_the_same_outcome(ci: CiRun, tmp_path: Path, source: str) -> None:
    args = {"report": ["--from", str(ci.report)], "progress-log": ["--from", str(ci.log)],
            "plan": ["--plan", "plan.json", "--shard", "2/2"]}[source]
    work = tmp_path / "work"
    result = sharder(["replay", *args, "--work-dir", str(work), "--", "-q"], ci.root)
    assert result.returncode == 1, result.stdout + result.stderr  # pytest's code: the same tests fail
    order, failed = replay_log(work)
    assert order == ci.order
    assert failed == ci.failed
    if source != "plan":
        assert "the same outcome as recorded" in result.stdout
    command = line_after(result.stdout, "sharder replay: rerun with: ")
    assert "-p no:randomly" in command and "--sharder-ids-file=" in command and " -k " not in command
    if source != "report":
        return
    rerun = subprocess.run(shlex.split(command), cwd=ci.root, env=_env(), capture_output=True, text=True, check=False)
    assert rerun.returncode == 1
    assert replay_log(work) == (ci.order, ci.failed)


@pytest.mark.skipif(shutil.which("bash") is None, reason="pasting into a shell needs bash")
def test_the_printed_replay_command_pastes_with_its_arguments_quoted(ci: CiRun, tmp_path: Path) -> None:
    """`-k 'not slow and not tooslow'` was printed unquoted (four words); now it is one argument, the interpreter
    is named, and the line pasted into a real shell replays the same tests in the same order."""
    work = tmp_path / "work"
    expression = "not slow and not tooslow"
    result = sharder(["replay", "--from", str(ci.report), "--work-dir", str(work), "--", "-q", "-k", expression],
                     ci.root)
    assert result.returncode == 1, result.stdout + result.stderr
    command = line_after(result.stdout, "sharder replay: rerun with: ")
    argv = shlex.split(command)
    assert argv[1:3] == ["-m", "pytest"] and shutil.which(argv[0]) is not None
    assert argv[argv.index("-k") + 1] == expression
    (work / "replay.progress.jsonl").unlink()
    pasted = subprocess.run(["bash", "-c", command], cwd=ci.root, env=_env(), capture_output=True, text=True,
                            check=False)
    assert pasted.returncode == 1, pasted.stdout + pasted.stderr
    assert replay_log(work) == (ci.order, ci.failed)


def test_until_stops_after_the_victim(ci: CiRun, tmp_path: Path) -> None:
    work = tmp_path / "work"
    result = sharder(["replay", "--from", str(ci.report), "--until", "test_price_label_in_euros",
                      "--work-dir", str(work)], ci.root)
    assert result.returncode == 1
    order, failed = replay_log(work)
    assert order == ci.order[: ci.order.index(VICTIM) + 1]
    assert failed == {VICTIM}


def test_replay_reuses_the_recorded_randomly_seed(tmp_path: Path) -> None:
    """randomly shuffles the shard and reseeds `random` before each test; the replay keeps that order (the id list)
    and reseeds with the same seed, so the suite's random draw is the same number."""
    root = copy_suite(tmp_path / "suite")
    ci = run_ci_shard(root, "-p", "randomly", "--randomly-seed=12345",
                      SHARDER_TEST_RANDOM_LOG=str(tmp_path / "ci-draws"))
    assert read_report(ci.report).suite_properties[RANDOMLY_SEED_PROPERTY] == "12345"
    assert read_progress_log(ci.log).randomly_seed == 12345
    assert ci.order != list(read_plan(ci.plan).bins[1].tests)  # shuffled: the plan's order would be wrong
    work = tmp_path / "work"
    result = sharder(["replay", "--from", str(ci.report), "--work-dir", str(work)], root,
                     SHARDER_TEST_RANDOM_LOG=str(tmp_path / "replay-draws"))
    assert "-p randomly --randomly-seed=12345" in line_after(result.stdout, "sharder replay: rerun with: ")
    assert replay_log(work) == (ci.order, ci.failed)
    assert read_progress_log(work / "replay.progress.jsonl").randomly_seed == 12345
    assert (tmp_path / "replay-draws").read_text() == (tmp_path / "ci-draws").read_text()


def test_a_foreign_junit_report_replays_in_its_testcase_order(ci: CiRun, tmp_path: Path) -> None:
    """pytest's own report, without sharder's properties: its cases are mapped to node ids by collecting."""
    foreign = tmp_path / "foreign.xml"
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:sharder", f"--junitxml={foreign}",
                    "-o", "junit_family=xunit1"], cwd=ci.root, env=_env(), capture_output=True, check=False)
    assert "sharder_nodeid" not in foreign.read_text()
    work = tmp_path / "work"
    result = sharder(["replay", "--from", str(foreign), "--work-dir", str(work)], ci.root)
    assert result.returncode == 1
    order, failed = replay_log(work)
    assert sorted(order) == sorted([*ci.order, "test_zz_reports.py::test_yearly_report"])
    assert failed == ci.failed


def _bisect(
    ci: CiRun, tmp_path: Path, victim: str, *pytest_args: str, **env: str,
) -> tuple[subprocess.CompletedProcess[str], int]:
    """`sharder replay --from REPORT --bisect VICTIM [-- PYTEST_ARGS]`, and the pytest sessions the suite counted."""
    counter = tmp_path / "runs"
    extra = ["--", *pytest_args] if pytest_args else []
    result = sharder(["replay", "--from", str(ci.report), "--bisect", victim, "--work-dir", str(tmp_path / "work"),
                      *extra], ci.root, SHARDER_TEST_RUN_LOG=str(counter), **env)
    return result, count_runs(counter)


def test_bisect_names_the_polluter_within_log2_plus_3_runs(ci: CiRun, tmp_path: Path) -> None:
    result, runs = _bisect(ci, tmp_path, "test_price_label_in_euros")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"the polluter is: {POLLUTER}\n" in result.stdout
    predecessors = ci.order.index(VICTIM)
    steps = math.ceil(math.log2(predecessors))
    assert f"step 1/{steps}: {predecessors} candidates left" in result.stdout
    assert f"pytest runs: {runs} " in result.stdout  # what sharder reports is what the suite counted
    assert 3 <= runs <= steps + 3
    command = line_after(result.stdout, "reproduce with: ")
    assert command.endswith(f"{POLLUTER} {VICTIM}")
    reproduced = subprocess.run(shlex.split(command), cwd=ci.root, env=_env(), capture_output=True, text=True,
                                check=False)
    assert reproduced.returncode == 1
    assert f"FAILED {VICTIM}" in reproduced.stdout and "1 failed, 1 passed" in reproduced.stdout


def test_bisect_reports_tests_that_pollute_only_together(ci: CiRun, tmp_path: Path) -> None:
    """With pytest arguments of the user's (`-- -q`), the command shown passes them, then the ids it checked ran."""
    result, runs = _bisect(ci, tmp_path, PAIR_VICTIM, "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"no single test makes {PAIR_VICTIM} fail; these 2 do together:\n  {PAIR[0]}\n  {PAIR[1]}\n" in result.stdout
    command = line_after(result.stdout, "reproduce with: ")
    assert shlex.split(command)[3] == "-q" and command.endswith(f"{PAIR[0]} {PAIR[1]} {PAIR_VICTIM}")
    reproduced = subprocess.run(shlex.split(command), cwd=ci.root, env=_env(), capture_output=True, text=True,
                                check=False)
    assert "1 failed, 2 passed" in reproduced.stdout
    assert f"pytest runs: {runs};" in result.stdout


@pytest.fixture(scope="module")
def ci_us(tmp_path_factory: pytest.TempPathFactory) -> CiRun:
    """A CI job whose environment says SHOP_REGION=us: one more test fails there, for a reason no test causes."""
    return run_ci_shard(copy_suite(tmp_path_factory.mktemp("ci-us") / "suite"), SHOP_REGION="us")


def test_a_test_that_fails_on_its_own_is_not_bisected(ci_us: CiRun, tmp_path: Path) -> None:
    assert ENV_VICTIM in ci_us.failed
    result, runs = _bisect(ci_us, tmp_path, ENV_VICTIM, SHOP_REGION="us")
    assert result.returncode == 1
    assert f"{ENV_VICTIM} fails on its own, not a pollution problem" in result.stdout
    assert runs == 1


def test_a_failure_that_does_not_reproduce_here_says_why_it_might_not(ci_us: CiRun, tmp_path: Path) -> None:
    result, runs = _bisect(ci_us, tmp_path, ENV_VICTIM)
    assert result.returncode == 1
    assert f"{ENV_VICTIM} does not reproduce locally" in result.stdout
    for hint in ("  - environment:", "  - seed:", "  - missing test data:"):
        assert hint in result.stdout
    assert runs == 2


# --- bad input: one line on stderr, exit 2, and no pytest run where none is needed


def test_a_report_that_does_not_exist(ci: CiRun, tmp_path: Path) -> None:
    one_line_error(sharder(["replay", "--from", "nope.xml"], ci.root, TMPDIR=str(tmp_path)), "nope.xml", "does not exist")
    assert list(tmp_path.iterdir()) == []  # the refusal left no empty work directory behind


def test_a_report_that_does_not_parse(ci: CiRun, tmp_path: Path) -> None:
    broken = tmp_path / "broken.xml"
    broken.write_text(ci.report.read_text()[:300])
    one_line_error(sharder(["replay", "--from", str(broken)], ci.root), "not well-formed")
    log = tmp_path / "broken.progress.jsonl"
    log.write_text("not json\n")
    one_line_error(sharder(["replay", "--from", str(log)], ci.root), "no session header")


def test_a_plan_that_is_missing_broken_or_lacks_the_shard(ci: CiRun, tmp_path: Path) -> None:
    one_line_error(sharder(["replay", "--plan", "missing.json", "--shard", "1/2"], ci.root), "does not exist")
    (tmp_path / "bad.json").write_text("{")
    one_line_error(sharder(["replay", "--plan", str(tmp_path / "bad.json"), "--shard", "1/2"], ci.root), "not valid")
    one_line_error(sharder(["replay", "--plan", "plan.json", "--shard", "3/4"], ci.root), "has 2 shards")
    one_line_error(sharder(["replay", "--plan", "plan.json"], ci.root), "needs --shard")


def test_a_victim_outside_the_shard_or_first_in_it(ci: CiRun) -> None:
    one_line_error(sharder(["replay", "--from", str(ci.report), "--bisect", "test_yearly_report"], ci.root),
                   "'test_yearly_report' is not one of the 36 tests")
    one_line_error(sharder(["replay", "--from", str(ci.report), "--bisect", ci.order[0]], ci.root),
                   "is the first test", "no test ran before it")


def test_tests_that_no_longer_exist_are_listed_and_left_out_only_when_allowed(ci: CiRun, tmp_path: Path) -> None:
    root = tmp_path / "renamed"
    shutil.copytree(ci.root, root)
    code = root / "test_accounts.py"
    code.write_text(code.read_text().replace("def test_account_slug(", "def test_account_slug_renamed("))
    gone = "test_accounts.py::test_account_slug"
    report = str(root / "reports" / "shard-2-of-2.xml")
    one_line_error(sharder(["replay", "--from", report], root),
                   "1 tests of", f"no longer exist here: {gone};", "--allow-missing")
    one_line_error(sharder(["replay", "--from", report, "--bisect", VICTIM], root), gone)
    work = tmp_path / "work"
    allowed = sharder(["replay", "--from", report, "--allow-missing", "--work-dir", str(work)], root)
    assert allowed.returncode == 1
    assert f"leaving out 1 tests that no longer exist: {gone}" in allowed.stdout
    assert replay_log(work) == ([t for t in ci.order if t != gone], ci.failed)


def test_a_victim_that_no_longer_exists(ci: CiRun, tmp_path: Path) -> None:
    root = tmp_path / "renamed"
    shutil.copytree(ci.root, root)
    code = root / "test_pricing.py"
    code.write_text(code.read_text().replace("def test_price_label_in_euros(", "def test_label_in_euros("))
    one_line_error(sharder(["replay", "--from", str(root / "reports" / "shard-2-of-2.xml"), "--bisect", VICTIM,
                            "--allow-missing"], root), f"{VICTIM}, no longer exists here")



def test_a_suite_that_no_longer_imports_stops_the_bisect_with_pytest_s_reason(ci: CiRun, tmp_path: Path) -> None:
    root = tmp_path / "broken"
    shutil.copytree(ci.root, root)
    (root / "test_catalog.py").write_text("def test_half_written(:\n")
    result = sharder(["replay", "--from", str(root / "reports" / "shard-2-of-2.xml"), "--bisect", VICTIM,
                      "--allow-missing"], root)
    one_line_error(result, "pytest stopped before running any test", "full output:")
    assert "fails on its own" not in result.stdout

# --- the pure parts


def test_find_test_takes_an_exact_id_or_an_unambiguous_ending() -> None:
    ids = ["tests/a.py::test_x", "tests/b.py::C::test_x", "tests/b.py::test_y[p::q]"]
    assert find_test(ids, "tests/a.py::test_x", "shard") == "tests/a.py::test_x"
    assert find_test(ids, "a.py::test_x", "shard") == "tests/a.py::test_x"
    assert find_test(ids, "test_y[p::q]", "shard") == "tests/b.py::test_y[p::q]"
    with pytest.raises(SharderError, match="matches 2 tests"):
        find_test(ids, "test_x", "shard")
    with pytest.raises(SharderError, match=r"did you mean tests/a\.py::test_x"):
        find_test(ids, "tests/a.py::test_xx", "shard")


def test_without_missing_names_every_missing_id_up_to_ten() -> None:
    ids = [f"t.py::test_{n}" for n in range(15)]
    with pytest.raises(SharderError, match=r"12 tests of s no longer exist here: t.py::test_3, .* and 2 more"):
        without_missing(ids, ids[:3], "s", allow_missing=False)
    assert without_missing(ids, ids[:3], "s", allow_missing=True) == ids[:3]


def test_a_merged_report_needs_the_shard_named(ci: CiRun, tmp_path: Path) -> None:
    merged = tmp_path / "merged.xml"
    result = sharder(["merge", str(ci.report), "-o", str(merged)], ci.root)
    assert merged.exists(), result.stdout + result.stderr
    work = tmp_path / "work"
    chosen = sharder(["replay", "--from", str(merged), "--shard", "2/2", "--work-dir", str(work)], ci.root)
    assert chosen.returncode == 1, chosen.stdout + chosen.stderr
    assert replay_log(work)[0] == ci.order
    one_line_error(sharder(["replay", "--from", str(merged), "--shard", "1/2"], ci.root), "no test of shard 1/2")



RANDOM_SUITE = (
    "import os, random\n"
    "import pytest\n"
    "@pytest.mark.parametrize('i', range(6))\n"
    "def test_draw(i, request):\n"
    "    with open(os.environ['DRAWS'], 'a') as out:\n"
    "        out.write(f'{request.node.nodeid} {random.random()}\\n')\n"
)


def test_a_merged_report_replays_the_chosen_shard_under_its_own_label_and_seed(tmp_path: Path) -> None:
    """Each shard ran on its own seed; in the merged file shard 1's suite comes first, and its seed must not be
    taken for shard 2's: the replay reseeds with shard 2's, so every test draws the number it drew in CI."""
    root = tmp_path / "suite"
    root.mkdir()
    (root / "test_random.py").write_text(RANDOM_SUITE)
    (root / "pytest.ini").write_text("[pytest]\n")
    assert sharder(["plan", "--shards", "2", "-o", "plan.json"], root).returncode == 0
    for shard, seed in (("1/2", 111), ("2/2", 222)):
        ran = sharder(["run", "--shard", shard, "--plan", "plan.json", "--", "-q", "-p", "randomly",
                       f"--randomly-seed={seed}"], root, DRAWS=str(tmp_path / f"ci-{shard[0]}"))
        assert ran.returncode == 0, ran.stdout + ran.stderr
    merged = tmp_path / "merged.xml"
    done = sharder(["merge", "reports", "--plan", "plan.json", "-o", str(merged)], root)
    assert done.returncode == 0, done.stdout + done.stderr
    suites = read_report(merged).suite_property_sets
    assert [(s.get("sharder_shard"), s.get(RANDOMLY_SEED_PROPERTY)) for s in suites if "sharder_shard" in s] == [
        ("1/2", "111"), ("2/2", "222")]
    work = tmp_path / "work"
    result = sharder(["replay", "--from", str(merged), "--shard", "2/2", "--work-dir", str(work)], root,
                     DRAWS=str(tmp_path / "replay-2"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "-p randomly --randomly-seed=222" in line_after(result.stdout, "sharder replay: rerun with: ")
    assert f"the same outcome as recorded in {merged} (shard 2/2)" in result.stdout
    assert "(shard 1/2)" not in result.stdout
    ci_order = read_progress_log(root / "reports" / "shard-2-of-2.progress.jsonl").order
    assert replay_log(work) == (ci_order, set())
    assert (tmp_path / "replay-2").read_text() == (tmp_path / "ci-2").read_text()
    own = sharder(["replay", "--from", "reports/shard-2-of-2.xml", "--work-dir", str(tmp_path / "own")], root,
                  DRAWS=str(tmp_path / "own-2"))
    assert (tmp_path / "own-2").read_text() == (tmp_path / "ci-2").read_text(), own.stdout + own.stderr


def test_a_merged_report_holding_one_shard_twice_on_different_seeds_is_refused(tmp_path: Path) -> None:
    """A retried job on a new seed: the merged file cannot say which run to replay, and a guess is no replay."""
    root = tmp_path / "suite"
    root.mkdir()
    (root / "test_random.py").write_text(RANDOM_SUITE)
    assert sharder(["plan", "--shards", "1", "-o", "plan.json"], root).returncode == 0
    for attempt, seed in (("a", 1), ("b", 2)):
        ran = sharder(["run", "--shard", "1/1", "--plan", "plan.json", "--junit-dir", f"reports-{attempt}", "--",
                       "-q", "-p", "randomly", f"--randomly-seed={seed}"], root, DRAWS=str(tmp_path / "draws"))
        assert ran.returncode == 0, ran.stdout + ran.stderr
    merged = tmp_path / "merged.xml"
    sharder(["merge", "reports-a", "reports-b", "-o", str(merged)], root)
    one_line_error(sharder(["replay", "--from", str(merged), "--shard", "1/1"], root),
                   "shard 1/1 from 2 runs with different pytest-randomly seeds (1, 2)")


def test_missing_ids_name_the_likely_cause_before_allow_missing() -> None:
    from sharder.running.replay import missing_cause

    ids = ["pkg/t.py::test_a", "pkg/t.py::test_b"]
    assert missing_cause(("--pyargs", "pkg"), []) == "the shard ran with `--pyargs pkg`; pass the same arguments " \
                                                     "after `--`"
    assert missing_cause(("--pyargs", "pkg"), ["tests"]) == ("the shard ran with `--pyargs pkg`, this replay with "
                                                             "`tests`; pass the shard's after `--`")
    assert missing_cause(("-k", "a b"), ["-k", "a b"]) is None and missing_cause(None, []) is None
    cause = missing_cause(("--pyargs", "pkg"), [])
    with pytest.raises(SharderError, match=r"^1 tests of s are not collected here: pkg/t.py::test_b; the shard ran "
                                           r"with `--pyargs pkg`; pass the same arguments after `--`$"):
        without_missing(ids, ids[:1], "s", allow_missing=False, cause=cause)
    assert without_missing(ids, ids[:1], "s", allow_missing=True, cause=cause) == ids[:1]
    for allow_missing in (False, True):  # none left: refused, never a replay of nothing
        with pytest.raises(SharderError, match=r"^none of the 2 tests of s is collected here \(pkg/t.py::test_a, "
                                               r"pkg/t.py::test_b\): they no longer exist here$"):
            without_missing(ids, ["other.py::t"], "s", allow_missing=allow_missing)
