"""A broken durations file is refused alike by both of its readers: the store's and planning's fast one."""

from __future__ import annotations

from pathlib import Path

import pytest

from sharder.core.errors import SharderError
from sharder.durations import store
from sharder.durations.planning_input import load_planning_input


def assert_both_readers_refuse(path: Path, message: str) -> None:
    """Both readers raise the same one error, which names the file and holds `message`."""
    with pytest.raises(SharderError, match=rf"{path.name.replace('.', r'[.]')}: ") as full:
        store.load_durations(path)
    assert message in str(full.value)
    with pytest.raises(SharderError) as planning:
        load_planning_input(path)
    assert str(planning.value) == str(full.value)
