"""Plain-text tables for the terminal: right-aligned numbers, left-aligned text, no dependencies."""

from __future__ import annotations

from collections.abc import Sequence


def format_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    numeric = [all(_looks_numeric(row[i]) for row in cells[1:]) for i in range(len(header))]
    lines = []
    for row in cells:
        parts = [
            cell.rjust(width) if num else cell.ljust(width)
            for cell, width, num in zip(row, widths, numeric, strict=True)
        ]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def _looks_numeric(text: str) -> bool:
    stripped = text.rstrip("s%x ").replace(".", "", 1).replace(",", "")
    return stripped.lstrip("-+").isdigit() if stripped else False


def seconds_text(seconds: float) -> str:
    """Short human duration: 41.2 s, 12m 03s, 1h 04m."""
    if seconds < 600:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"
