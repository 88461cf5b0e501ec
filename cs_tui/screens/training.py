"""The training pane (placeholder while it is being built)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header, Static


class TrainingScreen(Screen[None]):
    """The training pane."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("The training pane is being built.", id="placeholder")
        yield Footer()
