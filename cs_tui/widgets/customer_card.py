"""Who the customer is, as the agent can see it: industry, inquiry, tier, urgency, the turn count."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from cs_env.domain import ONGOING_NAME
from cs_tui.widgets import tone


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
