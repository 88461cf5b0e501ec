"""How cs-tui writes the names a person reads, in one place for the command line's tables and the app's panes.

cs_env's identifiers (``quick_resolution``, ``business_impact``) stay what files, JSON, agent specs and
recordings hold; these functions are only for what is shown.
"""

from __future__ import annotations

from cs_env.domain import STRATEGY_NAMES


def middle_cut(name: str, width: int) -> str:
    """``name`` in at most ``width`` cells, cut in the middle so the distinctive end stays (``ppo-mixed-…032111``)."""
    if len(name) <= width:
        return name
    if width <= 1:
        return name[:width]
    tail = max(width - 11, min(6, width // 2))  # the head keeps at most 10 cells, the tail at least 6
    return name[: width - 1 - tail] + "…" + name[-tail:]


def first_fitting(width: int, *texts: str) -> str:
    """The first of ``texts`` (the fullest first) that fits in ``width`` cells, else the last, the shortest."""
    return next((t for t in texts if len(t) <= width), texts[-1])


def strategy_label(strategy: int | str) -> str:
    """A strategy (its action number, or cs_env's name for it) as a person reads it: ``quick resolution``."""
    name = STRATEGY_NAMES[strategy] if isinstance(strategy, int) else strategy
    return name.replace("_", " ")


#: cs_env's reward components (``cs_env.reward.COMPONENTS``) in words: in full, and short for a line of four
COMPONENT_WORDS = {
    "satisfaction": ("satisfaction", "sat"),
    "efficiency": ("efficiency", "eff"),
    "business_impact": ("business", "biz"),
    "escalation_penalty": ("escalation", "esc"),
}


def component_label(name: str, *, short: bool = False) -> str:
    """How the reward component ``name`` is written where a person reads it (``business``, or ``biz``)."""
    full, brief = COMPONENT_WORDS.get(name, (name.replace("_", " "), name[:3]))
    return brief if short else full
