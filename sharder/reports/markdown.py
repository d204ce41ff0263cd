"""Test-derived text placed in GitHub-flavoured Markdown so that it stays text: no HTML, no structure of its own.

A failure message or a node id is written by the suite (or by any JUnit producer). Left raw in a summary, a line
of four backticks closes the fence it sits in and `</li></ul><details>` or an unclosed `<!--` (which hides the rest
of the page) follows as HTML; a CR ends a line as LF does, so an id could start a heading or a list of its own.
The rules, from CommonMark (0.31) and GFM's tables:

- Every value is put on one line first (`one_line`: CR, LF and other controls become visible escapes).
- A code span's backtick string is longer than any backtick run inside it; one space pads each side when the
  content begins or ends with a backtick, or begins *and* ends with a space (CommonMark strips one from each).
  Inside a span nothing else is read: no HTML, no escapes, no entities.
- A fenced code block's fence is longer than any backtick run in its lines, so no line can close it early.
- Text outside code has every ASCII punctuation character backslash-escaped (CommonMark lets any of them be), so
  `<`, `&`, `*`, `[` or a leading `#` or `-` are shown, never read; a pipe is written `&#124;`, which a GFM table
  does not split on, whatever backslashes come before it.
- In a table cell a code span's pipes need a backslash (GFM splits cells before it reads spans, then drops that
  backslash); outside tables `\\|` in a span would show both characters, so pipes are escaped only in cells. A
  backslash right before a pipe cannot be written in a span in a cell (GitHub's parser reads `\\\\|` as an escaped
  backslash and a cell border), so such a value is shown as escaped text instead.
"""

from __future__ import annotations

import re

from sharder.core.log_text import one_line

_BACKTICKS = re.compile("`+")
_PUNCTUATION = re.compile(r"""([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{}~])""")


def longest_backtick_run(text: str) -> int:
    return max((len(run) for run in _BACKTICKS.findall(text)), default=0)


def code(text: str) -> str:
    """An inline code span holding `text` exactly (on one line), whatever backticks or spaces it has."""
    text = one_line(text)
    if not text:
        return "` `"  # an empty span is no span; a lone space is kept as it is (it is all spaces)
    fence = "`" * (longest_backtick_run(text) + 1)
    edges = text[:1] + text[-1:]
    padded = "`" in edges or (text[0] == " " and text[-1] == " " and text.strip(" ") != "")
    pad = " " if padded else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def text(value: object) -> str:
    """Plain Markdown text that shows `value` as written: every ASCII punctuation escaped, pipes as `&#124;`."""
    escaped = _PUNCTUATION.sub(r"\\\1", one_line(str(value)).strip())
    return escaped.replace("|", "&#124;")


def cell_code(value: str) -> str:
    """A code span fit for a GFM table cell (see the module's note on pipes)."""
    if "\\|" in one_line(value):
        return text(value)
    return code(value).replace("|", "\\|")


def cell(value: object) -> str:
    """Sharder's own words or numbers in a table cell: only a pipe or a line break could hurt them."""
    return one_line(str(value)).replace("|", "\\|")


def fenced(lines: list[str], indent: str = "") -> list[str]:
    """A fenced code block of `lines` (each made one line), its fence longer than any backtick run in them."""
    shown = [one_line(line) for line in lines]
    fence = "`" * max(3, max((longest_backtick_run(line) for line in shown), default=0) + 1)
    return [f"{indent}{fence}", *[f"{indent}{line}" for line in shown], f"{indent}{fence}"]
