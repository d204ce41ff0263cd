"""`sharder local --html` on real suites, the page opened in a real headless Chromium (`tests/reports/browser.py`).

One browser and one run of each suite per module: the example suite split in 3 (plus one failing test, so a
failure can be clicked) and a hostile suite whose test ids are markup, script and line separators.
Screenshots go to `$SHARDER_SCREENSHOT_DIR` when it is set.
"""

from __future__ import annotations

import html.parser
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sharder.example import copy_example
from sharder.planning.plan import read_plan
from sharder.reports.html_report import render_html
from sharder.reports.inputs import collect, resolve_identity
from sharder.reports.verdict import judge
from tests.example_runs import planned_and_run_example, sharder
from tests.reports.browser import Browser, Page, chromium_or_skip

BROKEN = "tests/test_broken.py::test_broken"
BROKEN_MESSAGE = "the shard count was 'shard' and not 'shards'"

HOSTILE_IDS = [
    "<img src=x onerror=alert(1)>",
    "</script><script>alert(1)</script>",
    "<img src=x onerror=console.log(7)>",
    "line\u2028sep\u2029end",
    "quote\"'`${x}",
]
HOSTILE_MESSAGE = "<script>alert(2)</script><img src=x onerror=alert(3)>"
HOSTILE_SUITE = f'''import pytest

HOSTILE = {HOSTILE_IDS!r}


@pytest.mark.parametrize("name", HOSTILE, ids=HOSTILE)
def test_hostile(name):
    assert name


def test_fails(record_property):
    record_property("sharder_peak_rss_mb", 212.5)  # what conftest_lib's memory sampling records
    raise AssertionError({HOSTILE_MESSAGE!r})
'''


def _run_local(root: Path, shards: int) -> Path:
    report = root / "report.html"
    result = sharder(["local", "--shards", str(shards), "--jobs", "2", "--html", str(report), "--",
                      "-p", "no:randomly"], cwd=root)
    assert result.returncode == 1, result.stdout + result.stderr  # each suite holds one failing test
    assert f"HTML report written to {report}" in result.stdout
    return report


@pytest.fixture(scope="module")
def example_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_example(tmp_path_factory.mktemp("html") / "example")
    (root / "tests" / "test_broken.py").write_text(f"def test_broken():\n    raise AssertionError({BROKEN_MESSAGE!r})\n")
    return _run_local(root, 3)


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    (root / "pytest.ini").write_text("[pytest]\ndisable_test_id_escaping_and_forfeit_all_rights_to_community_support"
                                     " = true\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_hostile.py").write_text(HOSTILE_SUITE, encoding="utf-8")
    return _run_local(root, 2)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with Browser(chromium_or_skip()) as running:
        yield running


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    opened = browser.page()
    yield opened
    opened.close()


def _screenshot(page: Page, name: str) -> None:
    directory = os.environ.get("SHARDER_SCREENSHOT_DIR")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        page.screenshot(Path(directory) / name)


def _planned(report: Path) -> list[tuple[str, ...]]:
    return [shard_bin.tests for shard_bin in read_plan(report.parent / "reports" / "plan.json").bins]


def _hover_text(page: Page, selector_index: int) -> str:
    box = page.evaluate(f"""(() => {{ const r = document.querySelectorAll('.bar')[{selector_index}]
        .getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; }})()""")
    page.mouse("mouseMoved", *box)
    text: str = page.evaluate("document.getElementById('tip').hidden ? '' : document.getElementById('tip').textContent")
    return text


def _no_outside_effects(page: Page, report: Path) -> None:
    """No dialog, no console message, no browser log entry (a CSP refusal is one), no request but the page's."""
    assert page.events("Page.javascriptDialogOpening") == []
    assert page.events("Runtime.consoleAPICalled") == []
    assert page.events("Runtime.exceptionThrown") == []
    assert [event["params"]["entry"]["text"] for event in page.events("Log.entryAdded")] == []
    requests = [event["params"]["request"]["url"] for event in page.events("Network.requestWillBeSent")]
    assert requests == [report.resolve().as_uri()]


def test_one_lane_per_shard_one_bar_per_test_and_hover_names_the_test(example_report: Path, page: Page) -> None:
    page.open(example_report)
    _screenshot(page, "example-3-shards.png")
    planned = _planned(example_report)
    lanes = page.evaluate("[...document.querySelectorAll('.lane')].map(l => [l.dataset.lane, "
                          "[...l.querySelectorAll('.bar')].map(b => b.dataset.nodeid)])")
    assert [label for label, _ in lanes] == ["shard 1/3", "shard 2/3", "shard 3/3"]
    assert [sorted(bars) for _, bars in lanes] == [sorted(tests) for tests in planned]
    assert page.evaluate("document.querySelectorAll('.bar').length") == sum(map(len, planned))
    # each lane's fixed cost before its first test is a segment of its own, as is the predicted time marker
    assert page.evaluate("document.querySelectorAll('.seg.fixed').length") >= 3
    assert page.evaluate("document.querySelectorAll('.marker').length") == 3
    assert page.evaluate("document.getElementById('bound') !== null")
    wide = page.evaluate("[...document.querySelectorAll('.bar')].map((b, i) => [i, b.getBoundingClientRect().width])"
                         ".filter(([i, w]) => w >= 3).map(([i]) => i)")
    assert len(wide) >= 10  # the example's tests that are a few pixels wide or more: each one hovered
    for index in wide:
        node_id = page.evaluate(f"document.querySelectorAll('.bar')[{index}].dataset.nodeid")
        assert _hover_text(page, index).split("\n")[0] == node_id
    assert "peak memory" in _hover_text(page, 0)
    _no_outside_effects(page, example_report)


def test_clicking_a_failure_shows_its_message(example_report: Path, page: Page) -> None:
    page.open(example_report)
    index = page.evaluate("[...document.querySelectorAll('.bar')].findIndex(b => b.dataset.outcome === 'failed')")
    assert page.evaluate(f"document.querySelectorAll('.bar')[{index}].dataset.nodeid") == BROKEN
    assert page.evaluate("document.getElementById('detail').hidden")
    box = page.evaluate(f"""(() => {{ const r = document.querySelectorAll('.bar')[{index}].getBoundingClientRect();
        return [r.left + r.width / 2, r.top + r.height / 2]; }})()""")
    page.click(*box)
    assert not page.evaluate("document.getElementById('detail').hidden")
    assert page.evaluate("document.getElementById('detail-title').textContent") == BROKEN
    assert BROKEN_MESSAGE in page.evaluate("document.getElementById('detail-message').textContent")
    assert BROKEN_MESSAGE in page.evaluate("document.querySelector('.failures').textContent")


def test_large_runs_draw_on_canvas_and_hover_still_names_the_test(
    example_report: Path, page: Page, tmp_path: Path,
) -> None:
    """The drawing a 100,000-test run gets (canvases, tiny tests merged into blocks), forced on the example."""
    reports = example_report.parent / "reports"
    plan = read_plan(reports / "plan.json")
    inputs = collect([reports / f"shard-{k}-of-3.xml" for k in (1, 2, 3)], plan)
    result = judge(inputs, resolve_identity(inputs, plan))
    canvas_page = tmp_path / "canvas.html"
    canvas_page.write_text(render_html(result, inputs, dom_bar_limit=0), encoding="utf-8")
    page.open(canvas_page)
    assert page.evaluate("document.querySelectorAll('.bar').length") == 0
    assert page.evaluate("document.querySelectorAll('.lane canvas').length") == 3
    painted = page.evaluate("""[...document.querySelectorAll('.lane canvas')].map(c => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
        for (let i = 3; i < d.length; i += 4) { if (d[i]) n++; } return n; })""")
    assert all(count > 0 for count in painted)
    # the longest test of shard 1, hovered at its middle
    point = page.evaluate("""(() => {
        const data = JSON.parse(document.getElementById('sharder-data').textContent), lane = data.lanes[0];
        let best = 0; lane.d.forEach((d, i) => { if (d > lane.d[best]) best = i; });
        const total = Math.max(...data.lanes.map(l => Math.max(l.end, l.predicted || 0)), data.lower_bound || 0);
        const rect = document.querySelectorAll('.track')[0].getBoundingClientRect();
        const x = rect.left + (lane.s[best] + lane.d[best] / 2) / (total * 1.02) * rect.width;
        const name = lane.f[best] >= 0 ? data.files[lane.f[best]] + '::' + lane.n[best] : lane.n[best];
        return [x, rect.top + 2 + lane.r[best] * 18 + 9, name]; })()""")
    page.mouse("mouseMoved", point[0], point[1])
    assert page.evaluate("document.getElementById('tip').textContent").split("\n")[0] == point[2]
    _no_outside_effects(page, canvas_page)


class _Elements(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, Any]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_hostile_test_names_stay_text_in_the_file(hostile_report: Path) -> None:
    text = hostile_report.read_text(encoding="utf-8")
    parser = _Elements()
    parser.feed(text)
    tags = [tag for tag, _ in parser.tags]
    assert tags.count("script") == 2 and "img" not in tags
    start = text.index('<script type="application/json" id="sharder-data">') + len(
        '<script type="application/json" id="sharder-data">')
    embedded = text[start:text.index("</script>", start)]
    assert embedded.isascii() and not {"<", ">", "&"} & set(embedded)  # U+2028 and U+2029 included: escapes
    data = json.loads(embedded)
    names = {data["files"][f] + "::" + n for lane in data["lanes"] for f, n in zip(lane["f"], lane["n"], strict=True)}
    assert names == {f"tests/test_hostile.py::test_hostile[{name}]" for name in HOSTILE_IDS} | {
        "tests/test_hostile.py::test_fails"}


def test_hostile_test_names_execute_nothing_in_the_browser(hostile_report: Path, page: Page) -> None:
    page.open(hostile_report)
    _screenshot(page, "hostile.png")
    assert page.evaluate("document.body.dataset.rendered !== undefined")  # the page's own script did run
    shown = set(page.evaluate("[...document.querySelectorAll('.bar')].map(b => b.dataset.nodeid)"))
    assert shown == {f"tests/test_hostile.py::test_hostile[{name}]" for name in HOSTILE_IDS} | {
        "tests/test_hostile.py::test_fails"}
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert page.evaluate("document.scripts.length") == 2
    failures = page.evaluate("document.querySelector('.failures').textContent")
    assert HOSTILE_MESSAGE in failures  # shown as text
    index = page.evaluate("[...document.querySelectorAll('.bar')].findIndex(b => b.dataset.outcome === 'failed')")
    box = page.evaluate(f"""(() => {{ const r = document.querySelectorAll('.bar')[{index}].getBoundingClientRect();
        return [r.left + r.width / 2, r.top + r.height / 2]; }})()""")
    page.click(*box)
    assert HOSTILE_MESSAGE in page.evaluate("document.getElementById('detail-message').textContent")
    assert "peak memory: 212.5 MB" in page.evaluate("document.getElementById('tip').textContent")
    for position in range(len(shown)):
        assert _hover_text(page, position).split("\n")[0] in shown
    policy = page.evaluate("document.querySelector('meta[http-equiv=\"Content-Security-Policy\"]').content")
    assert policy.startswith("default-src 'none';")
    _no_outside_effects(page, hostile_report)


def test_a_report_without_progress_log_is_placed_by_order_and_the_page_says_so(tmp_path: Path) -> None:
    (tmp_path / "junit.xml").write_text(
        '<testsuite name="other" tests="2" failures="1"><testcase classname="t.test_a" name="test_one" time="0.5"/>'
        '<testcase classname="t.test_a" name="test_two" time="1.5"><failure message="no">boom</failure></testcase>'
        "</testsuite>", encoding="utf-8")
    result = sharder(["merge", "junit.xml", "--html", "out.html"], cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    text = (tmp_path / "out.html").read_text(encoding="utf-8")
    assert "no progress-log times for junit: their tests are placed one after another in report order" in text
    start = text.index('id="sharder-data">') + len('id="sharder-data">')
    (lane,) = json.loads(text[start:text.index("</script>", start)])["lanes"]
    assert lane["timed"] is False and lane["s"] == [0, 5000] and lane["d"] == [5000, 15000]  # 0.1 ms ticks


def test_a_shard_that_sent_nothing_keeps_its_empty_lane_with_its_status(example_report: Path, tmp_path: Path) -> None:
    reports = example_report.parent / "reports"
    plan = read_plan(reports / "plan.json")
    inputs = collect([reports / "shard-1-of-3.xml", reports / "shard-3-of-3.xml"], plan)  # shard 2 sent nothing
    result = judge(inputs, resolve_identity(inputs, plan))
    text = render_html(result, inputs)
    start = text.index('id="sharder-data">') + len('id="sharder-data">')
    lanes = json.loads(text[start:text.index("</script>", start)])["lanes"]
    status = {shard.label: shard.status for shard in result.shards}
    assert [(lane["label"], lane["status"], len(lane["n"])) for lane in lanes] == [
        ("shard 1/3", status["1/3"], len(plan.bins[0].tests)), ("shard 2/3", "no report", 0),
        ("shard 3/3", status["3/3"], len(plan.bins[2].tests))]
    assert lanes[1]["predicted"] == round(plan.bins[1].predicted_seconds / 1e-4)


def test_what_each_job_paid_outside_pytest_is_drawn_after_its_lane(tmp_path: Path, page: Page) -> None:
    """Shards run by `sharder run` log the time outside their session (its own start, pytest's exit): each lane
    ends with it, so the lane is as long as the job, the wall its prediction is for."""
    root = planned_and_run_example(tmp_path, 2)
    result = sharder(["merge", "--plan", "plan.json", "--html", "out.html", "reports"], cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    text = (root / "out.html").read_text(encoding="utf-8")
    start = text.index('id="sharder-data">') + len('id="sharder-data">')
    lanes = json.loads(text[start:text.index("</script>", start)])["lanes"]
    assert [lane["outside"] > 0 for lane in lanes] == [True, True], lanes
    page.open(root / "out.html")
    _screenshot(page, "outside-pytest.png")
    segments = page.evaluate("[...document.querySelectorAll('.seg.outside')].map(s => [+s.dataset.start, "
                             "+s.dataset.end, s.getBoundingClientRect().width])")
    assert [(begin, end) for begin, end, _ in segments] == [(lane["end"], lane["end"] + lane["outside"])
                                                             for lane in lanes]
    assert all(width >= 1 for _, _, width in segments)
