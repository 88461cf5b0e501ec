"""The tuning view (``y`` in the training pane): the studies of ``cs-tui tune`` and their trials, live.

It reads the study storage (the embedded one in the saves folder, or ``$CS_TUI_STORAGE``) every few
seconds in a thread: studies on the left; for the highlighted one its trials with their state,
% of oracle, best so far, run folder and parameters, and a one-line plot of % of oracle against
trial number (0-100 %). ``n`` opens a form and starts (or continues) a study as its own process, as the
training pane starts runs.
Optuna is imported in the reading thread only, never on the app's start-up path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Header, Label

from cs_tui.screens.pane import PaneScreen
from cs_tui.training import launcher
from cs_tui.training.search_space import format_params, shown_value
from cs_tui.widgets.key_bar import KeyBar
from cs_tui.widgets.study_form import NewStudyForm, StudyFormFields, StudyRequest

REFRESH_SECONDS = 2.0
STORAGE_ENV = "CS_TUI_STORAGE"
#: one character per trial, on a fixed 0-100 % scale (a sparkline's own min-max scale hides how good they are)
BLOCKS = " ▁▂▃▄▅▆▇█"
STATE_STYLE = {"complete": "green", "pruned": "yellow", "fail": "red", "running": "cyan", "waiting": "dim"}


@dataclass
class StudiesView:
    """What the thread read: every study's summary, the shown study's trial rows, or the error."""

    studies: list[tuple[str, int, float | None]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


def read_studies(saves: Path, storage: str | None, shown: str | None) -> StudiesView:
    """Read the storage (imports Optuna): never raises, an unreadable storage is ``error``."""
    from cs_tui.training import tuner

    try:
        opened = tuner.open_storage(storage, saves)
        import optuna

        summaries = optuna.get_all_study_summaries(opened, include_best_trial=True)
        studies = [(s.study_name, s.n_trials, s.best_trial.value if s.best_trial else None) for s in summaries]
        studies.sort()
        rows: list[dict[str, Any]] = []
        name = shown if shown in {s[0] for s in studies} else (studies[0][0] if studies else None)
        if name is not None:
            rows = tuner.trial_rows(tuner.load(opened, name))
        return StudiesView(studies, rows)
    except tuner.TuneError as exc:
        return StudiesView(error=str(exc))
    except Exception as exc:  # a storage half-written by a crashed worker, a server gone: say so, keep going
        return StudiesView(error=f"{type(exc).__name__}: {exc}")


def plot(values: list[float], width: int = 40) -> str:
    """% of oracle by trial number as one line of blocks (0 % empty, 100 % full), the last ``width`` trials."""
    if not values:
        return ""
    shown = values[-width:]
    bars = "".join(BLOCKS[round(min(max(v, 0.0), 100.0) / 100 * (len(BLOCKS) - 1))] for v in shown)
    return f"% of oracle by trial (0-100): {bars}"


class TuningScreen(PaneScreen):
    """Studies on the left, the highlighted study's trials and their % of oracle on the right."""

    HELP = """
## Tuning

The hyperparameter studies of `cs-tui tune`: in the saves folder's own storage, or at the URL in
`CS_TUI_STORAGE` (a PostgreSQL server shared by several hosts). On the left each study with its
trials and its best % of oracle; on the right the highlighted study's trials — state (running,
complete, pruned, fail, waiting), % of oracle on held-out conversations (a pruned or running trial
shows its last evaluation, marked *), the best so far, its run folder (open it in the training pane)
and its parameters — and a one-line plot of % of oracle by trial number (0-100 %). It refreshes every two seconds,
whichever host the workers run on.

**n** opens a form (algorithm, industry, trials, workers, steps per trial, seed, study name) and
starts the study as its own process, which runs on after the app closes; a study name that exists
continues that study. The output goes to `saves/.logs/tune-STUDY.log`. `cs-tui tune --study NAME --best` writes the
best trial's hyperparameters for `cs-tui train --hyperparams`.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new_study", "New study", tooltip="Start or continue a study"),
        Binding("escape", "close", "Back", tooltip="Back to the training pane"),
    ]

    DEFAULT_CSS = """
    TuningScreen #studies-pane { width: 28; border-right: tall $panel; }
    TuningScreen #trials-pane { width: 1fr; }
    TuningScreen #values { height: 1; margin: 0 1; }
    TuningScreen #tuning-status { height: auto; width: 1fr; margin: 0 1; color: $text-muted; }  /* wraps, not cut */
    """

    def __init__(self, storage: str | None = None) -> None:
        super().__init__()
        self.storage = storage if storage is not None else os.environ.get(STORAGE_ENV) or None
        self.shown: str | None = None
        self.view = StudiesView()

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            with Vertical(id="studies-pane"):
                yield Label("Studies", id="studies-title")
                studies: DataTable[str] = DataTable(id="studies", cursor_type="row", zebra_stripes=True)
                studies.add_columns("study", "trials", "best")
                yield studies
            with Vertical(id="trials-pane"):
                yield Label("", id="tuning-status")
                yield Label("", id="values")
                trials: DataTable[str] = DataTable(id="trials", cursor_type="row", zebra_stripes=True)
                trials.add_columns("#", "state", "% oracle", "best", "run", "parameters")
                yield trials
        yield KeyBar()

    def on_mount(self) -> None:
        self.sub_title = "Tuning"
        self.set_interval(REFRESH_SECONDS, self.refresh_studies)
        self.refresh_studies()

    def refresh_studies(self) -> None:
        self._read(self.saves, self.storage, self.shown)

    class StudiesRead(Message):
        """The studies, read in a worker."""

        bubble = False

        def __init__(self, view: StudiesView) -> None:
            super().__init__()
            self.view = view

    @work(thread=True, exclusive=True, group="tuning-read")
    def _read(self, saves: Path, storage: str | None, shown: str | None) -> None:
        self.post_message(self.StudiesRead(read_studies(saves, storage, shown)))

    def on_tuning_screen_studies_read(self, message: StudiesRead) -> None:
        self._show(message.view)

    def _show(self, view: StudiesView) -> None:
        self.view = view
        status = self.query_one("#tuning-status", Label)
        if view.error:
            status.update(f"[red]cannot read the studies: {view.error}[/]")
            return
        studies = self.query_one("#studies", DataTable)
        keep = studies.cursor_row
        studies.clear()
        for name, n, best in view.studies:
            studies.add_row(name, str(n), "–" if best is None else f"{best:.1f}", key=name)
        if view.studies:
            studies.move_cursor(row=min(keep, len(view.studies) - 1))
        if not view.studies:
            status.update("No studies yet: n starts one (or run cs-tui tune)")
        self._show_trials(view.rows)

    def _show_trials(self, rows: list[dict[str, Any]]) -> None:
        trials = self.query_one("#trials", DataTable)
        trials.clear()
        values: list[float] = []
        for row in rows:
            shown, value = shown_value(row)
            if value is not None:
                values.append(value)
            params = format_params(row["params"])
            style = STATE_STYLE.get(row["state"], "")
            trials.add_row(
                str(row["number"]),
                f"[{style}]{row['state']}[/]" if style else row["state"],
                shown,
                "–" if row["best_so_far"] is None else f"{row['best_so_far']:.1f}",
                row["run"] or "–",
                params,
            )
        self.query_one("#values", Label).update(plot(values))
        if rows:
            best = max((r["best_so_far"] for r in rows if r["best_so_far"] is not None), default=None)
            running = sum(r["state"] == "running" for r in rows)
            # short enough for the right half of 80 columns; the plot below is % of oracle by trial
            shown_best = "–" if best is None else f"{best:.1f} %"
            self.query_one("#tuning-status", Label).update(
                f"{len(rows)} trial{'s' if len(rows) != 1 else ''}, {running} running · best {shown_best} of oracle"
            )

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        if event.data_table.id == "studies" and key is not None and self.shown != key:
            self.shown = str(key)
            self.refresh_studies()

    def action_close(self) -> None:
        self.dismiss()

    def action_new_study(self) -> None:
        """Open the new-study form; a filled-in form starts ``cs-tui tune`` as its own process."""
        settings = self.settings
        form = NewStudyForm(settings.study_form or StudyFormFields(industry=settings.industry))

        def closed(request: StudyRequest | None) -> None:
            # the fields as left, for the next time in this app session (a kept study name continues it)
            settings.study_form = form.fields
            self._start(request)

        self.app.push_screen(form, closed)

    def _start(self, request: StudyRequest | None) -> None:
        """``cs-tui tune`` in a new session (like a training run): closing the app or SSH does not stop it."""
        if request is None:
            return
        saves = self.saves.absolute()
        try:
            log_path = launcher.launch(saves, f"tune-{request.study}", request.argv(saves, self.storage),
                                       stdout_too=True).log_path  # fmt: skip
        except OSError as exc:
            self.notify(f"cannot start the study: {exc}", severity="error", markup=False)
            return
        self.shown = request.study
        workers = f", {request.jobs} workers" if request.jobs > 1 else ""
        trials = f"{request.trials} trial{'s' if request.trials != 1 else ''}"
        self.notify(f"study {request.study} started ({trials}{workers}); output in {log_path}",
                    markup=False)  # fmt: skip
        self.refresh_studies()
