"""`sharder run --queue URL`: whether this job leases its tests from the run's Redis queue, and what its pytest is
told (the queue run's namespace and the lease length as options, the URL only through the environment, so a
password never stands on a command line or in a log line).

Redis unreachable when the job starts: `--queue-fallback static` (the default) says so and runs the job's shard of
the plan, as without a queue; `fail` stops with exit 2. Either way no test is lost: a static job's tests and the
queue's are merged by test id, and the merge judges completeness against the plan.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from sharder.core.errors import SharderError
from sharder.pytest_plugin.options import QUEUE_LEASE_OPTION, QUEUE_RUN_OPTION, QUEUE_URL_ENV

FALLBACKS = ("static", "fail")
QUEUE_RUN_ENV = "SHARDER_QUEUE_RUN"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("queue mode (jobs pull batches from a shared Redis queue)")
    group.add_argument("--queue", metavar="URL",
                       help=f"lease this job's tests from the run's queue at redis://HOST:PORT/DB (or rediss://, "
                       f"unix://); default ${QUEUE_URL_ENV}, else [tool.sharder] queue; needs --plan")
    group.add_argument("--queue-fallback", choices=FALLBACKS,
                       help="when Redis cannot be reached at start: run this job's shard of the plan (static, the "
                       "default) or fail")
    group.add_argument("--queue-run", metavar="NAME",
                       help=f"names the queue run beside the CI run's identity (default ${QUEUE_RUN_ENV}); needed "
                       "outside CI, and to keep two queue runs of one CI run apart (a matrix of Pythons)")
    group.add_argument("--queue-lease", metavar="SECONDS", type=float,
                       help="how long a job's lease lasts without a heartbeat before another job takes over its "
                       "tests (default 60)")


@dataclass(frozen=True)
class QueueJoin:
    """A reachable queue this job leases from: the options and the environment its pytest gets."""

    url: str
    namespace: str
    lease_seconds: float | None = None

    def pytest_args(self) -> list[str]:
        args = [f"{QUEUE_RUN_OPTION}={self.namespace}"]
        if self.lease_seconds is not None:
            args.append(f"{QUEUE_LEASE_OPTION}={self.lease_seconds:g}")
        return args

    def env(self) -> dict[str, str]:
        return {QUEUE_URL_ENV: self.url}


def requested_url(flag: str | None, configured: str | None) -> str | None:
    return flag or os.environ.get(QUEUE_URL_ENV) or configured or None


def join(url: str, identity: Sequence[str | None], *, fallback: str, lease_seconds: float | None,
         label: str) -> QueueJoin | None:
    """The queue to lease from, or None for the static fallback (said on stdout); `fallback=fail` raises."""
    from sharder.queue.connection import check_url, connect, redacted
    from sharder.queue.lease_queue import QueueUnreachable, run_namespace

    check_url(url)
    if lease_seconds is not None and not 0.5 <= lease_seconds <= 24 * 3600:
        raise SharderError(f"--queue-lease {lease_seconds:g}: expected seconds from 0.5 to 86400")
    namespace = run_namespace(identity)
    try:
        connect(url).close()
    except QueueUnreachable as exc:
        if fallback == "fail":
            raise SharderError(f"{exc} (--queue-fallback fail)") from None
        print(f"sharder run: {exc}; running {label} of the plan instead (--queue-fallback static)",
              file=sys.stderr, flush=True)
        return None
    print(f"sharder run: {label} leases its tests from queue run {namespace} at {redacted(url)}", flush=True)
    return QueueJoin(url, namespace, lease_seconds)
