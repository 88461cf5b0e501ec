"""The customer's mood as a labelled gauge that moves each turn."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from cs_env.domain import SENTIMENT_NAMES
from cs_tui.labels import tone

STYLES = ("bold red", "red", "yellow", "green", "bold green")


class SentimentGauge(Widget):
    """Satisfaction (0-1) as a bar, with the sentiment's name and the last turn's change."""

    DEFAULT_CSS = """
    SentimentGauge {
        height: 2;
    }
    """

    satisfaction: reactive[float] = reactive(0.5)
    """The customer's satisfaction, 0-1."""
    sentiment: reactive[int] = reactive(2)
    """The sentiment code, 0 angry .. 4 delighted."""
    change: reactive[float] = reactive(0.0)
    """The last turn's change of satisfaction."""

    def render(self) -> Text:
        width = max(self.size.width - 12, 4)
        filled = round(min(max(self.satisfaction, 0.0), 1.0) * width)
        style = STYLES[self.sentiment]
        arrow = "▲" if self.change > 0.005 else "▼" if self.change < -0.005 else "="
        text = Text("sentiment ", style=tone("bold"))
        text.append(SENTIMENT_NAMES[self.sentiment], style=tone(style))
        text.append("\n")
        text.append("█" * filled, style=tone(style))
        text.append("░" * (width - filled), style=tone("dim"))
        text.append(f" {self.satisfaction:.2f}")
        if self.change:
            text.append(f" {arrow}{self.change:+.2f}", style=tone("green" if self.change > 0 else "red"))
        return text
