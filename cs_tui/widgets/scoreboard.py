"""Human vs agent over the session: episodes, mean return, resolution rate, and whether it is significant."""

from __future__ import annotations

import math

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from cs_tui.screens.play_session import Comparison
from cs_tui.widgets import tone


class Scoreboard(Widget):
    """The session's score: you and the opponent on the same customers, with a paired bootstrap 95 % CI."""

    DEFAULT_CSS = """
    Scoreboard {
        height: 3;
        padding: 0 1;
        border-top: solid $primary;
    }
    """

    comparison: reactive[Comparison | None] = reactive(None)
    """The session so far (None before the first finished episode)."""
    opponent: reactive[str] = reactive("the opponent")
    """The opponent's name."""

    def render(self) -> Text:
        c = self.comparison
        if c is None or c.episodes == 0:
            return Text(
                f"Scoreboard: finish a conversation and {self.opponent} plays the same customer.", style=tone("dim")
            )
        text = Text()
        text.append(f"{c.episodes} customer{'s' if c.episodes != 1 else ''}  ", style=tone("bold"))
        text.append("you ", style=tone("bold cyan"))
        text.append(f"{c.human_mean:+.2f} avg, {c.human_resolution:.0%} resolved  ")
        text.append(f"{self.opponent} ", style=tone("bold magenta"))
        text.append(f"{c.agent_mean:+.2f} avg, {c.agent_resolution:.0%} resolved")
        text.append("\n")
        if math.isnan(c.ci_low):
            text.append(f"you − {self.opponent}: {c.mean_difference:+.2f}; {c.verdict}", style=tone("dim"))
        else:
            text.append(
                f"you − {self.opponent}: {c.mean_difference:+.2f}, 95% CI [{c.ci_low:+.2f}, {c.ci_high:+.2f}] "
                "(paired bootstrap): "
            )
            text.append(c.verdict, style=tone("bold" if c.significant else "dim"))
        return text
