"""The models pane (placeholder while it is being built)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header, Static


class ModelsScreen(Screen[None]):
    """The models pane."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("The models pane is being built.", id="placeholder")
        yield Footer()
