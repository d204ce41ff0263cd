"""bench/bounds.py still runs (a small N, this checkout only): measured, not tested, but a benchmark that crashes
measures nothing."""

import subprocess
import sys

from tests.paths import REPO


def test_bounds_runs_and_refuses_the_endless_inputs() -> None:
    result = subprocess.run([sys.executable, str(REPO / "bench" / "bounds.py"), "--shards", "2000"],
                            capture_output=True, text=True, timeout=300, check=False, cwd=REPO)
    assert result.returncode == 0, result.stderr + result.stdout
    rows = [line for line in result.stdout.splitlines() if line.startswith("after")]
    assert len(rows) == 4
    assert "exit 0: 16 lines of table" in rows[0]
    assert "is a FIFO (named pipe)" in rows[2] and "(a symlink to '/dev/zero')" in rows[3]
