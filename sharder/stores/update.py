"""The one way to change a durations store: under its lock, re-read it, apply the change, write it atomically.

`sharder rebalance`, `sharder record` (the plugin at the end of the session) and `record --from-junit` all come
through here, so two of them at once on one `durations.json` each see the other's update instead of writing over
it. The change is given the store as it is on disk now, not as it was when the command started: whatever the
command decided from an earlier read is decided again.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

from sharder.durations import store
from sharder.stores.lock import store_lock

T = TypeVar("T")

# What a change returns: the store to write (None: write nothing) and what the caller wants to report.
Change = Callable[[store.Durations], "tuple[store.Durations | None, T]"]


def update_durations(path: str | os.PathLike[str], change: Change[T], *, timeout: float | None = None) -> T:
    """Apply `change` to the store at `path` (absent: an empty store) while holding its lock."""
    with store_lock(path, timeout):
        recorded = store.load_durations_if_present(path)
        updated, result = change(recorded)
        if updated is not None:
            store.save_durations(path, updated)
    return result
