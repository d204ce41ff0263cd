"""What one CI shard ran, read back from its plan, JUnit report or progress log, and how to run it again here.

A replay must run exactly the shard's tests in exactly the shard's order, so the ids go to the plugin as a file
(`--sharder-ids-file`, which orders the items by the list after every other plugin has reordered them), never as a
`-k` expression. pytest-randomly is switched off (`-p no:randomly`) unless the shard recorded its seed: then the
seed is reused, because randomly reseeds `random`, numpy and faker before every test with it, and that, not its
shuffle (the id list overrides the order), is what a test's behaviour depends on.

The shard's own pytest arguments (`--pyargs pkg`, `-k expr`, paths: recorded in its report and progress log) are
given again by default, so the replay collects what the shard collected; arguments after `--` replace them. When the
shard's ids are not collected here, the message names the likely cause (the arguments differ) before the last
resort (`--allow-missing`), and a replay left with none of the shard's tests is refused, never "the same outcome".

Every pytest run goes through `PytestLauncher`, which counts them: the bisect's cost is measured in pytest
processes, and the count is reported to the user.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from sharder.core.command_text import command_text
from sharder.core.errors import SharderError
from sharder.core.junit_names import (
    MERGED_PROPERTY,
    NODEID_PROPERTY,
    ORDER_PROPERTY,
    PYTEST_ARGS_PROPERTY,
    RANDOMLY_SEED_PROPERTY,
    SHARD_PROPERTY,
)
from sharder.core.progress_log import SUFFIX as PROGRESS_SUFFIX
from sharder.core.progress_log import pytest_args_from, read_progress_log
from sharder.core.shardspec import ShardSpec
from sharder.durations.outcomes import failed_tests
from sharder.durations.store import Durations
from sharder.planning.order import ordered
from sharder.planning.plan import read_plan
from sharder.pytest_plugin.options import COLLECT_TO_OPTION, IDS_OPTION, PROGRESS_LOG_OPTION
from sharder.reports.junit import CaseResult, Report, mangling_index, parse_xml_root, report_from_root
from sharder.running import runner

# How many ids a one-line message names before it says "and N more".
NAMED_IN_MESSAGE = 10
FAILED_OUTCOMES = frozenset({"failed", "error"})


@dataclass(frozen=True)
class ShardRun:
    """The tests one shard ran, in the order it ran them, and what is known about how it ran them."""

    ids: tuple[str, ...]
    origin: str  # for messages: "shard 3/8 of plan.json", "reports/shard-3-of-8.xml (shard 3/8)"
    randomly_seed: int | None = None
    outcomes: Mapping[str, str] = field(default_factory=dict)  # empty when the source is a plan
    pytest_args: tuple[str, ...] | None = None  # the user's pytest arguments the shard ran with; None: not recorded

    @property
    def failed(self) -> list[str]:
        return [node_id for node_id in self.ids if self.outcomes.get(node_id) in FAILED_OUTCOMES]


def name_some(ids: Sequence[str], limit: int = NAMED_IN_MESSAGE) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def shard_from_plan(path: str | os.PathLike[str], spec: ShardSpec) -> ShardRun:
    """A plan's bin is in collection order, which is the order a shard runs it in without pytest-randomly."""
    plan = read_plan(path)
    shard_bin = plan.bin_for(spec)
    if not shard_bin.tests:
        raise SharderError(f"shard {spec} of {os.fspath(path)} has no tests; nothing to replay")
    return ShardRun(shard_bin.tests, f"shard {spec} of {os.fspath(path)}")


def in_run_order(shard: ShardRun, order: str, durations: Durations) -> ShardRun:
    """A plan's shard in the order `sharder run --order ORDER` gave it: the same pure ordering over the same ids,
    timings and last outcomes, so the replay runs what the shard ran, given the store as it was then (a rebalance
    since may have changed the outcomes it orders by; the shard's report or progress log holds the order itself)."""
    ids = ordered(shard.ids, order, seconds=durations.seconds(), failed=failed_tests(durations.outcomes))
    return replace(shard, ids=tuple(ids), origin=f"{shard.origin}, --order {order}")


def _order_key(case: CaseResult) -> int | None:
    text = case.properties.get(ORDER_PROPERTY, "")
    return int(text) if text.isascii() and text.isdigit() else None


def _seed(text: str | None, source: str) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise SharderError(f"{source}: {RANDOMLY_SEED_PROPERTY} {text!r} is not a whole number") from None


def _outcomes(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """One outcome per id; a test reported twice (a rerun) counts as failed if any attempt failed."""
    outcomes: dict[str, str] = {}
    for node_id, outcome in pairs:
        if outcomes.get(node_id) not in FAILED_OUTCOMES:
            outcomes[node_id] = outcome
    return outcomes


def _cases_of_shard(cases: list[CaseResult], spec: ShardSpec | None, source: str) -> list[CaseResult]:
    """A merged report holds several shards: one must be chosen, a replay runs one process's order."""
    shards = sorted({case.shard for case in cases if case.shard}, key=lambda text: (len(text), text))
    if spec is not None:
        chosen = [case for case in cases if case.shard == str(spec)]
        if not chosen:
            found = f"it holds shards {', '.join(shards)}" if shards else "its cases carry no shard"
            raise SharderError(f"{source} has no test of shard {spec} ({found})")
        return chosen
    if len(shards) > 1:
        raise SharderError(f"{source} holds the tests of {len(shards)} shards ({name_some(shards, 4)}); "
                           "pick one with --shard K/N")
    return cases


def shard_from_report(
    path: str | os.PathLike[str], known_ids: Callable[[], list[str]], spec: ShardSpec | None = None,
) -> ShardRun:
    """sharder's own reports name each case's node id and position; a foreign report keeps its testcase order and
    its cases are mapped to node ids through the collected ids (`known_ids`, called only when needed)."""
    source = os.fspath(path)
    root = parse_xml_root(path)
    report = report_from_root(root, path)
    if any(NODEID_PROPERTY not in case.properties for case in report.cases):
        report = report_from_root(root, path, mangling_index(known_ids()))
    cases = _cases_of_shard(report.cases, spec, source)
    if not cases:
        raise SharderError(f"{source} holds no test cases; nothing to replay")
    positions = [_order_key(case) for case in cases]
    if all(position is not None for position in positions):
        cases = [case for _, case in sorted(zip(positions, cases, strict=True), key=lambda pair: pair[0] or 0)]
    ids = tuple(dict.fromkeys(case.node_id for case in cases))
    case_shards = {case.shard for case in cases if case.shard}
    shard_text = (str(spec) if spec is not None else next(iter(case_shards)) if len(case_shards) == 1
                  else report.suite_properties.get(SHARD_PROPERTY))
    origin = source + (f" (shard {shard_text})" if shard_text else "")
    seed_text = _shard_seed(report, shard_text, source)
    return ShardRun(ids, origin, _seed(seed_text, source), _outcomes([(case.node_id, case.outcome) for case in cases]),
                    _shard_args(report, shard_text))


def _shard_args(report: Report, shard_text: str | None) -> tuple[str, ...] | None:
    """The pytest arguments the suites of this shard recorded (as for the seed, a merged report's first suite may
    be another shard's); None when they are not recorded, or two runs of the shard recorded different ones."""
    own = [props for props in report.suite_property_sets if shard_text and props.get(SHARD_PROPERTY) == shard_text]
    if own:
        texts = {props[PYTEST_ARGS_PROPERTY] for props in own if PYTEST_ARGS_PROPERTY in props}
    elif report.suite_properties.get(MERGED_PROPERTY):
        texts = set()
    else:
        texts = {report.suite_properties[PYTEST_ARGS_PROPERTY]} if PYTEST_ARGS_PROPERTY in report.suite_properties \
            else set()
    if len(texts) != 1:
        return None
    try:
        return pytest_args_from(json.loads(texts.pop()))
    except ValueError:
        return None


def _shard_seed(report: Report, shard_text: str | None, source: str) -> str | None:
    """The seed of the suites that name this shard: a merged report holds one suite per shard report, each with
    its own seed, and the first suite's seed (what `suite_properties` gives) belongs to another shard. A report
    whose suites name no shard (a plain pytest report) keeps its seed; a merged one that names none of this shard
    (written before merged suites kept their seeds) gives none: no seed beats another shard's."""
    own = [props for props in report.suite_property_sets if shard_text and props.get(SHARD_PROPERTY) == shard_text]
    if not own:
        return None if report.suite_properties.get(MERGED_PROPERTY) else report.suite_properties.get(
            RANDOMLY_SEED_PROPERTY)
    seeds = list(dict.fromkeys(props[RANDOMLY_SEED_PROPERTY] for props in own if RANDOMLY_SEED_PROPERTY in props))
    if len(seeds) > 1:
        raise SharderError(
            f"{source} holds shard {shard_text} from {len(own)} runs with different pytest-randomly seeds "
            f"({', '.join(seeds)}); replay from the shard report of the run you mean"
        )
    return seeds[0] if seeds else None


def shard_from_progress_log(path: str | os.PathLike[str]) -> ShardRun:
    """The log's header holds the exact start order and the seed, even for a shard killed before its report; a
    queue job's header has no order (it learnt its tests lease by lease), its `start` lines are the order it ran."""
    log = read_progress_log(path)
    order = log.order or (log.started if log.queue_run else [])
    if not order:
        raise SharderError(f"progress log {os.fspath(path)!r} records no test order; nothing to replay")
    origin = os.fspath(path) + (f" (shard {log.shard})" if log.shard else "")
    if log.ordered_by not in (None, "plan"):  # the order is the log's own; say which mode made it
        origin += f", run --order {log.ordered_by}" if log.ordered_by != "slowest-first" else ", run slowest first"
    return ShardRun(tuple(dict.fromkeys(order)), origin, log.randomly_seed,
                    _outcomes([(test.node_id, test.outcome) for test in log.tests]), log.pytest_args)


def is_progress_log(path: str | os.PathLike[str]) -> bool:
    return os.fspath(path).endswith((PROGRESS_SUFFIX, ".jsonl"))


def find_test(ids: Sequence[str], given: str, origin: str) -> str:
    """The id the user meant: exact, else the one id ending in `/GIVEN` or `::GIVEN` (CI logs often shorten)."""
    if given in ids:
        return given
    matches = [node_id for node_id in ids if node_id.endswith(("/" + given, "::" + given))]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise SharderError(f"{given!r} matches {len(matches)} tests of {origin} ({name_some(matches, 3)}); "
                           "give the full node id")
    close = difflib.get_close_matches(given, ids, n=3, cutoff=0.6)
    hint = f"; did you mean {name_some(close, 3)}?" if close else ""
    raise SharderError(f"{given!r} is not one of the {len(ids)} tests of {origin}{hint}")


def up_to(ids: Sequence[str], last: str) -> tuple[str, ...]:
    """The ids up to and including `last` (`--until`)."""
    return tuple(ids[: ids.index(last) + 1])


def args_text(args: Sequence[str]) -> str:
    return f"`{command_text(args)}`" if args else "no pytest arguments"


def missing_cause(recorded: Sequence[str] | None, used: Sequence[str]) -> str | None:
    """The likely reason a shard's ids are not collected here, when it is not that the tests were removed: the
    shard ran with other pytest arguments (`--pyargs pkg`, paths, a -k) than this replay. None when they agree."""
    if recorded is None or list(recorded) == list(used):  # not recorded (a plan, an older report), or the same
        return None
    if not used:
        return f"the shard ran with {args_text(recorded)}; pass the same arguments after `--`"
    return f"the shard ran with {args_text(recorded)}, this replay with {args_text(used)}; pass the shard's after `--`"


def without_missing(ids: Sequence[str], collected: Sequence[str], origin: str, *, allow_missing: bool,
                    cause: str | None = None) -> list[str]:
    """Ids that are not collected here are an error naming them and the likely cause, or (allow_missing) left
    out; a replay left with none of them is refused either way: it would run nothing and call that a pass."""
    present = set(collected)
    missing = [node_id for node_id in ids if node_id not in present]
    kept = [node_id for node_id in ids if node_id in present]
    if missing and not kept:
        raise SharderError(f"none of the {len(missing)} tests of {origin} is collected here "
                           f"({name_some(missing, 3)}): {cause or 'they no longer exist here'}")
    if missing and not allow_missing:
        raise SharderError(f"{len(missing)} tests of {origin} are not collected here: {name_some(missing)}; {cause}"
                           if cause else f"{len(missing)} tests of {origin} no longer exist here: "
                           f"{name_some(missing)}; replay the rest with --allow-missing")
    return kept


def missing_from(ids: Sequence[str], kept: Sequence[str]) -> list[str]:
    keep = set(kept)
    return [node_id for node_id in ids if node_id not in keep]


def command_line(argv: Sequence[str]) -> str:
    """The command to paste (`sharder.core.command_text`): one line, the interpreter named, every id and
    argument quoted, so a hostile id stays one argument and prints no raw control character."""
    return command_text(argv)


def _xdist_loaded_by_default() -> bool:
    return not os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD") and importlib.util.find_spec("xdist") is not None


def reorder_flags(randomly_seed: int | None) -> list[str]:
    """pytest options that make a run reproducible: randomly off or on the recorded seed, and no xdist.

    `-n 0` because a project's addopts may hold `-n auto`, and workers would split the id list between them.
    With a seed, `--randomly-dont-reorganize` keeps the given order for a command that names tests as arguments
    (with an id list the plugin's order wins anyway); the per-test reseeding is unaffected by it.
    """
    flags = (["-p", "no:randomly"] if randomly_seed is None
             else ["-p", "randomly", f"--randomly-seed={randomly_seed}", "--randomly-dont-reorganize"])
    return flags + (["-n", "0"] if _xdist_loaded_by_default() else [])


def positional_ids_usable(ids: Sequence[str]) -> bool:
    """Can these ids be handed to pytest as arguments (a command a user can paste anywhere)? Not ids that pytest
    would read as an option. The shard's own pytest arguments go first, and may add tests (a path among them) or
    take some away (a -k): the caller runs the command once and keeps it only if it ran exactly these ids."""
    return all(node_id and not node_id.startswith("-") for node_id in ids)


@dataclass(frozen=True)
class Trial:
    """One pytest run made to see how one test (the victim) fares after some others."""

    name: str
    argv: tuple[str, ...]
    exit_code: int
    # passed | failed | error | skipped; "not run": the session crashed before it; "absent": not collected;
    # "no session": pytest stopped before running any test (bad arguments, an id that no longer exists, a test
    # file that does not import)
    victim_outcome: str
    order: tuple[str, ...]
    output: Path

    @property
    def victim_failed(self) -> bool:
        return self.victim_outcome in ("failed", "error", "not run")

    def require_session(self) -> Trial:
        if self.victim_outcome == "no session":
            raise SharderError(f"pytest stopped before running any test (exit {self.exit_code}): "
                               f"{_last_line(self.output)} (full output: {self.output})")
        return self


class PytestLauncher:
    """Starts pytest for replays and trials, in `cwd`, with the same reproducibility flags every time.

    Files go to `work_dir` (id lists, outputs, progress logs) and are kept, so the commands it prints stay runnable
    after sharder exits. `runs` counts every pytest process started, collection included.
    """

    def __init__(
        self, work_dir: Path, *, randomly_seed: int | None, pytest_args: Sequence[str] = (),
        cwd: str | os.PathLike[str] | None = None,
    ) -> None:
        self.work_dir = work_dir
        self.randomly_seed = randomly_seed
        self.pytest_args = list(pytest_args)
        self.cwd = cwd
        self.runs = 0
        work_dir.mkdir(parents=True, exist_ok=True)

    def write_ids(self, name: str, ids: Sequence[str]) -> Path:
        path = self.work_dir / f"{name}.ids"
        path.write_text("".join(node_id + "\n" for node_id in ids), encoding="utf-8", errors="surrogatepass")
        return path

    def ids_argv(self, ids_file: Path, extra: Sequence[str] = ()) -> list[str]:
        # `--opt=value` tokens: pytest would take a separate path argument for a test path (see runner). The
        # reproducibility flags come last, so a shard's recorded `-n 4` does not undo their `-n 0`.
        return runner.pytest_argv([f"{IDS_OPTION}={ids_file}", *extra, *self.pytest_args,
                                   *reorder_flags(self.randomly_seed)])

    def positional_argv(self, ids: Sequence[str]) -> list[str]:
        return runner.pytest_argv([*self.pytest_args, *reorder_flags(self.randomly_seed), *ids])

    def collect(self) -> list[str]:
        self.runs += 1
        return runner.collect_ids(self.pytest_args, cwd=self.cwd)

    def run_visible(self, argv: Sequence[str]) -> int:
        """pytest with the user's terminal: a replay they watch."""
        self.runs += 1
        return runner.run(argv, cwd=self.cwd)

    def trial(self, name: str, ids: Sequence[str], victim: str, *, collect_to: Path | None = None,
              argv: Sequence[str] | None = None) -> Trial:
        """Run `ids` (or the given argv) quietly, output to NAME.log, and read the victim's fate from the progress
        log: written test by test, it also tells a victim that never ran (a crash before it) from one that failed."""
        log_path = self.work_dir / f"{name}{PROGRESS_SUFFIX}"
        log_path.unlink(missing_ok=True)
        extra = [f"{PROGRESS_LOG_OPTION}={log_path}"]
        if collect_to is not None:
            extra.append(f"{COLLECT_TO_OPTION}={collect_to}")
        argv = self.ids_argv(self.write_ids(name, ids), extra) if argv is None else [*argv, *extra]
        output = self.work_dir / f"{name}.log"
        self.runs += 1
        with open(output, "wb") as sink:
            code = runner.call(argv, cwd=self.cwd, stdout=sink, stderr=subprocess.STDOUT)
        log = read_progress_log(log_path) if log_path.is_file() else None
        if log is None or not log.started:  # e.g. collection errors: pytest collects, then runs nothing
            return Trial(name, tuple(argv), code, "no session", (), output)
        outcomes = _outcomes([(test.node_id, test.outcome) for test in log.tests])
        outcome = "absent" if victim not in log.order else outcomes.get(victim, "not run")
        return Trial(name, tuple(argv), code, outcome, tuple(log.order), output)


def _last_line(output: Path) -> str:
    try:
        text = output.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "no output"
    for line in reversed(text.strip().splitlines()):
        if line.strip() and not line.startswith("="):
            return line.strip()
    return "no output"


def read_collected(path: Path) -> list[str]:
    """The ids the plugin wrote with `--sharder-collect-to` (a trial that also collected)."""
    if not path.is_file():
        raise SharderError("pytest did not collect the tests; run the replay without --bisect to see why")
    tests = json.loads(path.read_text(encoding="utf-8"))["tests"]
    return [str(node_id) for node_id in tests]
