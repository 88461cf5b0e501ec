"""The conversation as it is read: customer and agent lines, newest at the bottom."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from cs_env.domain import SENTIMENT_NAMES, STRATEGY_NAMES

#: sentiment code -> style of the customer's mood label (colour drops out under NO_COLOR; the words stay)
MOOD_STYLES = ("bold red", "red", "yellow", "green", "bold green")


class Transcript(VerticalScroll, can_focus=False):
    """A scrolling conversation; lines are kept as data and re-wrapped on resize."""

    DEFAULT_CSS = """
    Transcript {
        height: 1fr;
        padding: 0 1;
        scrollbar-size-vertical: 1;
    }
    Transcript > #transcript-text {
        width: 1fr;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._text = Text()

    def compose(self) -> ComposeResult:
        yield Static(id="transcript-text")

    @property
    def plain(self) -> str:
        """The conversation as plain text (what a reader sees, without styles)."""
        return self._text.plain

    def clear(self) -> None:
        self._text = Text()
        self._refresh()

    def customer(self, text: str, sentiment: int) -> None:
        """A line from the customer, labelled with their mood."""
        self._line(
            ("Customer ", "bold"),
            (f"({SENTIMENT_NAMES[sentiment]})", MOOD_STYLES[sentiment]),
            (": ", ""),
            (text, ""),
        )

    def agent(self, text: str, strategy: int, who: str = "Agent") -> None:
        """A line from the agent (you or the opponent), labelled with the strategy."""
        self._line((f"{who} ", "bold cyan"), (f"[{STRATEGY_NAMES[strategy]}]", "cyan"), (": ", ""), (text, ""))

    def note(self, text: str, style: str = "dim") -> None:
        """A line about the conversation rather than in it (outcomes, hints)."""
        self._line((text, style))

    def _line(self, *parts: tuple[str, str]) -> None:
        if self._text:
            self._text.append("\n")
        for chunk, style in parts:
            self._text.append(chunk, style=style or None)
        self._refresh()

    def _refresh(self) -> None:
        self.query_one("#transcript-text", Static).update(self._text.copy())
        self.call_after_refresh(self.scroll_end, animate=False)
