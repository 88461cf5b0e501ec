"""The Playbook view (``k`` in the models pane): a playbook file's rules in words, each with how often it
fires and its % of oracle where it fires.

Choose a file (the shipped ``playbooks/*.toml`` and the saves folder's ``*.toml``) or type a path. The
file is read and checked in a thread, its rules shown at once; then the same thread plays the customers
and measures each rule, with the very function ``cs-tui playbook show`` prints
(:func:`cs_tui.commands.playbook.rule_figures`), on a bounded number of conversations. A file that is not
a valid playbook shows why (the file, the line, the valid choices) and the view goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Header, Input, Label, Select, Static
from textual.worker import get_current_worker

from cs_tui.labels import tone
from cs_tui.screens.pane import PaneScreen
from cs_tui.widgets.key_bar import KeyBar

#: conversations each measurement plays by default, and the bounds of the field (the oracle's reference
#: rollouts cost about 25 ms a conversation on a busy machine: 200 take seconds, 2,000 most of a minute)
DEFAULT_EPISODES = 200
MIN_EPISODES, MAX_EPISODES = 20, 2000
#: below this width the industry field goes (the measurement keeps the industry last chosen)
NARROW = 60


def parse_episodes(text: str) -> int:
    """The episodes field as a count; ``ValueError`` naming the field and its bounds."""
    try:
        n = int(text)
    except ValueError:
        raise ValueError(f"episodes: {text!r} is not a whole number from {MIN_EPISODES} to {MAX_EPISODES:,}") from None
    if not MIN_EPISODES <= n <= MAX_EPISODES:
        raise ValueError(f"episodes: {n:,} is outside {MIN_EPISODES} to {MAX_EPISODES:,}")
    return n


@dataclass(frozen=True)
class RuleLine:
    """One rule as the view shows it: its words and note, then its figures once measured."""

    number: int
    words: str
    note: str
    turn_share: float | None = None
    conversation_share: float | None = None
    pct_of_oracle: float | None = None


def rule_body(line: RuleLine, measuring: bool) -> Text:
    """One rule's words, its note under them, then its figures (or why there are none)."""
    text = Text(line.words)
    if line.note:
        text.append(f"\n{line.note}", style="italic")
    text.append("\n")
    if line.turn_share is None or line.conversation_share is None:
        text.append("measuring…" if measuring else "not measured", style="dim")
    elif line.conversation_share == 0:
        text.append("never fired on these customers", style=tone("yellow"))
    else:
        text.append(f"fires on {line.turn_share:.1%} of turns, in {line.conversation_share:.1%} of conversations")
        if line.pct_of_oracle is None:
            text.append(" · % of oracle: too close to call there", style="dim")
        else:
            text.append(" · ")
            text.append(f"{line.pct_of_oracle:.1f}% of oracle", style="bold")
            text.append(" where it fires")
    return text


def rules_table(lines: list[RuleLine], measuring: bool) -> Table:
    """The rules as a readable list: the number, then the rule's words, note and figures, wrapped beside it."""
    table = Table.grid(padding=(0, 1, 0, 0))
    table.add_column(justify="right", no_wrap=True, style="bold")
    table.add_column(ratio=1)
    for i, line in enumerate(lines):
        if i:
            table.add_row("", "")  # a blank line between rules
        table.add_row(f"{line.number}.", rule_body(line, measuring))
    return table


class PlaybookScreen(PaneScreen):
    """The file picker and the path field on top, then the rules with their figures."""

    HELP = """
## Playbook

A playbook is a file of ordered rules a person can read and edit: the first rule whose conditions all
hold chooses the strategy (`cs-tui playbook distill` writes one from an agent). Choose a file with **o**
(the shipped playbooks and the saves folder's `*.toml`), or type a path with **f** and press enter.

Each rule is shown in words with its note, then **how often it fires** (its share of all turns, and of
conversations where it fires at least once) and the playbook's **% of oracle where it fires**: on the
conversations where that rule chose at least once, 0 is random play and 100 the oracle that sees the
hidden traits (*too close to call* where the two barely differ on those customers). The figures come
from *episodes* conversations of the industry shown, the same as `cs-tui playbook show`; **r** measures
again with the numbers now in the fields.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "choose_file", "Open", tooltip="Choose a playbook file"),
        Binding("f", "type_path", "Path", tooltip="Type the path of a playbook file"),
        Binding("r", "measure", "Measure", tooltip="Measure the rules again (industry and episodes as shown)"),
        Binding("escape", "back", "Back", tooltip="Leave the field, or back to the models pane"),
    ]

    DEFAULT_CSS = """
    PlaybookScreen #pb-controls { height: 1; padding: 0 1; }
    PlaybookScreen #pb-controls Label { padding: 0 1; }
    PlaybookScreen #pb-file { width: 1fr; }
    PlaybookScreen #pb-industry { width: 14; }
    PlaybookScreen #pb-episodes { width: 7; }
    PlaybookScreen.-narrow #pb-industry { display: none; }  /* the file's name keeps the room */
    PlaybookScreen #pb-path { height: 1; margin: 0 1; }
    PlaybookScreen #pb-status { height: auto; max-height: 4; padding: 0 1; color: $text-muted; }
    PlaybookScreen #pb-rules { height: 1fr; padding: 0 0 0 1; border-top: hkey $panel; }
    PlaybookScreen #pb-rules > Static { margin: 0 1 0 0; }
    """

    class Read(Message):
        """The worker read the file: its rules in words, or why it is not a playbook (``error``)."""

        bubble = False

        def __init__(self, run: int, path: Path, lines: list[RuleLine] | None, error: str = "") -> None:
            super().__init__()
            self.run, self.path, self.lines, self.error = run, path, lines, error

    class Measured(Message):
        """The worker measured the rules: the lines with their figures, or why it could not."""

        bubble = False

        def __init__(self, run: int, lines: list[RuleLine] | None, error: str = "") -> None:
            super().__init__()
            self.run, self.lines, self.error = run, lines, error

    def __init__(self, path: Path | None = None) -> None:
        super().__init__()
        #: the file to show first (None: the default playbook)
        self.first = path
        #: the file shown, its rules (with figures once measured), whether the worker is still at it
        self.path: Path | None = None
        self.lines: list[RuleLine] = []
        self.measuring = False
        self.error = ""
        #: the files the picker offers
        self.listed: list[str] = []
        self._run = 0

    def compose(self) -> ComposeResult:
        from cs_tui.widgets.industry_select import industry_select

        yield Header()
        with Horizontal(id="pb-controls"):
            yield Select[str]([], prompt="choose a playbook file", compact=True, id="pb-file")
            yield industry_select("mixed", id="pb-industry")
            yield Label("episodes")
            yield Input(str(DEFAULT_EPISODES), type="integer", compact=True, id="pb-episodes")
        yield Input(placeholder="or type a playbook file's path, then enter", compact=True, id="pb-path")
        yield Static("", id="pb-status")
        with VerticalScroll(id="pb-rules"):
            yield Static("", id="pb-list")
        yield KeyBar()

    def on_mount(self) -> None:
        from cs_tui.agents import default_playbook, playbook_files

        self.sub_title = "Playbook"
        files = playbook_files(self.saves)
        first = self.first or default_playbook(self.saves)
        if first is not None and first not in files:
            files.insert(0, first)
        self.listed = [str(p) for p in files]
        select: Select[str] = self.query_one("#pb-file", Select)
        with select.prevent(Select.Changed):  # filled, not chosen: the file is shown below
            select.set_options((Text(self._label(p)), str(p)) for p in files)  # file names: text, not markup
            if first is not None:
                select.value = str(first)
        self.query_one("#pb-rules").focus()
        if first is None:
            self._status(Text("No playbook found: choose a file (o) or type a path (f)", style="italic"))
        else:
            self.show_file(first)

    def _label(self, path: Path) -> str:
        """A file as the picker lists it: its name and where it is from (the shipped ones, the saves folder)."""
        from cs_tui.agents import SHIPPED_PLAYBOOKS

        folder = path.parent.resolve()
        places = {SHIPPED_PLAYBOOKS.resolve(): "shipped", self.saves.resolve(): "saves"}
        where = places.get(folder, "")
        return f"{path.name}  · {where}" if where else str(path)

    @property
    def shown_name(self) -> str:
        """The file shown, as the status line names it."""
        return "" if self.path is None else " ".join(self._label(self.path).split())

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width < NARROW, "-narrow")

    # -- reading and measuring ---------------------------------------------------------------
    def show_file(self, path: Path) -> None:
        """Read ``path`` and measure its rules, in a thread (a bad file shows why, and the view goes on)."""
        try:
            episodes = parse_episodes(self.query_one("#pb-episodes", Input).value)
        except ValueError as exc:
            self.notify(str(exc), title="Playbook", severity="error")
            return
        industry = self.query_one("#pb-industry", Select).value
        self._run += 1
        self.path, self.lines, self.error, self.measuring = path, [], "", True
        self._status(Text(f"reading {self.shown_name}…", style="italic"))
        self._show_lines()
        self._work(self._run, path, str(industry), episodes)

    @work(thread=True, exclusive=True, group="playbook-view", exit_on_error=False)
    def _work(self, run: int, path: Path, industry: str, episodes: int) -> None:
        from cs_env.playbook import PlaybookError, load

        worker = get_current_worker()
        try:
            playbook = load(path)
        except PlaybookError as exc:
            self.post_message(self.Read(run, path, None, str(exc)))
            return
        lines = [RuleLine(i + 1, playbook.describe(i), rule.note) for i, rule in enumerate(playbook.rules)]
        self.post_message(self.Read(run, path, lines))
        try:
            from cs_tui.commands.playbook import rule_figures  # the one implementation `playbook show` prints

            rows = rule_figures(playbook, industry=industry, episodes=episodes)
        except Exception as exc:  # the app goes on: say why
            self.post_message(self.Measured(run, None, f"{type(exc).__name__}: {exc}"))
            return
        if worker.is_cancelled:
            return
        measured = [
            RuleLine(
                row["number"],
                row["rule"],
                row["note"],
                row["turn_share"],
                row["conversation_share"],
                row["pct_of_oracle"],
            )
            for row in rows
        ]
        self.post_message(self.Measured(run, measured))

    @on(Read)
    def read(self, message: Read) -> None:
        if message.run != self._run:
            return
        if message.lines is None:
            self.measuring, self.error = False, message.error
            self._status(Text(message.error, style=tone("red")))
            self.notify(message.error, title="Not a playbook", severity="error", timeout=10)
        else:
            self.lines = message.lines
            n = len(message.lines)
            self._status(Text(f"{self.shown_name}: {n} rule{'s' * (n != 1)}, first match decides · measuring…"))
        self._show_lines()

    @on(Measured)
    def measured(self, message: Measured) -> None:
        if message.run != self._run:
            return
        self.measuring = False
        if message.lines is None:
            self.error = message.error
            self._status(Text(f"could not measure the rules: {message.error}", style=tone("red")))
        else:
            self.lines = message.lines
            n = len(message.lines)
            industry = self.query_one("#pb-industry", Select).value
            episodes = self.query_one("#pb-episodes", Input).value
            rules = f"{n} rule{'s' * (n != 1)}, first match decides"
            self._status(Text(f"{self.shown_name}: {rules} · {episodes} {industry} customers"))
        self._show_lines()

    def _status(self, text: Text) -> None:
        self.query_one("#pb-status", Static).update(text)

    def _show_lines(self) -> None:
        self.query_one("#pb-list", Static).update(rules_table(self.lines, self.measuring))

    # -- the controls ------------------------------------------------------------------------
    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "pb-file" and isinstance(event.value, str):
            self.show_file(Path(event.value))
        elif event.select.id == "pb-industry" and self.path is not None:  # other customers: measure again
            self.show_file(self.path)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "pb-path":
            typed = event.value.strip()
            if not typed:
                self.notify("type the path of a playbook file (.toml)", title="Playbook", severity="warning")
                return
            path = Path(typed).expanduser()
            if not path.is_file():
                self.notify(f"{typed}: no such file", title="Playbook", severity="error")
                return
            select: Select[str] = self.query_one("#pb-file", Select)
            with select.prevent(Select.Changed):  # the picker names the file shown, or none
                if str(path) in self.listed:
                    select.value = str(path)
                else:
                    select.clear()
            self.show_file(path)
        else:  # enter in the episodes field: measure with it
            self.action_measure()
        self.query_one("#pb-rules").focus()

    def action_choose_file(self) -> None:
        """Open the file picker: arrows choose, enter takes it, esc leaves it as it was."""
        select = self.query_one("#pb-file", Select)
        select.focus()
        select.expanded = True

    def action_type_path(self) -> None:
        """Go to the path field."""
        self.query_one("#pb-path", Input).focus()

    def action_measure(self) -> None:
        """Measure the shown playbook again (the industry and episodes in the fields)."""
        if self.path is None:
            self.notify("choose a playbook file first (o)", title="Playbook", severity="warning")
            return
        self.show_file(self.path)

    def action_back(self) -> None:
        """Leave a field; else back to the pane below."""
        if isinstance(self.focused, Input | Select):
            self.query_one("#pb-rules").focus()
            return
        self.dismiss()
