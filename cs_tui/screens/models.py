"""Models and analytics: saved models with their metadata and last evaluation; evaluate one; compare two.

Every model is evaluated by ``cs_env.evaluate.evaluate`` on the same customers (same industry, episodes
and seed), so two reports compare like with like. Loading a model imports torch, so it happens only in a
worker, when asked; a model file that cannot be loaded safely is a notification with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from rich.console import Group
from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Header, Input, Label, Select, Static
from textual.widgets.data_table import ColumnKey

from cs_env.evaluate import MAX_EPISODES
from cs_tui.agents import BASELINE_PREFIX, MODEL_FILES, baseline_note, baseline_specs, playbook_specs
from cs_tui.evaluation_view import comparison, evaluation
from cs_tui.labels import FactLines, middle_cut, tone
from cs_tui.numbers import number, pct_of_oracle, rate
from cs_tui.screens.pane import PaneScreen
from cs_tui.training.run_record import EvalRecord, RunError, RunRecord
from cs_tui.training.runs import list_runs
from cs_tui.widgets.bars import ShareBars
from cs_tui.widgets.industry_select import industry_select
from cs_tui.widgets.key_bar import KeyBar

MIN_EPISODES = 2

WIDE = 100  # from this terminal width on, the models list is wider so whole default run names fit
NARROW = 70  # below this one it is narrower, so the details keep their words whole
NAME_WIDTH = {"-narrow": 16, "": 20, "-wide": 30}  # the model column, by the width class of the pane


def width_class(width: int) -> str:
    """The pane's class for a terminal ``width`` columns wide: ``-narrow``, ``""`` or ``-wide``."""
    return "-wide" if width >= WIDE else "-narrow" if width < NARROW else ""


@dataclass
class ModelEntry:
    """A row of the models list: a saved run with a model file, or a baseline."""

    spec: str  # what load_agent takes
    name: str
    kind: str  # "model" | "playbook" | "baseline"
    record: RunRecord | None = None  # a model's run's meta.json (None for a baseline, or when it is broken)
    meta_error: str | None = None
    model_file: Path | None = None


def baseline_entries() -> list[ModelEntry]:
    """Every baseline ``cs-tui evaluate`` takes, as yardsticks listed under the models."""
    return [ModelEntry(spec, spec.removeprefix(BASELINE_PREFIX), "baseline") for spec in baseline_specs()]


def list_models(saves: Path) -> list[ModelEntry]:
    """Runs that hold a model (newest first), then every baseline."""
    entries: list[ModelEntry] = []
    for run in list_runs(saves):
        model_file = next((run.path / n for n in MODEL_FILES if (run.path / n).is_file()), None)
        if model_file is None:
            continue
        try:
            record, error = run.record(), None
        except RunError as exc:
            record, error = None, str(exc)
        entries.append(ModelEntry(str(run.path), run.name, "model", record, error, model_file))
    entries += [ModelEntry(spec, Path(spec.split(":", 1)[1]).name, "playbook") for spec in playbook_specs(saves)]
    return entries + baseline_entries()


def _flat(hp: dict[str, Any]) -> list[tuple[str, Any]]:
    """Hyperparameters one level deep: ``{"model": {"n_steps": 256}}`` → ``[("n_steps", 256)]``."""
    items: list[tuple[str, Any]] = []
    for key, value in hp.items():
        if isinstance(value, dict):
            items += list(value.items())
        else:
            items.append((key, value))
    return items


def _eval_line(label: str, ev: EvalRecord) -> str:
    line = f"{label}: return {number(ev.mean_return)} · {pct_of_oracle(ev.pct_of_oracle)}% of oracle"
    return line + f" · resolved {rate(ev.resolution_rate)} @ {ev.timesteps:,}"


def describe_entry(entry: ModelEntry) -> Text:
    """What a run's meta.json says about its model, and its evaluations during training (one line each)."""
    if entry.kind == "baseline":
        return Text(f"{entry.spec} · {baseline_note(entry.spec)} · a yardstick to compare with")
    if entry.kind == "playbook":
        return describe_playbook(entry)
    text = Text()
    text.append(entry.name, style="bold")
    if entry.meta_error or entry.record is None:
        text.append(f"\n{entry.meta_error}", style=tone("red"))
        return text
    m = entry.record
    text.append(f" · {m.algorithm.upper()} · {m.industry} · {m.status}")
    steps = f"{m.timesteps_done:,}" + (f"/{m.total_timesteps:,}" if m.total_timesteps else "")
    text.append(f"\n{steps} steps · seed {m.seed}")
    if m.created_at:
        text.append(f" · {m.created_at[:16].replace('T', ' ')}")
    if entry.model_file is not None:
        text.append(f" · {entry.model_file.name}")
    if m.hyperparameters:
        text.append("\n" + " ".join(f"{k}={v}" for k, v in _flat(m.hyperparameters)), style="dim")
    if m.last_eval is not None:
        text.append("\n" + _eval_line("last eval", m.last_eval))
    if m.best_eval is not None and m.best_eval != m.last_eval:
        text.append("\n" + _eval_line("best eval", m.best_eval))
    return text


def describe_playbook(entry: ModelEntry) -> Text:
    """A playbook file's rules in words, first to last (or why the file cannot be read)."""
    from cs_env.playbook import PlaybookError, load

    text = Text()
    text.append(entry.name, style="bold")
    try:
        playbook = load(entry.spec.split(":", 1)[1])
    except PlaybookError as exc:
        text.append(f"\n{exc}", style=tone("red"))
        return text
    text.append(f" · a playbook of {len(playbook.rules)} rules, first match decides")
    for i, rule in enumerate(playbook.rules):
        text.append(f"\n{i + 1}. {playbook.describe(i)}")
        if rule.note:
            text.append(f"  ({rule.note})", style="dim")
    return text


@dataclass(frozen=True)
class EvalSettings:
    industry: str
    episodes: int
    seed: int = 0


class CompareScreen(ModalScreen[None]):
    """Two evaluated policies side by side: business metrics, by industry, tier and inquiry, strategy usage bars."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Back")]

    DEFAULT_CSS = """
    CompareScreen > VerticalScroll {
        background: $surface;
        border: tall $primary;
        padding: 0 0 0 1;  /* on the right, the children's margin: a gap before the scrollbar */
    }
    CompareScreen > VerticalScroll > * { margin: 0 1 0 0; }
    CompareScreen > VerticalScroll > .section { color: $text-muted; margin: 1 1 0 0; }
    """

    def __init__(self, a: dict[str, Any], b: dict[str, Any], names: tuple[str, str]) -> None:
        super().__init__()
        self.reports = (a, b)
        self.names = names

    def compose(self) -> ComposeResult:
        a, b = self.reports
        with VerticalScroll():
            yield Static(Text(f"A {self.names[0]}  vs  B {self.names[1]}", style="bold"))
            yield Static(comparison(a, b, self.names), id="compare-table")
            yield Label("Strategy usage (A first, B under it)", classes="section")
            bars = ShareBars(id="compare-usage")
            bars.values = dict((a.get("overall") or {}).get("strategy_usage") or {})
            bars.compare = dict((b.get("overall") or {}).get("strategy_usage") or {})
            yield bars
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()

    def action_close(self) -> None:
        """Back to the models list."""
        self.dismiss(None)


class ModelTable(DataTable[Any]):
    """A row-cursor table whose enter key is shown in the footer ("Evaluate")."""

    BINDINGS: ClassVar[list[BindingType]] = [
        # not in the key bar: the screen's "e Evaluate" is the same action
        Binding("enter", "select_cursor", "Evaluate", show=False, tooltip="Evaluate the highlighted model"),
    ]


class ModelsScreen(PaneScreen):
    """Models on the left, the highlighted one's details and evaluation on the right."""

    class ModelsListed(Message):
        """The saved models, read in a worker."""

        bubble = False

        def __init__(self, entries: list[ModelEntry]) -> None:
            super().__init__()
            self.entries = entries

    class Evaluated(Message):
        """One model's evaluation, done in a worker: its report, or why it failed (``report`` None)."""

        bubble = False

        def __init__(
            self, entry: ModelEntry, settings: EvalSettings, report: dict[str, Any] | None, reason: str = ""
        ) -> None:
            super().__init__()
            self.entry, self.settings, self.report, self.reason = entry, settings, report, reason

    class EvaluationsDone(Message):
        """A worker evaluated all it was given; ``then_compare`` opens the comparison."""

        bubble = False

        def __init__(self, then_compare: bool) -> None:
            super().__init__()
            self.then_compare = then_compare

    HELP = """
## Models

Every saved model (and the shipped `default`) with its training details. **e** evaluates the
highlighted one on fresh conversations (the industry and the number of episodes are on top): mean
return with its 95 % CI, **% of oracle** (0 is random play, 100 the oracle that sees the hidden
traits), resolution, escalation and abandonment rates, satisfaction, and the breakdown by industry,
tier and inquiry. Small samples give wide intervals: use a few hundred episodes or more.

**a** and **b** mark two models; **c** compares them side by side (evaluating them first if needed).

**w** writes the highlighted model's evaluation (as shown: that industry and number of episodes) as a
JSON file and a CSV (one row per group: overall, each industry, tier and inquiry) in the `exports`
folder of the saves folder.

**k** opens the Playbook view: the highlighted playbook's rules (or the default playbook's) in words,
how often each fires and its % of oracle where it fires.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "evaluate", "Evaluate", tooltip="Evaluate the highlighted model (business metrics)"),
        Binding("a", "mark('a')", "Mark A", tooltip="Mark the highlighted model as A for a comparison"),
        Binding("b", "mark('b')", "Mark B", tooltip="Mark the highlighted model as B for a comparison"),
        Binding("c", "compare", "Compare", tooltip="Compare A and B side by side (evaluates them if needed)"),
        # before Refresh: where the bar has room for one of them (80 columns), this one (the list refreshes itself)
        Binding("k", "open_playbook", "Playbook", tooltip="The Playbook view: a playbook's rules at work"),
        Binding("r", "refresh_models", "Refresh", tooltip="Read saves/ again"),
        # (e evaluates here; w writes) not in the key bar, which has no room left at 80 columns: help lists it
        Binding(
            "w", "export", "Export", tooltip="Write the highlighted model's evaluation to JSON and CSV", show=False
        ),
    ]

    DEFAULT_CSS = """
    ModelsScreen #eval-controls { height: 1; padding: 0 1; }
    ModelsScreen #eval-controls Label { padding: 0 1; }
    ModelsScreen #industry { width: 16; }
    ModelsScreen #episodes { width: 9; }
    ModelsScreen #marks { width: 1fr; padding-left: 2; color: $text-muted; }
    ModelsScreen #models { width: 32; height: 1fr; border-right: tall $panel; }
    ModelsScreen.-wide #models { width: 42; }
    ModelsScreen.-narrow #models { width: 28; }
    ModelsScreen.-narrow #model-detail { scrollbar-size-vertical: 1; }
    ModelsScreen #model-detail { height: 1fr; padding: 0 0 0 1; }  /* a gap before the scrollbar: */
    ModelsScreen #model-detail > * { margin: 0 1 0 0; }
    ModelsScreen #model-meta { text-wrap: nowrap; text-overflow: ellipsis; }
    ModelsScreen #model-detail > #model-usage-label { color: $text-muted; margin: 1 1 0 0; width: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__()
        # the baselines until the saves folder has been read (a key pressed before that finds them)
        self.entries: list[ModelEntry] = baseline_entries()
        self.reports: dict[tuple[str, EvalSettings], dict[str, Any]] = {}
        self.marks: dict[str, str] = {}  # "a" / "b" -> spec
        self.evaluating: set[str] = set()

    def compose(self) -> ComposeResult:
        industry = self.settings.industry
        yield Header()
        with Horizontal(id="eval-controls"):
            yield Label("evaluate on")
            yield industry_select(industry)
            yield Label("episodes")
            yield Input("1000", type="integer", compact=True, id="episodes")
            yield Label("", id="marks")
        with Horizontal():
            table = ModelTable(id="models", cursor_type="row", zebra_stripes=True)
            table.add_column("model", key="model", width=NAME_WIDTH[""])
            table.add_column("alg", key="alg", width=4)
            table.add_column("", key="mark", width=2)
            yield table
            with VerticalScroll(id="model-detail"):
                yield Static("", id="model-meta")
                yield Static("", id="model-eval")
                yield Label("Strategy usage", id="model-usage-label")
                yield ShareBars(id="model-usage")
        yield KeyBar()

    def on_mount(self) -> None:
        self.sub_title = "Models"
        self.refresh_models()
        self.query_one("#models", DataTable).focus()

    def on_screen_resume(self) -> None:
        self.refresh_models()

    def on_resize(self, event: events.Resize) -> None:
        layout = width_class(event.size.width)
        if layout != self._width_class:
            for name in ("-narrow", "-wide"):
                self.set_class(layout == name, name)
            self.query_one("#models", DataTable).columns[ColumnKey("model")].width = NAME_WIDTH[layout]
            self.refresh_models()

    # -- the list ----------------------------------------------------------------------------
    def refresh_models(self) -> None:
        """Read the saved models again in a thread (a run folder may hold anything, even a FIFO that
        never answers: the UI thread never reads one), then refill the list keeping the highlighted row."""
        self._read_models(self.saves)

    @work(thread=True, exclusive=True, group="model-list", exit_on_error=False)
    def _read_models(self, saves: Path) -> None:
        self.post_message(self.ModelsListed(list_models(saves)))

    def on_models_screen_models_listed(self, message: ModelsListed) -> None:
        self._fill_models(message.entries)

    def _fill_models(self, entries: list[ModelEntry]) -> None:
        table = self.query_one("#models", DataTable)
        current = self.current.spec if self.entries and table.row_count else None
        self.entries = entries
        table.clear()
        for entry in self.entries:
            alg = ("" if entry.record is None else entry.record.algorithm.upper()) if entry.kind == "model" else "base"
            alg = "rules" if entry.kind == "playbook" else alg
            name = middle_cut(entry.name, NAME_WIDTH[self._width_class])
            table.add_row(Text(name), Text(alg), self._mark_of(entry.spec), key=entry.spec)  # text, not markup
        specs = [e.spec for e in self.entries]
        if current in specs:
            table.move_cursor(row=specs.index(current))
        self._show(self.current)

    def _mark_of(self, spec: str) -> str:
        return "".join(m.upper() for m, s in sorted(self.marks.items()) if s == spec)

    @property
    def current(self) -> ModelEntry:
        """The highlighted entry."""
        row = self.query_one("#models", DataTable).cursor_row
        return self.entries[min(max(row, 0), len(self.entries) - 1)]

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if 0 <= event.cursor_row < len(self.entries):
            self._show(self.entries[event.cursor_row])

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_evaluate()

    @property
    def _width_class(self) -> str:
        return "-wide" if self.has_class("-wide") else "-narrow" if self.has_class("-narrow") else ""

    def _show(self, entry: ModelEntry) -> None:
        self.query_one("#model-meta", Static).update(FactLines(describe_entry(entry)))
        settings = self._settings(quiet=True)
        report = self.reports.get((entry.spec, settings)) if settings else None
        eval_widget = self.query_one("#model-eval", Static)
        usage = self.query_one("#model-usage", ShareBars)
        usage_label = self.query_one("#model-usage-label", Label)
        if report is not None:
            # the strategy usage is part of the evaluation, as cs-tui evaluate prints it
            eval_widget.update(Group(Text("\nEvaluation", style="bold"), evaluation(report)))
            usage.values = {}
            usage.display = usage_label.display = False
        else:
            usage.display = usage_label.display = True
            busy = entry.spec in self.evaluating
            eval_widget.update(Text("\nevaluating…" if busy else "\nnot evaluated here: press e", style="italic"))
            last = None if entry.record is None else entry.record.last_eval
            usage.values = {} if last is None else last.strategy_usage
            usage_label.update("Strategy usage (last evaluation during training)" if usage.values else "")

    def on_select_changed(self, event: Select.Changed) -> None:
        # another industry: show the report for it, if there is one
        if self.entries:
            self._show(self.current)

    def on_input_changed(self, event: Input.Changed) -> None:
        if self.entries:
            self._show(self.current)

    # -- evaluating --------------------------------------------------------------------------
    def _settings(self, *, quiet: bool = False) -> EvalSettings | None:
        industry = self.query_one("#industry", Select).value
        raw = self.query_one("#episodes", Input).value
        try:
            episodes = int(raw)
        except ValueError:
            episodes = -1
        if not isinstance(industry, str) or not MIN_EPISODES <= episodes <= MAX_EPISODES:
            if not quiet:
                self.notify(f"episodes: a whole number from {MIN_EPISODES} to {MAX_EPISODES:,}", severity="error")
            return None
        return EvalSettings(industry, episodes)

    def action_evaluate(self) -> None:
        """Evaluate the highlighted model or baseline in a worker (loading a model happens there)."""
        settings = self._settings()
        if settings is None:
            return
        entry = self.current
        if (entry.spec, settings) in self.reports:
            self._show(entry)
            return
        self._evaluate([entry], settings)

    def _evaluate(self, entries: list[ModelEntry], settings: EvalSettings, then_compare: bool = False) -> None:
        todo = [e for e in entries if e.spec not in self.evaluating]
        if not todo:
            return
        self.evaluating.update(e.spec for e in todo)
        self._show(self.current)
        self._evaluate_in_thread(todo, settings, self.saves, then_compare)

    @work(thread=True, group="evaluate", exit_on_error=False)
    def _evaluate_in_thread(
        self, entries: list[ModelEntry], settings: EvalSettings, saves: Path, then_compare: bool
    ) -> None:
        from cs_env.evaluate import evaluate
        from cs_tui.agents import AgentError, load_agent  # a model loads in a process of its own (no torch here)
        from cs_tui.training.model_file.format import ModelLoadError

        for entry in entries:
            max_turns = 10 if entry.record is None else entry.record.max_turns
            try:
                agent = load_agent(entry.spec, industry=settings.industry, max_turns=max_turns, saves=saves, apart=True)
                report = evaluate(
                    agent,
                    industry=settings.industry,
                    episodes=settings.episodes,
                    seed=settings.seed,
                    max_turns=max_turns,
                ).as_dict()
            except Exception as exc:  # a broken model must not take the app down: say why
                # our own refusals say what is wrong in words; anything else keeps its type for a bug report
                said = isinstance(exc, AgentError | ModelLoadError | OSError | ValueError) and str(exc)
                self.post_message(self.Evaluated(entry, settings, None, said or f"{type(exc).__name__}: {exc}"))
                return
            self.post_message(self.Evaluated(entry, settings, report))
        self.post_message(self.EvaluationsDone(then_compare))

    def on_models_screen_evaluated(self, message: Evaluated) -> None:
        if message.report is None:
            self._eval_failed(message.entry, message.reason)
        else:
            self._eval_done(message.entry, message.settings, message.report)

    def on_models_screen_evaluations_done(self, message: EvaluationsDone) -> None:
        if message.then_compare:
            self.action_compare()

    def _eval_done(self, entry: ModelEntry, settings: EvalSettings, report: dict[str, Any]) -> None:
        self.evaluating.discard(entry.spec)
        self.reports[(entry.spec, settings)] = report
        if self.entries and self.current.spec == entry.spec:
            self._show(entry)
        pct = (report.get("overall") or {}).get("pct_of_oracle")
        self.notify(f"{entry.name}: {pct_of_oracle(pct)}% of oracle on {settings.industry}", title="Evaluated")

    def _eval_failed(self, entry: ModelEntry, reason: str) -> None:
        self.evaluating.clear()
        self.notify(f"Could not evaluate {entry.name}: {reason}", title="Models", severity="error", timeout=12)
        if self.entries:
            self._show(self.current)

    # -- comparing ---------------------------------------------------------------------------
    def action_mark(self, which: str) -> None:
        """Mark the highlighted entry as A or B."""
        self.marks[which] = self.current.spec
        table = self.query_one("#models", DataTable)
        for entry in self.entries:
            if entry.spec in table.rows:  # (the list may still be being read: it shows the marks when filled)
                table.update_cell(entry.spec, "mark", self._mark_of(entry.spec))
        self._show_marks()

    def _show_marks(self) -> None:
        names = {e.spec: e.name for e in self.entries}
        parts = [f"{m.upper()}={names.get(s, Path(s).name)}" for m, s in sorted(self.marks.items())]
        self.query_one("#marks", Label).update(Text(" ".join(parts)))  # run names: text, not markup

    def action_compare(self) -> None:
        """Show A and B side by side; evaluates whichever has no report for the current settings."""
        if set(self.marks) != {"a", "b"}:
            self.notify("Mark two models first: a on one, b on the other", severity="warning")
            return
        settings = self._settings()
        if settings is None:
            return
        by_spec = {e.spec: e for e in self.entries}
        a, b = self.marks["a"], self.marks["b"]
        if a == b:  # a model against itself: every difference is zero, nothing to learn
            self.notify(
                f"A and B are both {by_spec[a].name if a in by_spec else a}: mark another model as "
                f"{'b' if self.current.spec == a else 'a'} to compare",
                severity="warning",
            )
            return
        if a not in by_spec or b not in by_spec:
            self.notify("A marked model is gone from saves/; mark again", severity="warning")
            return
        missing = [by_spec[s] for s in (a, b) if (s, settings) not in self.reports]
        if missing:
            if not any(e.spec in self.evaluating for e in missing):
                self.notify("Evaluating before comparing…")
                self._evaluate(list({e.spec: e for e in missing}.values()), settings, then_compare=True)
            return
        names = (by_spec[a].name, by_spec[b].name)
        self.app.push_screen(CompareScreen(self.reports[(a, settings)], self.reports[(b, settings)], names))

    def action_export(self) -> None:
        """Write the highlighted entry's evaluation (for the industry and episodes shown) as JSON and CSV
        under the saves folder's ``exports``, in a thread; a toast names the files, or why there are none."""
        settings = self._settings()
        if settings is None:
            return
        entry = self.current
        report = self.reports.get((entry.spec, settings))
        if report is None:
            self.notify(f"Evaluate {entry.name} first (e), then export it", title="Export", severity="warning")
            return
        from cs_tui.export import evaluation_export, exports_dir, stamp

        stem = f"evaluation-{Path(entry.name).stem}-{stamp()}"
        self.export(exports_dir(self.saves), stem, evaluation_export(report), f"the evaluation of {entry.name}")

    def action_open_playbook(self) -> None:
        """The Playbook view: the highlighted playbook's rules (else the default playbook's), how often each
        fires and its % of oracle there."""
        from cs_tui.screens.playbook import PlaybookScreen  # imported on first use

        entry = self.current
        path = Path(entry.spec.split(":", 1)[1]) if entry.kind == "playbook" else None
        self.app.push_screen(PlaybookScreen(path))

    def action_refresh_models(self) -> None:
        """Read saves/ again."""
        self.refresh_models()
