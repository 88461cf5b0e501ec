"""The scenario runner: a policy against the scenario catalog, pass rate and pass^k per scenario.

The catalog runs in a thread worker, one scenario after the other, and each result lands in the table
as soon as it is known. ``enter`` on a scenario opens its trials, each replayed as a conversation from
its seed and actions (``cs_env.scenarios.replay``), to see where it went wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import DataTable, Header, Input, Label, Select, Static
from textual.worker import get_current_worker

from cs_env.scenarios import (
    Scenario,
    ScenarioResult,
    Thresholds,
    load_scenarios,
    load_thresholds,
    pass_hat_k_interval,
    run_scenario,
)
from cs_tui.agents import BASELINE_PREFIX, PLAYBOOK_PREFIX, baseline_specs, playbook_specs
from cs_tui.commands.test import DEFAULT_TRIALS
from cs_tui.labels import tone
from cs_tui.screens.form import seed_input, seed_shown
from cs_tui.screens.pane import PaneScreen
from cs_tui.seeds import parse_seed
from cs_tui.training.runs import list_runs
from cs_tui.widgets.key_bar import KeyBar
from cs_tui.widgets.scenario_trials import ScenarioTrialsScreen

DEFAULT_POLICY = "baseline:heuristic"
MAX_TRIALS = 200
MODEL_FILES = ("best.zip", "model.zip")


def policy_choices(saves: Path) -> list[tuple[str, str]]:
    """(label, spec) for every saved model (newest first), every playbook file, then every baseline."""
    models = [
        (f"model: {run.name}", str(run.path))
        for run in list_runs(saves)
        if any((run.path / name).is_file() for name in MODEL_FILES)
    ]
    playbooks = [(f"playbook: {Path(spec.split(':', 1)[1]).name}", spec) for spec in playbook_specs(saves)]
    return models + playbooks + [(spec, spec) for spec in baseline_specs()]


@dataclass(frozen=True)
class RunSettings:
    """One press of "run": which policy, how many trials per scenario, the k of pass^k, the first seed."""

    policy: str
    trials: int
    k: int
    seed: int


def parse_settings(policy: object, trials: str, k: str, seed: str) -> RunSettings:
    """Check the controls; ``ValueError`` naming the field and what is allowed."""
    if not isinstance(policy, str) or not policy:
        raise ValueError("policy: pick a baseline or a saved model")
    try:
        n = int(trials)
    except ValueError:
        raise ValueError(f"trials: {trials!r} is not a whole number") from None
    if not 1 <= n <= MAX_TRIALS:
        raise ValueError(f"trials: between 1 and {MAX_TRIALS}")
    try:
        kk = int(k)
    except ValueError:
        raise ValueError(f"k: {k!r} is not a whole number") from None
    if not 1 <= kk <= n:
        raise ValueError(f"k: between 1 and the number of trials ({n})")
    try:
        s = parse_seed(seed)
    except ValueError as exc:
        raise ValueError(f"seed: {exc}") from None
    return RunSettings(policy, n, kk, s)


def policy_label(spec: str) -> str:
    """A short name for a policy spec (a run folder's name, or the baseline spec)."""
    return spec if spec.startswith(BASELINE_PREFIX) else Path(spec).name


class ScenarioTable(DataTable[Any]):
    """A row-cursor table whose enter key is shown in the footer ("Trials")."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Trials", tooltip="Open the highlighted scenario's trials as conversations"),
    ]


class ScenariosScreen(PaneScreen):
    """Controls on top, one row per scenario, the highlighted scenario's description below."""

    class Progress(Message):
        """From the worker running the catalog: a scenario's result, the run's end, or why it failed."""

        bubble = False

        def __init__(
            self, run_id: int, result: ScenarioResult | None = None, *, failed: str = "", cancelled: bool | None = None
        ) -> None:
            super().__init__()
            self.run_id, self.result, self.failed, self.cancelled = run_id, result, failed, cancelled

    HELP = """
## Scenarios

The catalog of hand-written situations (an urgent fraud report, a furious VIP, a novice with a
technical question, ...), each with a pass rule. **r** runs every scenario *trials* times with the
chosen policy (**o**: the default agent, a saved model or a baseline), each trial from its own seed.

Per scenario: passed trials, the pass rate, **pass^k** (the chance that k trials in a row all pass:
reliability, not just ability) and a verdict: *ok*, *part* (some passed), *none*, or *FAIL* when it
misses its own threshold. The summary says whether the policy meets the thresholds `cs-tui test`
applies (set for pass^4 at 16 trials). **enter** opens a scenario's trials, each replayed as a
conversation; **f** opens the worst one.

**e** writes the last run — the policy, the settings, each scenario's pass rate and pass^k, and every
trial (seed, strategies, outcome, return, why it passed or failed) — as a JSON file and a CSV (one row
per trial) in the `exports` folder of the saves folder; a notice names the files.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "run_catalog", "Run", tooltip="Run every scenario with the chosen policy"),
        Binding("x", "cancel_run", "Cancel", tooltip="Stop the run after the current scenario"),
        Binding("o", "focus_policy", "Policy", tooltip="Choose the policy"),
        Binding("f", "open_failure", "Worst", tooltip="Open the scenario with the lowest pass rate"),
        Binding("e", "export", "Export", tooltip="Write the last run (every trial) to JSON and CSV"),
        # an Input takes every printable key as text: escape (and enter, which also runs) gets out of it
        Binding("escape", "focus_table", "Leave field", tooltip="Back to the scenario table"),
    ]

    DEFAULT_CSS = """
    ScenariosScreen #controls { height: 1; padding: 0 1; }
    ScenariosScreen #controls Label { padding: 0 1 0 1; }
    ScenariosScreen #policy { width: 1fr; }
    ScenariosScreen #controls Input { width: 7; }
    ScenariosScreen #summary { height: auto; padding: 0 1; }
    ScenariosScreen #scenario-table { height: 1fr; overflow-x: hidden; }
    ScenariosScreen #scenario-detail { height: 4; padding: 0 1; border-top: solid $panel; color: $text-muted; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.scenarios: list[Scenario] = []
        self.thresholds: Thresholds | None = None
        self.results: dict[str, ScenarioResult] = {}
        self.run_settings: RunSettings | None = None
        self.running = False
        self._run_id = 0
        self._policy_chosen = False  # until the picker is first filled, the choice is the kept one

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="controls"):
            yield Select(
                [(DEFAULT_POLICY, DEFAULT_POLICY)], value=DEFAULT_POLICY, allow_blank=False, compact=True, id="policy"
            )
            yield Label("trials")
            yield Input(str(DEFAULT_TRIALS), type="integer", compact=True, id="trials")
            yield Label("k")
            yield Input("4", type="integer", compact=True, id="k")
            yield Label("seed")
            yield seed_input("0")
        yield Static("Choose a policy and press r to run the scenario catalog.", id="summary")
        table = ScenarioTable(id="scenario-table", cursor_type="row", zebra_stripes=True)
        # the numbers first: a long title is what gets cut on a narrow terminal
        # wide enough for "200/200" (MAX_TRIALS): a narrower column cuts the counts to "200/20"
        table.add_column("passed", key="passed", width=len(f"{MAX_TRIALS}/{MAX_TRIALS}"))
        table.add_column("rate", key="rate", width=4)
        table.add_column("pass^k", key="hat", width=6)
        table.add_column("verdict", key="mark", width=7)
        table.add_column("ind", key="industry", width=6)
        table.add_column("scenario", key="scenario")
        yield table
        yield Static("", id="scenario-detail")
        yield KeyBar()

    def on_mount(self) -> None:
        self.sub_title = "Scenarios"
        try:
            self.scenarios = load_scenarios()
            self.thresholds = load_thresholds(scenarios=self.scenarios)
        except (OSError, ValueError) as exc:
            self.query_one("#summary", Static).update(
                Text(f"The scenario catalog cannot be read: {exc}", style=tone("red"))
            )
            return
        table = self.query_one("#scenario-table", DataTable)
        for s in self.scenarios:
            table.add_row("", "", "", "", Text(s.industry), Text(s.title), key=s.name)  # data files: text, not markup
        self.query_one("#k", Input).value = str(self.thresholds.k)
        self.refresh_policies()
        table.focus()

    def on_screen_resume(self) -> None:
        # a run may have finished training while another pane was shown
        self.refresh_policies()

    def refresh_policies(self) -> None:
        """List the saved models and baselines in the policy picker, keeping the current choice; at first
        the choice kept from the last session, else the default agent, else the heuristic."""
        select: Select[str] = self.query_one("#policy", Select)
        current = select.value if self._policy_chosen else self.settings.scenario_policy
        choices = policy_choices(self.saves)
        values = [value for _, value in choices]
        default = str(self.saves / "default")
        choice = next(v for v in (current, default, DEFAULT_POLICY) if isinstance(v, str) and v in values)
        with select.prevent(Select.Changed):  # the list refilled, not a choice the user made
            select.set_options((Text(label), value) for label, value in choices)  # run names: text, not markup
            select.value = choice
        self._policy_chosen = True

    def on_select_changed(self, event: Select.Changed) -> None:
        """The user chose a policy: keep it for the next start."""
        if event.select.id == "policy" and isinstance(event.value, str):
            self.settings.scenario_policy = event.value
            self.post_message(self.Remember("scenario_policy", event.value))

    # -- running -----------------------------------------------------------------------------
    def action_run_catalog(self) -> None:
        """Run every scenario with the chosen policy in a worker; rows fill in as scenarios finish."""
        if not self.scenarios:
            self.notify("No scenarios to run", severity="error")
            return
        try:
            settings = parse_settings(
                self.query_one("#policy", Select).value,
                self.query_one("#trials", Input).value,
                self.query_one("#k", Input).value,
                seed_shown(self.query_one("#seed", Input)),
            )
        except ValueError as exc:
            self.notify(str(exc), title="Scenarios", severity="error")
            return
        self._run_id += 1
        self.run_settings, self.results, self.running = settings, {}, True
        table = self.query_one("#scenario-table", DataTable)
        for s in self.scenarios:
            for column in ("passed", "rate", "hat", "mark"):
                table.update_cell(s.name, column, "")
        self._set_summary()
        self._run(self._run_id, settings, list(self.scenarios), self.saves)

    @work(thread=True, exclusive=True, group="scenarios", exit_on_error=False)
    def _run(self, run_id: int, settings: RunSettings, scenarios: list[Scenario], saves: Path) -> None:
        from cs_tui.agents import load_agent  # a model loads in a process of its own (no torch here)

        worker = get_current_worker()
        agents: dict[tuple[str, int], Any] = {}
        # a baseline or a playbook is built for each scenario's env (the oracle plans for it, a playbook's turn
        # range is its max_turns); a model loads once
        is_baseline = settings.policy.startswith((BASELINE_PREFIX, PLAYBOOK_PREFIX))
        try:
            for scenario in scenarios:
                if worker.is_cancelled:
                    break
                # baselines are built for the scenario's env (the oracle plans for it); a model loads once
                key = (scenario.industry, scenario.max_turns) if is_baseline else ("", 0)
                if key not in agents:
                    agents[key] = load_agent(
                        settings.policy,
                        industry=scenario.industry,
                        max_turns=scenario.max_turns,
                        saves=saves,
                        seed=settings.seed,
                        apart=True,  # torch in a process of its own: the app's keys never wait for it
                    )
                self.post_message(
                    self.Progress(run_id, run_scenario(agents[key], scenario, settings.trials, settings.seed))
                )
        except Exception as exc:  # a broken model or policy must not take the app down: say why
            self.post_message(self.Progress(run_id, failed=f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(self.Progress(run_id, cancelled=worker.is_cancelled))

    def on_scenarios_screen_progress(self, message: Progress) -> None:
        if message.result is not None:
            self._show_result(message.run_id, message.result)
        elif message.failed:
            self._failed(message.run_id, message.failed)
        else:
            self._finished(message.run_id, bool(message.cancelled))

    def _show_result(self, run_id: int, result: ScenarioResult) -> None:
        if run_id != self._run_id or self.run_settings is None:
            return
        k = self.run_settings.k
        self.results[result.scenario.name] = result
        table = self.query_one("#scenario-table", DataTable)
        name = result.scenario.name
        table.update_cell(name, "passed", f"{result.passes}/{len(result.trials)}")
        table.update_cell(name, "rate", f"{result.pass_rate:.0%}")
        table.update_cell(name, "hat", f"{result.pass_hat_k(k):.2f}")
        table.update_cell(name, "mark", self._verdict(result))
        self._set_summary()

    def _verdict(self, result: ScenarioResult) -> Text:
        """The verdict column: never empty, so a failing row reads as failing, not as missing data."""
        judged = (
            self.thresholds is not None
            and self.run_settings is not None
            and self.run_settings.k == self.thresholds.k
            and result.scenario.name in self.thresholds.per_scenario
        )
        if self._misses([result], per_scenario_only=True):
            return Text("FAIL", style=tone("bold red"))
        if result.passes == len(result.trials) or judged:
            return Text("ok", style=tone("green"))
        if result.passes == 0:
            return Text("none", style=tone("red"))
        return Text("part", style=tone("yellow"))  # no threshold to judge it by (another k, or no rule)

    def _misses(self, results: list[ScenarioResult], *, per_scenario_only: bool = False) -> list[str]:
        if self.thresholds is None or self.run_settings is None:
            return []
        th = self.thresholds
        if self.run_settings.k != th.k:  # thresholds are stated for their own k
            return []
        missed = th.misses(results)
        return [m for m in missed if not m.startswith("overall")] if per_scenario_only else missed

    def _failed(self, run_id: int, reason: str) -> None:
        if run_id != self._run_id:
            return
        self.running = False
        self.notify(f"Could not run the scenarios: {reason}", title="Scenarios", severity="error", timeout=12)
        self._set_summary(error=reason)

    def _finished(self, run_id: int, cancelled: bool) -> None:
        if run_id != self._run_id:
            return
        self.running = False
        self._set_summary(cancelled=cancelled)

    def _set_summary(self, *, error: str | None = None, cancelled: bool = False) -> None:
        settings = self.run_settings
        if settings is None:
            return
        done = list(self.results.values())
        text = Text(no_wrap=True, overflow="ellipsis")
        if error:
            text.append(f"failed: {error}", style=tone("red"))
        elif done:
            rate = sum(r.pass_rate for r in done) / len(done)
            hat = sum(r.pass_hat_k(settings.k) for r in done) / len(done)
            text.append(f"{len(done)}/{len(self.scenarios)} scenarios × {settings.trials} trials · ")
            text.append(f"mean pass rate {rate:.0%} · mean pass^{settings.k} {hat:.2f}", style="bold")
            low, high = pass_hat_k_interval(done, settings.k)
            text.append(f"\npass^{settings.k}'s bootstrap 95 % interval {low:.2f}-{high:.2f}", style="dim")
            if self.running:
                text.append("\nrunning…", style="italic")
            elif cancelled:
                text.append("\ncancelled", style=tone("yellow"))
            elif self.thresholds is not None and settings.k == self.thresholds.k:
                missed = [m.removeprefix("overall: ") for m in self._misses(done)]
                if missed:
                    text.append(f"\nmisses the thresholds of cs-tui test: {'; '.join(missed)}", style=tone("red"))
                else:
                    text.append("\nmeets the thresholds of cs-tui test", style=tone("green"))
            elif self.thresholds is not None:
                text.append(f"\nthe thresholds are set for pass^{self.thresholds.k}: k {self.thresholds.k} to judge")
        else:
            text.append("running…" if self.running else "no results", style="italic")
        self.query_one("#summary", Static).update(text)

    def action_cancel_run(self) -> None:
        """Stop after the scenario being run."""
        if not self.running:
            self.notify("Nothing is running", severity="warning")
            return
        self.workers.cancel_group(self, "scenarios")

    # -- looking closer ----------------------------------------------------------------------
    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        name = event.row_key.value
        scenario = next((s for s in self.scenarios if s.name == name), None)
        if scenario is None:
            return
        # the pass rule first: on a short terminal a long description would push it out of the box
        text = Text(no_wrap=False, overflow="ellipsis")
        text.append("pass: " + scenario.criterion.describe() + "\n", style="italic")
        text.append(scenario.description)
        self.query_one("#scenario-detail", Static).update(text)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.open_scenario(str(event.row_key.value))

    def open_scenario(self, name: str) -> None:
        """Show the trials of scenario ``name`` (after a run)."""
        result = self.results.get(name)
        if result is None or self.run_settings is None:
            self.notify("Run the catalog first (r)", severity="warning")
            return
        self.app.push_screen(ScenarioTrialsScreen(result, policy_label(self.run_settings.policy), self.run_settings.k))

    def action_open_failure(self) -> None:
        """Open the scenario with the lowest pass rate."""
        if not self.results:
            self.notify("Run the catalog first (r)", severity="warning")
            return
        worst = min(self.results.values(), key=lambda r: r.pass_rate)
        self.open_scenario(worst.scenario.name)

    def action_export(self) -> None:
        """Write the last run's results (as far as it got) as JSON and CSV under the saves folder's
        ``exports``, in a thread; a toast names the files, or why there are none."""
        settings = self.run_settings
        if settings is None or not self.results:
            self.notify("Nothing to export yet: run the catalog first (r)", title="Export", severity="warning")
            return
        from cs_tui.export import exports_dir, scenario_run_export, stamp

        order = [s.name for s in self.scenarios]
        results = sorted(self.results.values(), key=lambda r: order.index(r.scenario.name))
        export = scenario_run_export(
            results, policy=policy_label(settings.policy), trials=settings.trials, k=settings.k, seed=settings.seed
        )
        what = f"the run of {len(results)} scenario{'s' * (len(results) != 1)}"
        self.export(exports_dir(self.saves), f"scenarios-{stamp()}", export, what)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in trials, k or seed: leave the field and run with what it says."""
        event.stop()
        self.action_focus_table()
        self.action_run_catalog()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # "Leave field" only means something (and only shows) while a field has the focus
        if action == "focus_table":
            return isinstance(self.focused, Input)
        return True

    def action_focus_table(self) -> None:
        """Leave a field: the focus goes back to the scenario table, where the pane's keys work."""
        self.query_one("#scenario-table", DataTable).focus()

    def action_focus_policy(self) -> None:
        """Open the policy picker: arrows choose, enter takes it, esc leaves it as it was."""
        select = self.query_one("#policy", Select)
        select.focus()
        select.expanded = True
