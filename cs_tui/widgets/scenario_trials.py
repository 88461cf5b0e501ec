"""One scenario's trials under a policy, each replayable as a conversation to see where it went wrong."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from cs_env.scenarios import ScenarioResult, Trial, replay
from cs_tui.labels import strategy_label, tone
from cs_tui.report import conversation
from cs_tui.widgets.key_bar import KeyBar


def trial_transcript(result: ScenarioResult, trial: Trial) -> RenderableType:
    """The trial's verdict and reason first (seen without scrolling), then its replay as ``cs-tui demo``
    shows a conversation."""
    env = replay(result.scenario, trial)
    verdict = "PASS" if trial.passed else "FAIL"
    text = Text()
    text.append(f"{verdict}: ", style=tone("bold green") if trial.passed else tone("bold red"))
    text.append(trial.reason)
    return Group(text, conversation(env, f"seed {trial.seed}"))


class ScenarioTrialsScreen(ModalScreen[None]):
    """Trials on top (seed, outcome, turns, return, verdict); the highlighted one as a conversation below."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back"),
        Binding("f", "next_failure", "Next failure", tooltip="Jump to the next failed trial"),
    ]

    DEFAULT_CSS = """
    ScenarioTrialsScreen {
        background: $background 60%;
    }
    ScenarioTrialsScreen > Vertical {
        background: $surface;
        border: tall $primary;
        height: 1fr;
    }
    ScenarioTrialsScreen #scenario-head { height: auto; padding: 0 1; }
    ScenarioTrialsScreen #trials { height: auto; max-height: 10; }
    ScenarioTrialsScreen #transcript-box { height: 1fr; border-top: solid $panel; padding: 0 0 0 1; }
    ScenarioTrialsScreen #transcript-box > * { margin: 0 1 0 0; }  /* a gap before the scrollbar */
    """

    def __init__(self, result: ScenarioResult, policy: str, k: int) -> None:
        super().__init__()
        self.result = result
        self.policy = policy
        self.k = k

    def compose(self) -> ComposeResult:
        r, s = self.result, self.result.scenario
        head = Text(no_wrap=False)
        head.append(s.title, style="bold")
        head.append(f"  ({s.name}, {s.industry})\n")
        head.append(f"pass: {s.criterion.describe()}\n", style="italic")
        head.append(
            f"{self.policy}: {r.passes}/{len(r.trials)} passed · pass^{self.k} {r.pass_hat_k(self.k):.2f}"
            if self.k <= len(r.trials)
            else f"{self.policy}: {r.passes}/{len(r.trials)} passed"
        )
        with Vertical():
            yield Static(head, id="scenario-head")
            table: DataTable[Any] = DataTable(id="trials", cursor_type="row")
            table.add_columns("seed", "verdict", "outcome", "turns", "return", "strategies")
            for i, trial in enumerate(r.trials):
                table.add_row(
                    str(trial.seed),
                    Text("pass", style=tone("green")) if trial.passed else Text("FAIL", style=tone("bold red")),
                    Text(str(trial.outcome)),
                    str(trial.turns),
                    f"{trial.total_return:+.2f}",
                    " ".join(strategy_label(a)[:4] for a in trial.actions),
                    key=str(i),
                )
            yield table
            with VerticalScroll(id="transcript-box"):
                yield Static("", id="transcript")
        yield KeyBar()

    def on_mount(self) -> None:
        table = self.query_one("#trials", DataTable)
        table.focus()
        # open on the first failure: that is what the user came to see
        first_failure = next((i for i, t in enumerate(self.result.trials) if not t.passed), 0)
        table.move_cursor(row=first_failure)
        self.show_trial(first_failure)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.show_trial(event.cursor_row)

    def show_trial(self, index: int) -> None:
        """Replay trial ``index`` and show its conversation."""
        if not 0 <= index < len(self.result.trials):
            return
        self.query_one("#transcript", Static).update(trial_transcript(self.result, self.result.trials[index]))
        self.query_one("#transcript-box", VerticalScroll).scroll_home(animate=False)

    def action_next_failure(self) -> None:
        """Move to the next failed trial (wrapping around)."""
        table = self.query_one("#trials", DataTable)
        trials = self.result.trials
        n = len(trials)
        for step in range(1, n + 1):
            i = (table.cursor_row + step) % n
            if not trials[i].passed:
                table.move_cursor(row=i)
                return
        self.notify("Every trial passed", severity="information")

    def action_close(self) -> None:
        """Back to the scenario table."""
        self.dismiss(None)
