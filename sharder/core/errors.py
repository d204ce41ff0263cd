"""The one exception type a user can cause.

Anything a user can get wrong (a bad shard string, a broken durations file, a plan that does not match the
suite) raises `SharderError` with a message meant for them; the CLI turns it into one stderr line and exit 2,
the pytest plugin into a `pytest.UsageError`. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class SharderError(Exception):
    """A problem with the user's input or environment, explained in one line."""
