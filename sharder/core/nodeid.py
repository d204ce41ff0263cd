"""Taking pytest node ids apart without being fooled by what parametrization puts in them.

A node id is `path::Class::Nested::test[params]`. The parameter part may itself hold `::`, `/`, `[` or any
unicode (`test_x[a::b]`, `test_y[http://h/p]`), so it is cut off before splitting on `::`.
"""

from __future__ import annotations

from typing import NamedTuple


class NodeIdParts(NamedTuple):
    path: str
    classes: tuple[str, ...]
    function: str
    params: str  # including the brackets, or "" when not parametrized


def split_params(node_id: str) -> tuple[str, str]:
    """Return (`path::Class::test`, `[params]`) for a node id."""
    first_sep = node_id.find("::")
    if first_sep < 0:
        return node_id, ""
    bracket = node_id.find("[", first_sep)
    if bracket < 0 or not node_id.endswith("]"):
        return node_id, ""
    return node_id[:bracket], node_id[bracket:]


def parse_node_id(node_id: str) -> NodeIdParts:
    base, params = split_params(node_id)
    pieces = base.split("::")
    if len(pieces) == 1:
        return NodeIdParts(pieces[0], (), "", params)
    return NodeIdParts(pieces[0], tuple(pieces[1:-1]), pieces[-1], params)


def forward_key(node_id: str) -> tuple[str, str]:
    """(classname, name) that pytest's JUnit writer gives this node id: the path without `.py`, slashes turned
    to dots, then the classes (`tests/io/test_x.py::TestA::test_b[1]` -> (`tests.io.test_x.TestA`, `test_b[1]`)).
    Other runners (unittest-xml-reporting, nose2) name cases the same way."""
    parts = parse_node_id(node_id)
    path = parts.path[:-3] if parts.path.endswith(".py") else parts.path
    classname = ".".join([path.replace("/", "."), *parts.classes])
    return classname, parts.function + parts.params


def module_of(node_id: str) -> str:
    """The file part of a node id (everything before the first `::`)."""
    sep = node_id.find("::")
    return node_id if sep < 0 else node_id[:sep]


def class_of(node_id: str) -> str:
    """The innermost class scope (`path::A::B`), or the module when the test is a plain function."""
    parts = parse_node_id(node_id)
    if not parts.classes:
        return parts.path
    return "::".join((parts.path, *parts.classes))


def family_of(node_id: str) -> str:
    """The test function without its parameters: all `test_x[...]` cases share one family."""
    return split_params(node_id)[0]


def directories_of(path: str) -> list[str]:
    """Enclosing directories of a file path, innermost first (`a/b/c.py` -> `a/b`, `a`, ``)."""
    out: list[str] = []
    while "/" in path:
        path = path.rsplit("/", 1)[0]
        out.append(path)
    out.append("")
    return out
