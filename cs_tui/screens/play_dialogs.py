"""The play pane's small dialogs: a new conversation, the opponent, a recorded episode to replay."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Select
from textual.widgets.option_list import Option

from cs_tui.screens.form import seed_input, seed_shown
from cs_tui.seeds import parse_seed

DIALOG_CSS = """
{name} {{
    align: center middle;
}}
{name} > Vertical {{
    width: 60;
    max-width: 100%;
    height: auto;
    max-height: 100%;
    border: round $primary;
    background: $surface;
    padding: 0 1;
}}
{name} .hint {{
    color: $text-muted;
}}
{name} OptionList {{
    height: auto;
    max-height: 16;
    padding: 0 0 0 1;
}}
{name} OptionList > .option-list--option {{
    padding: 0 1 0 0;  /* a gap before the scrollbar of a long list */
}}
"""


class NewEpisodeDialog(ModalScreen[tuple[str, int] | None]):
    """Choose the industry and seed of the next customer."""

    DEFAULT_CSS = DIALOG_CSS.format(name="NewEpisodeDialog")
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, industries: tuple[str, ...], industry: str, seed: int) -> None:
        super().__init__()
        self.industries = industries
        self.industry = industry
        self.seed = seed

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "New conversation"
            yield Label("Industry")
            # on the current industry, unless it is one no customer could start with (then the first)
            current = self.industry if self.industry in self.industries else self.industries[0]
            yield Select([(name, name) for name in self.industries], value=current, allow_blank=False)
            yield Label("Seed (the same seed, the same customer; empty: random)")
            yield seed_input(str(self.seed), compact=False)
            yield Label("tab next field · enter on the seed starts · esc cancel", classes="hint")

    def on_mount(self) -> None:
        self.query_one(Select).focus()  # the first field, as read top-down

    @on(Input.Submitted)
    def start(self) -> None:
        try:
            seed = parse_seed(seed_shown(self.query_one("#seed", Input)))
        except ValueError as exc:
            self.notify(f"seed: {exc}", title="New conversation", severity="error")
            return
        industry = self.query_one(Select).value
        self.dismiss((str(industry), seed))

    def action_cancel(self) -> None:
        self.dismiss(None)


class ChoiceDialog(ModalScreen[str | None]):
    """Pick one of a list of (id, label) choices; dismisses with the id."""

    DEFAULT_CSS = DIALOG_CSS.format(name="ChoiceDialog")
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, choices: list[tuple[str, str]], *, current: str | None = None, hint: str) -> None:
        super().__init__()
        self.title_text = title
        self.choices = choices
        self.current = current
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.title_text
            if self.choices:
                # labels name runs and files: shown as text, never read as markup
                yield OptionList(*(Option(Text(label), id=key) for key, label in self.choices))
            else:
                yield Label("nothing here yet")
            yield Label(self.hint, classes="hint")

    def on_mount(self) -> None:
        if not self.choices:
            return
        options = self.query_one(OptionList)
        ids = [key for key, _ in self.choices]
        options.highlighted = ids.index(self.current) if self.current in ids else 0
        options.focus()

    @on(OptionList.OptionSelected)
    def chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


def recording_label(path: Path) -> str:
    """A recorded episode as listed: when, which customer, and how you and the opponent did (a file that
    cannot be read, is not a regular file or holds something else is listed as unreadable)."""
    from cs_tui.play_session import read_record

    try:
        record = read_record(path)
        customer, human, agent = record["customer"], record["human"], record.get("agent")
        when = str(record["created_at"])[:16].replace("T", " ")
        text = f"{when}  {customer['inquiry'].replace('_', ' ')}, seed {record['seed']}: "
        text += f"you {human['outcome']} {human['return']:+.2f}"
        if agent:
            text += f" · {agent['player']} {agent['outcome']} {agent['return']:+.2f}"
        return text
    except (OSError, ValueError, KeyError, TypeError, AttributeError, OverflowError):
        return f"{path.stem}  (unreadable)"
