"""queue_units: the plan's grouping decides what stays together; recorded seconds, else estimates."""

from __future__ import annotations

from sharder.planning.queue_units import queue_units

IDS = ["a.py::t1", "a.py::T::t2", "a.py::T::t3", "b.py::t4"]


def test_tests_stay_together_as_the_plan_grouped_them() -> None:
    known = {"a.py::t1": 1.0, "a.py::T::t2": 2.0, "a.py::T::t3": 3.0, "b.py::t4": 4.0}
    assert queue_units(IDS, known, "test") == [((node_id,), known[node_id]) for node_id in IDS]
    assert queue_units(IDS, known, "class") == [(("a.py::t1",), 1.0), (("a.py::T::t2", "a.py::T::t3"), 5.0),
                                                (("b.py::t4",), 4.0)]
    assert queue_units(IDS, known, "module") == [(tuple(IDS[:3]), 6.0), (("b.py::t4",), 4.0)]


def test_an_unrecorded_test_is_estimated_not_free() -> None:
    units = dict(queue_units(IDS, {"a.py::t1": 2.0, "a.py::T::t2": 2.0}, "test"))
    assert units[("b.py::t4",)] > 0 and units[("a.py::T::t3",)] > 0
