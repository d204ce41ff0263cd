"""Names of the `<property>` entries sharder's plugin writes into JUnit reports, and the keys given to cases that
carry none (no imports at load time, so the plugin, the readers and the CI layer can share them cheaply)."""

NODEID_PROPERTY = "sharder_nodeid"
SHARD_PROPERTY = "sharder_shard"
ORDER_PROPERTY = "sharder_order"
PEAK_RSS_PROPERTY = "sharder_peak_rss_mb"
SETUP_PROPERTY = "sharder_setup_seconds"
PLAN_ID_PROPERTY = "sharder_plan_id"
# On the suite: how many tests each shard of the plan holds ("12,12,11"), so a merge without the plan file
# still knows how big a shard that sent nothing was; and the plan's predicted seconds for this shard.
PLAN_SIZES_PROPERTY = "sharder_plan_sizes"
PREDICTED_SECONDS_PROPERTY = "sharder_predicted_seconds"
# Written by `sharder merge` on its output, so a later merge of the same directory skips it.
MERGED_PROPERTY = "sharder_merged"
# On a merged case that came from a progress log, not a JUnit report (its shard died before writing one).
RECOVERED_PROPERTY = "sharder_recovered_from"
# On the suite: the seed pytest-randomly used, so `sharder replay` reseeds every test as CI did.
RANDOMLY_SEED_PROPERTY = "sharder_randomly_seed"
# On the suite: the identity of the run that wrote the report (a uuid per `sharder run`, else per pytest session),
# the same as its progress log's header: a merge takes a report for its shard only when the two agree, so a report
# an earlier run left in the directory cannot stand in for a run that died.
RUN_ID_PROPERTY = "sharder_run_id"
# On the suite, beside the run id: which attempt of the CI job wrote it (GitHub's `GITHUB_RUN_ATTEMPT`, 1 for a
# first run and for a run outside CI), so a merge of every attempt's reports takes each shard's latest as its verdict.
CI_ATTEMPT_PROPERTY = "sharder_ci_attempt"
# On the suite: the pytest arguments the shard was given (after `sharder run ... --`), as a JSON list of strings, so
# `sharder replay` runs the same selection (`--pyargs pkg`, `-k expr`, a rootdir's paths) without being told.
PYTEST_ARGS_PROPERTY = "sharder_pytest_args"
# On the suite, only when it happened: how many tests the shard would have run had its pytest arguments (-k, -m,
# --deselect) not deselected every one of them; such a shard ran nothing and is not a pass.
ALL_DESELECTED_PROPERTY = "sharder_all_deselected"
# On the suite, in queue mode: the queue run the job took its tests from, and what the queue knew at the job's end:
# the tests that went back to it from an expired lease (JSON list) and the causes, tests never leased again after
# two jobs died running them (JSON object: id -> expired leases). A merge unions them over the run's reports.
QUEUE_RUN_PROPERTY = "sharder_queue_run"
QUEUE_RELEASED_PROPERTY = "sharder_queue_released"
QUEUE_CAUSES_PROPERTY = "sharder_queue_causes"


# ---------------------------------------------------------------------------------------------- case keys
# What a case is called when it carries no `sharder_nodeid` and no known id matches it. Pure string work (only
# `sharder.core.nodeid`, itself import-free, is imported), so the plugin still loads this module for nothing.


def xunit1_classes(file: str, classname: str) -> list[str] | None:
    """The class names in `classname` after the dotted module path of `file`, or None when the two do not match.

    xunit1 reports (pytest `-o junit_family=xunit1`, unittest-xml-reporting) name a case by `file` and a
    classname `tests.test_dup.TestAlpha`: the file gives the path a node id needs, and only the classname still
    holds the class. The module's dotted path is `forward_key`'s, the mapping node id -> classname pytest
    itself uses, so the two directions cannot disagree. A file given from another root (`src/tests/test_x.py`
    beside `tests.test_x.TestA`) matches on its longest trailing run of path parts.
    """
    from sharder.core.nodeid import forward_key

    module_parts = forward_key(f"{file}::_")[0].split(".")
    class_parts = classname.split(".") if classname else []
    for start in range(len(module_parts)):
        suffix = module_parts[start:]
        if class_parts[:len(suffix)] == suffix:
            return class_parts[len(suffix):]
    return None


def fallback_key(classname: str, name: str, file: str | None) -> str:
    """A case's key from its attributes alone: `file::Class::Nested::name` when a file is given and its classname
    carries the module (xunit1), else `classname::name` (or `file::name` without a classname), as foreign reports
    have always been keyed.

    A file that does not match the classname is where the method was *defined*, not the test: pytest's xunit1
    writes `file="tests/base.py"` for `TestA.test_value` inherited from a base class there, for `TestB`'s too. Keyed
    by that file, both were one id, the second a "rerun" of the first, and a failure came out flaky and green;
    the classname names the test's own module and class, and plans match `classname::name` to node ids."""
    if file:
        file = file.replace("\\", "/")  # pytest on Windows writes the file with os.sep; node ids use "/"
        classes = xunit1_classes(file, classname)
        if classes is not None or not _python_test_elsewhere(file, classname):
            return "::".join([file, *(classes or []), name])
    return f"{classname}::{name}" if classname else name


def _python_test_elsewhere(file: str, classname: str) -> bool:
    """A Python file beside a dotted Python classname of another module: the method's defining file, not the
    test's (jest-junit's `file` beside a describe title is the test's file, and keeps keying it)."""
    return file.endswith(".py") and bool(classname) and all(part.isidentifier() for part in classname.split("."))


def suite_labels(suites: list[tuple[str, str]]) -> list[str]:
    """A label per suite (given as (name, hostname)) that tells apart suites holding the same case key.

    Playwright writes one `<testsuite>` per file and project, telling the projects apart only by `hostname`
    (`chromium`, `firefox`); jest-junit may give two files' suites the same name. The label is the suite name
    when the names differ, else the hostname, else both, and the suite's ordinal among its look-alikes (`#2`)
    when nothing tells them apart: always the same labels for the same report.
    """
    for fields in ((0,), (1,), (0, 1)):
        labels = [" ".join(suite[index] for index in fields if suite[index]) for suite in suites]
        if all(labels) and len(set(labels)) == len(labels):
            return labels
    varying = [index for index in (0, 1) if len({suite[index] for suite in suites}) > 1]
    seen: dict[str, int] = {}
    numbered: list[str] = []
    for suite in suites:
        label = " ".join(suite[index] for index in varying if suite[index])
        seen[label] = seen.get(label, 0) + 1
        numbered.append(f"{label} #{seen[label]}".strip())
    return numbered
