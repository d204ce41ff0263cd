"""`sharder run --queue`: what a job needs before it may join a queue, each refusal one line and exit 2."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

RunSharder = Callable[..., subprocess.CompletedProcess[str]]


def test_queue_mode_refuses_what_it_cannot_run(example_dir: Path, run_sharder: RunSharder) -> None:
    url = "redis://:s3cret@127.0.0.1:1/0"
    no_plan = run_sharder(["run", "--shard", "1/2", "--queue", url, "--queue-run", "x"], cwd=example_dir)
    assert no_plan.returncode == 2 and "queue mode needs --plan plan.json" in no_plan.stderr
    assert run_sharder(["plan", "--shards", "2", "-o", "plan.json"], cwd=example_dir).returncode == 0
    nameless = run_sharder(["run", "--shard", "1/2", "--plan", "plan.json", "--queue", url], cwd=example_dir)
    assert nameless.returncode == 2 and "outside CI needs --queue-run NAME" in nameless.stderr
    parallel = run_sharder(["run", "--shard", "1/2", "--plan", "plan.json", "--queue", url, "--queue-run", "x",
                            "--parallel", "2"], cwd=example_dir)
    assert parallel.returncode == 2 and "drop --parallel" in parallel.stderr
    not_redis = run_sharder(["run", "--shard", "1/2", "--plan", "plan.json", "--queue", "http://u:s3cret@h/",
                             "--queue-run", "x"], cwd=example_dir)
    assert not_redis.returncode == 2 and "expected redis://" in not_redis.stderr
    for done in (no_plan, nameless, parallel, not_redis):
        assert "s3cret" not in done.stdout + done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
