"""How cs-tui writes the names a person reads, in one place for the command line's tables and the app's panes."""

from __future__ import annotations


def middle_cut(name: str, width: int) -> str:
    """``name`` in at most ``width`` cells, cut in the middle so the distinctive end stays (``ppo-mixed-…032111``)."""
    if len(name) <= width:
        return name
    if width <= 1:
        return name[:width]
    tail = max(width - 11, min(6, width // 2))  # the head keeps at most 10 cells, the tail at least 6
    return name[: width - 1 - tail] + "…" + name[-tail:]
