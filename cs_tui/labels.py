"""How cs-tui writes the names a person reads, in one place for the command line's tables and the app's panes,
how a line of them fits the width it gets, and the tone (style) a value is drawn in, readable under
``NO_COLOR``.

cs_env's identifiers (``quick_resolution``, ``business_impact``) stay what files, JSON, agent specs and
recordings hold; these functions are only for what is shown.
"""

from __future__ import annotations

import os

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

from cs_env.domain import STRATEGY_NAMES

FACT_SEPARATOR = " · "
FACT_INDENT = "  "


#: style words that are not colours: kept under NO_COLOR
_PLAIN = frozenset({"bold", "dim", "italic", "underline", "reverse", "strike", "not"})


def tone(style: str) -> str:
    """``style`` as given, or without its colours when ``NO_COLOR`` is set.

    Textual honours ``NO_COLOR`` by turning every colour into a grey of the same luminance, which leaves
    dark red text nearly invisible on a dark background; the widgets drop their colours instead and keep
    bold and dim, so every label still reads (the words, not the colours, carry the meaning).
    """
    if "NO_COLOR" not in os.environ:
        return style
    return " ".join(word for word in style.split() if word in _PLAIN)


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


def stack_facts(text: Text, width: int) -> list[Text]:
    """The lines of ``text`` in ``width`` cells: a line of facts joined by `` · `` that is too wide breaks
    between facts, onto indented lines (``last eval: return 1.704`` / ``  98% of oracle``); a fact, or a
    line of no facts, that still does not fit is cut with "…"."""
    lines: list[Text] = []
    for line in text.split("\n"):
        if line.cell_len <= width or FACT_SEPARATOR not in line.plain:
            lines.append(line)
            continue
        facts = line.split(FACT_SEPARATOR)
        current = facts[0]
        for fact in facts[1:]:
            if current.cell_len + len(FACT_SEPARATOR) + fact.cell_len <= width:
                current = Text.assemble(current, FACT_SEPARATOR, fact)
            else:
                lines.append(current)
                current = Text.assemble(FACT_INDENT, fact)
        lines.append(current)
    for line in lines:
        line.no_wrap, line.overflow = True, "ellipsis"
    return lines


class FactLines:
    """Lines of facts drawn at the width they get (a pane that is resized): see :func:`stack_facts`."""

    def __init__(self, text: Text) -> None:
        self.text = text

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from stack_facts(self.text, options.max_width)


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
