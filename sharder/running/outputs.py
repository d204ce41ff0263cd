"""The files one shard's run owns in its JUnit directory, and what the run does with them before and after pytest.

The report, the progress log of each pass and the coverage file count for a shard only when the run being judged
wrote them: `sharder run` removes an earlier run's (and nothing else) before it starts, names its run with one
identity, and when it stops with an error leaves a progress log saying so, for `sharder merge` to name.

Imported by the CLI at start-up: only light imports at module level.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sharder.core.errors import SharderError

HEAVY_LOG_INFIX = ".memory-intensive"


def new_run_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class OwnOutputs:
    """The files one shard's run writes into its JUnit directory: all of them the run's own, none another's."""

    junit_dir: Path
    stem: str

    @property
    def report(self) -> Path:
        return self.junit_dir / f"{self.stem}.xml"

    @property
    def main_log(self) -> Path:
        from sharder.core.progress_log import progress_log_path_for

        return progress_log_path_for(self.report)

    @property
    def heavy_log(self) -> Path:
        """The memory_intensive pass's log (`--parallel`): `shard-K-of-N.memory-intensive.progress.jsonl`."""
        main = self.main_log
        return main.with_name(self.stem + HEAVY_LOG_INFIX + main.name[len(self.stem):])

    @property
    def coverage_file(self) -> Path:
        return self.junit_dir / f"{self.stem}.coverage"

    def clear(self) -> None:
        """Remove what an earlier run of this shard left, before this run starts: a run that dies, or refuses,
        writes none of these, and last run's report must not pass for this one's. The heavy pass's log goes even
        when this run is sequential (an earlier `--parallel` run left it)."""
        for path in (self.report, self.main_log, self.heavy_log, self.coverage_file):
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except IsADirectoryError:
                raise SharderError(f"{os.fspath(path)!r} is a directory; this shard's run writes a file there") from None
            except OSError as exc:
                raise SharderError(f"cannot remove {os.fspath(path)!r}, left by an earlier run of this shard: "
                                   f"{exc.strerror}") from None

    def record_refusal(self, message: str, *, shard: Any, run_id: str, pytest_args: Sequence[str],
                       plan_path: str | None, log: Path | None = None, ci_attempt: int | None = None) -> None:
        """Leave the error in the shard's progress log, so the merge names it for the shard's tests (instead of
        listing them as never reported, with no reason). A log pytest already wrote gets the error appended; a
        directory that cannot be written keeps nothing, and the error still reaches stderr."""
        from sharder.core.atomic import atomic_write_bytes
        from sharder.core.progress_log import ERROR_EVENT, encode_event, error_log_bytes

        target = log or self.main_log
        try:
            if target.is_file():
                with open(target, "ab") as handle:
                    handle.write(encode_event({"event": ERROR_EVENT, "message": message}))
                return
            header: dict[str, Any] = {"shard": str(shard) if shard is not None else None, "run_id": run_id,
                                      "pytest_args": list(pytest_args), "report": self.report.name,
                                      "pid": os.getpid(), "ci_attempt": ci_attempt,
                                      "started_at": round(time.time(), 3), **_plan_identity(plan_path, shard)}
            atomic_write_bytes(target, error_log_bytes(header, message))
        except OSError:
            pass


def _plan_identity(plan_path: str | None, shard: Any) -> dict[str, Any]:
    """The plan's id and sizes for a refusal's header, when its file reads (the merge then knows what was planned)."""
    if not plan_path or shard is None:
        return {}
    from sharder.planning.plan import read_plan

    try:
        plan = read_plan(plan_path)
        plan.bin_for(shard)
    except (SharderError, OSError):
        return {}
    return {"plan_id": plan.plan_id, "plan_sizes": [len(shard_bin.tests) for shard_bin in plan.bins]}
