"""The one read-modify-write of the store: under the lock, on the store as it is on disk now; and no writer
of the store anywhere else."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from sharder.core.errors import SharderError
from sharder.durations import store
from sharder.stores.lock import lock_path
from sharder.stores.update import update_durations
from tests.paths import REPO


def test_update_rereads_under_the_lock_and_writes_only_a_change(tmp_path: Path) -> None:
    path = tmp_path / "durations.json"
    store.save_durations(path, store.Durations({"a": store.TestTiming(1.0)}))

    def add(name: str):  # type: ignore[no-untyped-def]
        def change(recorded: store.Durations) -> tuple[store.Durations | None, int]:
            return store.updated(recorded, {name: store.Observation(2.0)}), len(recorded.tests)
        return change

    assert update_durations(path, add("b")) == 1
    assert update_durations(path, add("c")) == 2  # saw b: the store as it is on disk, not as it was
    assert sorted(store.load_durations(path).tests) == ["a", "b", "c"]
    written = path.read_bytes()
    assert update_durations(path, lambda recorded: (None, "kept")) == "kept" and path.read_bytes() == written

    def refuse(recorded: store.Durations) -> tuple[store.Durations | None, None]:
        raise SharderError("bad report")

    with pytest.raises(SharderError, match="bad report"):
        update_durations(path, refuse)
    assert path.read_bytes() == written and not lock_path(path).exists()


def test_no_other_module_writes_the_store() -> None:
    """Every `save_durations` call is update_durations' own: a writer elsewhere would skip the lock and the
    re-read, and lose a concurrent update again."""
    callers = []
    for path in sorted((REPO / "sharder").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "save_durations":
                callers.append(path.relative_to(REPO).as_posix())
    assert callers == ["sharder/stores/update.py"]
