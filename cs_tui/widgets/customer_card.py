"""Who the customer is, as the agent can see it: industry, inquiry, tier, urgency, the turn count; and the
same in one line with the mood as a small gauge, for a terminal too narrow for the side panel."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from cs_env.domain import ONGOING_NAME, SENTIMENT_NAMES
from cs_tui.labels import tone

#: the sentiment's colour, angry to delighted (as the side panel's gauge)
MOOD_STYLES = ("bold red", "red", "yellow", "green", "bold green")


@dataclass(frozen=True)
class CustomerView:
    """The visible facts of a conversation (never the hidden traits)."""

    industry: str
    inquiry: str
    tier: str
    urgency: int
    turn: int
    max_turns: int
    seed: int
    outcome: str = ONGOING_NAME


class CustomerCard(Widget):
    """The visible facts of the current conversation."""

    DEFAULT_CSS = """
    CustomerCard {
        height: 4;
    }
    """

    view: reactive[CustomerView | None] = reactive(None)
    """What to show; None before the first conversation."""

    def render(self) -> Text:
        v = self.view
        if v is None:
            return Text("no conversation yet", style=tone("dim"))
        text = Text()
        text.append(v.inquiry.replace("_", " "), style=tone("bold"))
        text.append(f"\n{v.industry} · tier ")
        text.append(v.tier, style=tone("bold magenta" if v.tier == "vip" else "bold"))
        text.append("\nurgency ")
        text.append(f"{v.urgency}/4", style=tone("bold red" if v.urgency >= 3 else "bold"))
        text.append(f" · turn {v.turn}/{v.max_turns}")
        text.append(f"\nseed {v.seed}", style=tone("dim"))
        if v.outcome != ONGOING_NAME:
            style = "bold green" if v.outcome == "resolved" else "bold yellow"
            text.append(" · ")
            text.append(v.outcome.upper(), style=tone(style))
        return text


def customer_line(v: CustomerView, satisfaction: float, sentiment: int, width: int) -> Text:
    """The customer in one line of at most ``width`` cells: inquiry, tier and the mood (a gauge and its
    name) first, then urgency and the turn where they fit; what the side panel shows, for a narrow terminal."""
    style = tone(MOOD_STYLES[sentiment])
    cells = 8 if width >= 40 else 4
    filled = round(min(max(satisfaction, 0.0), 1.0) * cells)
    mood = Text()
    mood.append("█" * filled, style=style)
    mood.append("░" * (cells - filled), style=tone("dim"))
    mood.append(f" {SENTIMENT_NAMES[sentiment]}", style=style)
    inquiry = Text(v.inquiry.replace("_", " "), style=tone("bold"))
    tier = Text(v.tier, style=tone("bold magenta" if v.tier == "vip" else "bold"))
    long, short = f" · urgency {v.urgency}/4 · turn {v.turn}/{v.max_turns}", f" · u{v.urgency} · {v.turn}/{v.max_turns}"
    line = Text()
    for tier_label, tail in (("tier ", long), ("tier ", short), ("tier ", ""), ("", "")):
        line = Text.assemble(inquiry, " · ", tier_label, tier, " · ", mood, tail)
        if line.cell_len <= width:
            return line
    line.truncate(width, overflow="ellipsis")
    return line
