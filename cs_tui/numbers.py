"""How cs-tui writes numbers, in one place for the command line's tables and the app's panes.

Each formatter takes any value (a record read back from JSON may hold null, a string or NaN) and
writes ``–`` for anything that is not a finite number.
"""

from __future__ import annotations

import math
from typing import Any

DASH = "–"


def finite(value: Any) -> float | None:
    """``value`` as a finite float, or None (records carry null for "not measured yet"; a hand-edited
    one may hold an integer of 400 digits, which has no float)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        as_float = float(value)
    except OverflowError:
        return None
    return as_float if math.isfinite(as_float) else None


def number(value: Any, spec: str = ".3f") -> str:
    """A number in the format ``spec`` (``1.702``; ``",.0f"``: ``12,345``)."""
    v = finite(value)
    return DASH if v is None else format(v, spec)


def rate(value: Any) -> str:
    """A 0-1 rate as ``71.2%``."""
    v = finite(value)
    return DASH if v is None else f"{v * 100:.1f}%"


def share(value: Any) -> str:
    """A 0-1 rate as ``71.2``, for a column headed in %."""
    v = finite(value)
    return DASH if v is None else f"{v * 100:.1f}"


def pct_of_oracle(value: Any) -> str:
    """A % of oracle (already ×100) as ``84.2``."""
    return number(value, ".1f")


def duration(seconds: Any) -> str:
    """``1:02:03`` / ``2:03``; ``–`` when unknown."""
    s = finite(seconds)
    if s is None or s < 0:
        return DASH
    minutes, secs = divmod(round(s), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
