"""Help for the pane on screen: what it is for, then every key it answers to, in one scrollable page.

Textual's own help panel squeezes the pane into a side column and cannot be scrolled from the
keyboard; at 80x24 over SSH most of it was out of reach. This is a full-screen page instead: arrows,
PgUp/PgDn, Home/End scroll it, and ``?``, ``esc`` or ``q`` close it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Markdown, Static

from cs_tui.screens.pane import PaneScreen

#: Keys of the app itself, whichever pane is on screen.
GLOBAL_KEYS = (
    ("p t s m", "the panes: play, training, scenarios, models"),
    ("ctrl+p", "the command palette: every action of this pane by name"),
    ("?", "this help (again to close)"),
    ("q", "quit (training runs go on: they are their own processes)"),
    ("ctrl+q", "quit, from anywhere (also while typing in a field, where q is a letter)"),
)


def pane_keys(screen: Screen[Any]) -> list[tuple[str, str]]:
    """Every key of the pane, with what it does (its tooltip when it has one).

    The keys in its key bar, also those kept out of the bar for room (with a tooltip, e.g. play's c), and
    the pane's keys that do nothing at this moment and so are hidden from the bar (play's enter before
    the conversation ends): a help page says what every key does, whenever it is read.
    """
    rows: list[tuple[str, str]] = []
    seen: set[str] = set()
    own = [b for b in getattr(type(screen), "BINDINGS", []) if isinstance(b, Binding)]
    active = [b for node, b, _enabled, _tooltip in screen.active_bindings.values() if node is not screen.app]
    for binding in [*active, *own]:
        if not (binding.show or binding.tooltip) or not binding.description:
            continue
        key = screen.app.get_key_display(binding)
        if not key.isascii():  # a glyph (⏎): also its name, which a reader looking for "enter" can find
            key = f"{key} {binding.key.split(',')[0]}"
        if key in seen:  # one key, two labels (the play pane's v): say it once
            continue
        seen.add(key)
        rows.append((key, binding.tooltip or binding.description))
    return rows


class HelpScreen(ModalScreen[None]):
    """The help page for ``pane``: its HELP text (Markdown), its keys, the app's keys."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > VerticalScroll {
        width: 100%;
        max-width: 100;
        height: 100%;
        border: round $primary;
        border-title-align: left;
        border-subtitle-align: right;
        padding: 0 0 0 1;  /* on the right, the children's margin: a gap before the scrollbar */
        background: $surface;
    }
    HelpScreen Markdown {
        margin: 0 1 0 0;
        padding: 0;
    }
    HelpScreen #help-keys {
        margin: 0 1 0 0;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "dismiss", "Close", key_display="?"),
        Binding("escape", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
    ]

    def __init__(self, pane: Screen[Any], title: str) -> None:
        super().__init__()
        self.pane_title = title
        # a pane's own words for its layout on screen (stacked or side by side)
        self.help_text = pane.help_text() if isinstance(pane, PaneScreen) else (pane.HELP or "").strip()
        self.keys = pane_keys(pane)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-page") as page:
            page.border_title = f"Help · {self.pane_title}"
            page.border_subtitle = "↑↓ PgUp PgDn scroll · ? esc close"
            if self.help_text:
                yield Markdown(self.help_text)
            yield Static(self._keys_table(), id="help-keys")

    def on_mount(self) -> None:
        self.query_one("#help-page").focus()  # so the arrows and PgUp/PgDn scroll it

    def _keys_table(self) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        table.add_row(Text("Keys of this pane", style="bold underline"), "")
        for key, what in self.keys:
            table.add_row(key, what)
        table.add_row("", "")
        table.add_row(Text("Everywhere", style="bold underline"), "")
        for key, what in GLOBAL_KEYS:
            table.add_row(key, what)
        return table

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
