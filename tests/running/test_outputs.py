"""The files a shard's run owns (`sharder.running.outputs`): a real `python -m sharder run` into a reports directory
that an earlier run, and other shards, left files in."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from sharder.core.progress_log import read_progress_log

pytestmark = pytest.mark.integration

RunSharder = Callable[..., subprocess.CompletedProcess[str]]


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_a_run_first_removes_its_shards_earlier_outputs_and_only_those(tmp_path: Path,
                                                                      run_sharder: RunSharder) -> None:
    """Even a run that stops at once (a bad flag) leaves none of last run's files to stand in for it, and a
    progress log naming its error; other shards' files and anything else in the directory stay."""
    root = _write(tmp_path, {"pytest.ini": "[pytest]\n", "tests/test_light.py": "def test_light():\n    pass\n"})
    reports = root / "reports"
    earlier = ["shard-1-of-2.xml", "shard-1-of-2.progress.jsonl", "shard-1-of-2.memory-intensive.progress.jsonl",
               "shard-1-of-2.coverage"]
    others = ["shard-2-of-2.xml", "shard-2-of-2.progress.jsonl", "shard-1-of-2.log", "notes.txt"]
    _write(reports, {name: "from an earlier run\n" for name in [*earlier, *others]})
    refused = run_sharder(["run", "--shard", "1/2", "--timeout", "0", "--", "-k", "light"], root)
    assert refused.returncode == 2
    assert sorted(path.name for path in reports.iterdir()) == sorted([*others, "shard-1-of-2.progress.jsonl"])
    assert all((reports / name).read_text() == "from an earlier run\n" for name in others)
    log = read_progress_log(reports / "shard-1-of-2.progress.jsonl")
    assert log.error == "sharder run: --timeout '0': must be more than 0 seconds (leave it unset for no timeout)"
    assert str(log.shard) == "1/2" and log.pytest_args == ("-k", "light") and log.run_id and log.order == []


def test_an_output_path_that_cannot_be_cleared_stops_the_run_with_one_line(tmp_path: Path,
                                                                         run_sharder: RunSharder) -> None:
    root = _write(tmp_path, {"pytest.ini": "[pytest]\n", "tests/test_light.py": "def test_light():\n    pass\n"})
    (root / "reports" / "shard-1-of-1.xml").mkdir(parents=True)
    refused = run_sharder(["run", "--shard", "1/1"], root)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines() == [
        "sharder run: error: 'reports/shard-1-of-1.xml' is a directory; this shard's run writes a file there"]
    assert not (root / "reports" / "shard-1-of-1.progress.jsonl").exists()  # nothing ran, nothing claimed
