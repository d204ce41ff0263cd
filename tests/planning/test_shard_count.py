"""The target arithmetic of `sharder matrix` (pure), the durations people type, and the command on real suites."""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sharder.core.durationtext import format_duration, parse_duration
from sharder.core.errors import SharderError
from sharder.planning.partition import lower_bound
from sharder.planning.planner import make_plan
from sharder.planning.shard_count import MATRIX_JOB_LIMIT, SuiteTimes, choose_shards
from tests.paths import SHARED_BENCH_DURATIONS

RunSharder = Callable[..., subprocess.CompletedProcess[str]]
BENCH = SHARED_BENCH_DURATIONS
needs_bench = pytest.mark.skipif(not BENCH.exists(), reason="shared bench data is not beside this checkout")


def suite(*seconds: float, module: str = "tests/test_a.py") -> SuiteTimes:
    ids = [f"{module}::test_{i}" for i in range(len(seconds))]
    return SuiteTimes.of(ids, dict(zip(ids, seconds, strict=True)))


def planned_wall(times: SuiteTimes, shards: int, overhead: float) -> float:
    plan = make_plan(times.ids, dict(zip(times.ids, times.seconds, strict=True)), shards,
                     setup_seconds=times.setup_seconds)
    return plan.makespan + overhead


# ------------------------------------------------------------------------------------------- durations text


@pytest.mark.parametrize(("text", "seconds"), [
    ("45", 45), ("2.5", 2.5), ("90s", 90), ("10m", 600), ("1h30m", 5400), ("1h 30m", 5400), ("2m30s", 150),
    ("1.5m", 90), ("1h", 3600), ("0", 0), (" 10m ", 600), ("10M", 600), ("1h0m5s", 3605), (".5s", 0.5),
])
def test_parses_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", " ", "m", "10x", "-5m", "+5m", "30m1h", "5m5m", "1e3", "inf", "nan", "1h30",
                                  "１０m", "10 minutes", "1,5m", "8d", "169h"])
def test_rejects_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(SharderError):
        parse_duration(text)


@pytest.mark.parametrize("seconds", [0, 1, 59, 60, 61, 600, 3599, 3600, 5400, 86399])
def test_format_reads_back(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


def test_format_is_short() -> None:
    assert [format_duration(s) for s in (600, 5400, 45, 0, 3605)] == ["10m", "1h30m", "45s", "0s", "1h5s"]


# ------------------------------------------------------------------------------------------- arithmetic


def test_exact_fit_counts_as_fitting() -> None:
    times = suite(3, 3, 3, 3)
    choice = choose_shards(times, target_seconds=7, overhead_seconds=1, max_shards=8)
    assert (choice.shards, choice.fits, choice.chosen.wall_seconds) == (2, True, 7.0)
    # A hair less and two shards no longer do; three cannot split four 3 s tests below 6 s, so it takes four.
    tighter = choose_shards(times, target_seconds=6.999, overhead_seconds=1, max_shards=8)
    assert (tighter.shards, tighter.fits, tighter.chosen.wall_seconds) == (4, True, 4.0)


def test_one_shard_when_everything_fits() -> None:
    choice = choose_shards(suite(1, 2, 3), target_seconds=60, overhead_seconds=30, max_shards=8)
    assert (choice.shards, choice.fits) == (1, True)
    assert "one shard is enough" in choice.reason


def test_machine_time_counts_every_job_overhead() -> None:
    choice = choose_shards(suite(*[2.0] * 10), target_seconds=8, overhead_seconds=3, max_shards=10)
    # Ten 2 s tests: four shards leave one with three tests (6 s + 3 s > 8 s), five shards hold two each.
    assert choice.shards == 5
    forecast = choice.chosen
    assert (forecast.slowest_seconds, forecast.wall_seconds, forecast.busy_seconds) == (4.0, 7.0, 20.0)
    assert forecast.machine_seconds == 20 + 5 * 3


def test_no_tests_is_one_shard_of_pure_overhead() -> None:
    choice = choose_shards(SuiteTimes.of([], {}), target_seconds=60, overhead_seconds=10)
    assert (choice.shards, choice.fits, choice.chosen.wall_seconds, choice.tests) == (1, True, 10.0, 0)


def test_overhead_alone_exceeding_the_target_is_explained() -> None:
    choice = choose_shards(suite(1, 1, 1, 1), target_seconds=60, overhead_seconds=60, max_shards=8)
    assert not choice.fits and choice.blockers == ()
    assert "job overhead alone (60.0 s) uses up the target" in choice.reason
    assert choice.shards == 4  # the fewest shards with the best wall time: each 1 s test alone


def test_a_test_longer_than_the_target_names_itself_and_picks_the_useful_count() -> None:
    # 10 s + ten 1 s tests: useful shards = 20 / 10 = 2; no count gets under 10 s, two already reach it.
    times = suite(10, *[1.0] * 10)
    choice = choose_shards(times, target_seconds=8, overhead_seconds=1, max_shards=16)
    assert not choice.fits
    assert choice.blockers == (("tests/test_a.py::test_0", 10.0),)
    assert choice.useful_shards == 2.0
    assert choice.shards == 2 and choice.chosen.wall_seconds == 11.0
    assert "1 test alone takes longer than the 7.0 s left after the job overhead" in choice.reason


def test_too_few_allowed_shards_is_explained() -> None:
    choice = choose_shards(suite(*[1.0] * 100), target_seconds=10, overhead_seconds=0, max_shards=5)
    assert (choice.shards, choice.fits) == (5, False)
    assert "5 shards (--max-shards) are not enough" in choice.reason
    assert choice.chosen.wall_seconds == 20.0


def test_both_a_long_test_and_too_few_shards_are_named() -> None:
    choice = choose_shards(suite(10, *[1.0] * 100), target_seconds=5, overhead_seconds=0, max_shards=4)
    assert not choice.fits and choice.shards == 4
    assert "1 test alone takes longer than the 5.0 s left" in choice.reason
    assert "and 4 shards (--max-shards) are not enough for 110.0 s of tests" in choice.reason


def test_max_shards_one_fits_or_explains() -> None:
    assert choose_shards(suite(1, 1), target_seconds=3, max_shards=1).shards == 1
    missed = choose_shards(suite(1, 1), target_seconds=1.5, max_shards=1)
    assert (missed.shards, missed.fits) == (1, False)


def test_plan_above_the_bound_moves_to_the_next_count() -> None:
    # Two modules whose first test pays a 2 s fixture: a test-level plan that splits a module pays it again, so
    # the planned slowest shard sits above the planner's lower bound and the bound's N is not enough.
    ids = [f"tests/test_{m}.py::t{i}" for m in "ab" for i in range(4)]
    known = dict.fromkeys(ids, 3.0)
    setup = {node_id: (2.0 if node_id.endswith("::t0") else 0.0) for node_id in ids}
    times = SuiteTimes.of(ids, known, setup)
    assert lower_bound(times.seconds, 2) == 12.0 < planned_wall(times, 2, 0)
    choice = choose_shards(times, target_seconds=13, overhead_seconds=0, max_shards=8)
    assert choice.fits and choice.shards == 3
    assert "fewer are planned to take longer" in choice.reason
    assert {f.shards for f in choice.forecasts} >= {1, 2, 3, 4, 5}


def test_table_rows_surround_the_choice() -> None:
    choice = choose_shards(suite(*[1.0] * 40), target_seconds=10, overhead_seconds=0, max_shards=20)
    assert choice.shards == 4
    assert [f.shards for f in choice.forecasts] == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"target_seconds": 0}, "longer than 0s"),
    ({"target_seconds": 10, "overhead_seconds": -1}, "cannot be negative"),
    ({"target_seconds": 10, "max_shards": 0}, "between 1 and 256"),
    ({"target_seconds": 10, "max_shards": MATRIX_JOB_LIMIT + 1}, "between 1 and 256"),
])
def test_limits(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(SharderError, match=message):
        choose_shards(suite(1), **kwargs)  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None)
@given(
    seconds=st.lists(st.floats(min_value=0, max_value=50, allow_nan=False), min_size=1, max_size=30),
    target=st.floats(min_value=0.5, max_value=200),
    overhead=st.sampled_from([0.0, 1.0, 5.0]),
    max_shards=st.integers(min_value=1, max_value=12),
)
def test_chosen_count_is_the_smallest_that_fits(seconds: list[float], target: float, overhead: float,
                                                max_shards: int) -> None:
    times = suite(*seconds)
    choice = choose_shards(times, target_seconds=target, overhead_seconds=overhead, max_shards=max_shards)
    walls = {n: planned_wall(times, n, overhead) for n in range(1, max_shards + 1)}
    # A wall equal to the target but for the last bits of a float sum (three 21.47 s tests against 21.47 s) fits or
    # not by the order of the additions, which is no property of the choice: such cases are not judged.
    assume(all(abs(wall - target) > 1e-9 * max(1.0, target) for wall in walls.values()))
    fitting = [n for n, wall in walls.items() if wall <= target]
    if fitting:
        assert choice.fits and choice.shards == min(fitting)
    else:
        assert not choice.fits
        best = min(walls.values())
        assert walls[choice.shards] <= best + 0.01 * best + 1e-9
    assert choice.chosen.wall_seconds == pytest.approx(walls[choice.shards])


# ------------------------------------------------------------------------------------------- the command


def test_matrix_for_n_shards_and_github_output(run_sharder: RunSharder, tmp_path: Path) -> None:
    output = tmp_path / "github_output"
    output.write_text("earlier=yes\n")
    result = run_sharder(["matrix", "--shards", "4"], cwd=tmp_path, GITHUB_OUTPUT=str(output))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"shard": ["1/4", "2/4", "3/4", "4/4"]}
    lines = output.read_text().splitlines()
    assert lines[0] == "earlier=yes" and lines[2] == "shards=4"
    assert lines[1].startswith("matrix=") and json.loads(lines[1][len("matrix="):]) == json.loads(result.stdout)


def test_target_on_the_example_suite_picks_and_explains(run_sharder: RunSharder, example_dir: Path) -> None:
    result = run_sharder(["matrix", "--target", "5s", "--job-overhead", "1s", "--json"], cwd=example_dir)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    shards = document["shards"]
    assert document["matrix"] == {"shard": [f"{k}/{shards}" for k in range(1, shards + 1)]} and document["fits"]
    assert document["tests"] == 35
    # The explanation: a table with the chosen row marked, and why.
    assert "shards  slowest shard  wall time  machine time" in result.stderr
    assert f"chose {shards} shards: the smallest count" in result.stderr
    # `sharder plan` for that N, and for one fewer, agree with the arithmetic.
    walls = {}
    for n in (shards - 1, shards):
        planned = run_sharder(["plan", "--shards", str(n), "--json", "-o", f"plan{n}.json"], cwd=example_dir)
        walls[n] = json.loads(planned.stdout)["makespan"] + 1.0
    assert walls[shards] <= 5.0 < walls[shards - 1]


@needs_bench
def test_target_on_bench_suites(run_sharder: RunSharder, tmp_path: Path) -> None:
    onegov = run_sharder(["matrix", "--target", "10m", "--job-overhead", "1m", "--from-durations", "--json",
                          "--durations", str(BENCH / "onegov-cloud.json")], cwd=tmp_path)
    assert onegov.returncode == 0, onegov.stderr
    fit = json.loads(onegov.stdout)
    walls = {f["shards"]: f["wall_seconds"] for f in fit["forecasts"]}
    assert fit["fits"] and walls[fit["shards"]] <= 600 < walls[fit["shards"] - 1]
    assert "<- chosen" in onegov.stderr

    desc = run_sharder(["matrix", "--target", "10m", "--job-overhead", "1m", "--from-durations", "--json",
                        "--durations", str(BENCH / "desc.json")], cwd=tmp_path)
    assert desc.returncode == 0, desc.stderr
    missed = json.loads(desc.stdout)
    assert not missed["fits"]
    assert missed["blockers"][0]["nodeid"] == "tests/test_examples.py::test_qh_optimization1"
    assert all(b["seconds"] > 540 for b in missed["blockers"])
    assert missed["shards"] <= math.ceil(missed["useful_shards"]) + 1
    assert "tests longer than the target minus the overhead" in desc.stderr
    assert "no shard count up to 20 fits the target" in desc.stderr


def test_no_durations_warns_that_the_arithmetic_is_a_guess(run_sharder: RunSharder, example_dir: Path) -> None:
    (example_dir / "durations.json").unlink()
    result = run_sharder(["matrix", "--target", "20s"], cwd=example_dir)
    assert result.returncode == 0, result.stderr
    assert "every test counts as the same estimate (1 s), so the shards split by test count" in result.stderr
    assert "the --target arithmetic is a guess" in result.stderr
    assert json.loads(result.stdout) == {"shard": ["1/2", "2/2"]}  # 35 tests of 1 s each


@pytest.mark.parametrize(("args", "message"), [
    (["--target", "soon"], "invalid duration 'soon'"),
    (["--target", "0"], "the target must be longer than 0s"),
    (["--target", "10m", "--shards", "3"], "not allowed with argument"),
    (["--target", "10m", "--max-shards", "0"], "invalid shard count '0'"),
    (["--target", "10m", "--max-shards", "300"], "more than GitHub's 256 jobs"),
    (["--shards", "300"], "more than GitHub's 256 jobs"),
    (["--shards", "3", "--max-shards", "4"], "--max-shards only goes with --target"),
    (["--shards", "3", "--job-overhead", "1m", "--from-durations"],
     "--job-overhead, --from-durations only go with"),
    (["--target", "10m", "--job-overhead=-1m"], "invalid duration '-1m'"),
    ([], "one of the arguments --shards --target is required"),
])
def test_bad_input_is_one_line_and_exit_2(run_sharder: RunSharder, tmp_path: Path, args: list[str],
                                          message: str) -> None:
    result = run_sharder(["matrix", *args], cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert result.stdout == ""


def test_unwritable_github_output_is_an_error(run_sharder: RunSharder, tmp_path: Path) -> None:
    result = run_sharder(["matrix", "--shards", "2"], cwd=tmp_path, GITHUB_OUTPUT=str(tmp_path))
    assert result.returncode == 2 and "cannot write $GITHUB_OUTPUT" in result.stderr


# ---------------------------------------------------------------------- walls, budgets (issue 17, goal 3)


def _import_heavy_suite(group_by: str) -> SuiteTimes:
    """8 files of 10 tests at 0.1 s, each file 2 s to import, 1 s per process to start: a wall, not a sum."""
    from sharder.durations.costs import SuiteCosts

    files = [f"tests/test_{index}.py" for index in range(8)]
    ids = [f"{file}::test_{case}" for file in files for case in range(10)]
    return SuiteTimes.of(ids, dict.fromkeys(ids, 0.1), costs=SuiteCosts(startup_seconds=1.0,
                                                                       files=dict.fromkeys(files, 2.0)),
                         group_by=group_by)


def test_with_costs_each_n_is_forecast_by_its_slowest_predicted_wall() -> None:
    forecast = _import_heavy_suite("auto").forecaster(0.0)
    assert forecast(1).slowest_seconds == pytest.approx(1 + 8 * 2 + 8)
    assert forecast(4).slowest_seconds == pytest.approx(1 + 2 * 2 + 2)  # two whole files per shard
    assert forecast(4).machine_seconds == pytest.approx(4 * 1 + 8 * 2 + 8)
    # a test-level plan imports every file in every shard: 4 shards are barely faster than 1, and far dearer
    by_test = _import_heavy_suite("test").forecaster(0.0)
    assert by_test(4).slowest_seconds > forecast(4).slowest_seconds + 10


def test_the_table_says_when_more_shards_are_slower_or_only_dearer() -> None:
    from sharder.planning.shard_count import ShardForecast, more_shards_note

    forecasts = [ShardForecast(1, 100.0, 100.0, 0.0), ShardForecast(2, 60.0, 120.0, 0.0),
                 ShardForecast(3, 59.9, 150.0, 0.0), ShardForecast(4, 61.0, 200.0, 0.0)]
    assert [more_shards_note(forecasts, index) for index in range(4)] == [
        "", "", "only dearer than 2", "slower than 3"]


def test_a_runner_minutes_budget_picks_the_fastest_n_within_it() -> None:
    suite = _import_heavy_suite("auto")
    free = choose_shards(suite, target_seconds=1.0, max_shards=8, max_machine_seconds=10_000)
    assert free.shards == 8 and not free.fits  # nothing fits 1 s: the fastest of all
    tight = choose_shards(suite, target_seconds=1.0, max_shards=8, max_machine_seconds=30)
    assert all(f.machine_seconds <= 30 for f in tight.forecasts if f.shards == tight.shards)
    assert tight.shards == 4 and "within the budget" in tight.reason
    fits = choose_shards(suite, target_seconds=12, max_shards=8, max_machine_seconds=10_000)
    assert fits.shards == 3 and fits.fits  # the smallest count that fits the target (2: 1 + 4 x 2 + 4 s)
    broke = choose_shards(suite, target_seconds=12, max_shards=8, max_machine_seconds=1)
    assert broke.shards == 1 and "no shard count fits the budget" in broke.reason


def test_matrix_takes_the_budget_from_the_option_or_the_project(tmp_path: Path, run_sharder: RunSharder) -> None:
    from sharder.durations.costs import SuiteCosts
    from sharder.durations.store import Durations, Observation, save_durations, updated

    files = [f"tests/test_{index}.py" for index in range(8)]
    ids = [f"{file}::test_{case}" for file in files for case in range(10)]
    store = updated(Durations({}), {node_id: Observation(0.1) for node_id in ids},
                    costs=SuiteCosts(startup_seconds=1.0, files=dict.fromkeys(files, 2.0)))
    save_durations(tmp_path / "durations.json", store)
    args = ["matrix", "--target", "1s", "--max-shards", "8", "--from-durations", "--json"]
    unbounded = run_sharder(args, cwd=tmp_path)
    assert unbounded.returncode == 0, unbounded.stderr
    assert "runner minutes" in unbounded.stderr and "file imports" in unbounded.stderr
    budgeted = run_sharder([*args, "--max-runner-minutes", "0.5"], cwd=tmp_path)
    assert json.loads(budgeted.stdout)["shards"] < json.loads(unbounded.stdout)["shards"]
    (tmp_path / "pyproject.toml").write_text("[tool.sharder]\nmax_runner_minutes = 0.5\n")
    from_project = run_sharder(args, cwd=tmp_path)
    assert json.loads(from_project.stdout)["shards"] == json.loads(budgeted.stdout)["shards"]
    (tmp_path / "pyproject.toml").write_text("[tool.sharder]\nmax_runner_minutes = 'lots'\n")
    refused = run_sharder(args, cwd=tmp_path)
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
