"""The one exception type a user can cause.

Anything a user can get wrong (a bad shard string, a broken durations file, a plan that does not match the
suite) raises `SharderError` with a message meant for them; the CLI turns it into one stderr line and exit 2,
the pytest plugin into a `pytest.UsageError`. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class SharderError(Exception):
    """A problem with the user's input or environment, explained in one line."""


class Cancelled(Exception):
    """sharder was told to stop (SIGTERM, SIGHUP, SIGINT: a CI cancel) and has stopped the pytest it ran.

    Not a `SharderError`: nothing was wrong with the input. The CLI prints the message in one line and exits
    128 + the signal, as a shell reports a process that the signal ended, so CI shows the job as cancelled.
    """

    def __init__(self, signum: int, message: str) -> None:
        super().__init__(message)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum
