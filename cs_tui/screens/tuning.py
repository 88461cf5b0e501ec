"""The tuning view (``y`` in the training pane): the studies of ``cs-tui tune`` and their trials, live.

It reads the study storage (the embedded one in the saves folder, or ``$CS_TUI_STORAGE``) every few
seconds in a thread: studies on the left; for the highlighted one its trials with their state,
% of oracle, best so far, run folder and parameters, the highlighted trial in full below them, and a
one-line plot of % of oracle against trial number (0-100 %). ``n`` opens a form and starts (or
continues) a study as its own process, as the training pane starts runs; ``x`` stops the study's
workers on this host (SIGTERM, only the processes holding its worker mark) and ``u`` continues it.
Optuna is imported in the reading thread only, never on the app's start-up path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Header, Label, Static
from textual.widgets.data_table import ColumnKey

from cs_env.files import is_int
from cs_tui import launcher
from cs_tui.labels import middle_cut
from cs_tui.launcher import Launched
from cs_tui.screens.pane import PaneScreen
from cs_tui.screens.study_form import NewStudyForm, StudyFormFields, StudyRequest
from cs_tui.training.search_space import STATE_STYLE, format_params, shown_state, shown_value
from cs_tui.widgets.key_bar import KeyBar

REFRESH_SECONDS = 2.0
STORAGE_ENV = "CS_TUI_STORAGE"
#: one character per trial, on a fixed 0-100 % scale (a sparkline's own min-max scale hides how good they are)
BLOCKS = " ▁▂▃▄▅▆▇█"
WIDE = 110  # from this terminal width on, the studies list is wider so longer study names fit
#: the study column's width in the studies list (28 columns wide, 40 when wide), by wide: with the trials
#: and best columns and the cells' padding it fills the list without a sideways scroll
NAME_WIDTH = {False: 10, True: 22}
RUN_WIDTH = 16  # the trials' run column: a trial's folder is STUDY-tNNNN, cut in the middle to keep -tNNNN


@dataclass(frozen=True)
class StudyLine:
    """One study as the storage summarises it, with what ``u`` needs to continue it."""

    name: str
    trials: int
    best: float | None
    #: the settings every worker must share (``SETTINGS``; None for a study made elsewhere)
    settings: dict[str, Any] | None = None
    #: the complete or pruned trials it was asked for
    wanted: int | None = None
    #: the search space file it draws from (None: the shipped one)
    search_space: str | None = None


@dataclass
class StudiesView:
    """What the thread read: every study's summary, the shown study's trial rows and its workers on this
    host, or the error."""

    studies: list[StudyLine] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    shown: str | None = None  # the study the rows are of
    workers: int = 0  # its processes on this host (holding its worker mark)

    @property
    def shown_line(self) -> StudyLine | None:
        return next((s for s in self.studies if s.name == self.shown), None)


def read_studies(saves: Path, storage: str | None, shown: str | None) -> StudiesView:
    """Read the storage (imports Optuna): never raises, an unreadable storage is ``error``."""
    from cs_tui.tuning.options import TuneError
    from cs_tui.tuning.results import load_study, trial_rows
    from cs_tui.tuning.storage import open_storage, study_workers

    try:
        opened = open_storage(storage, saves)
        import optuna

        summaries = optuna.get_all_study_summaries(opened, include_best_trial=True)
        studies = sorted(
            (StudyLine(s.study_name, s.n_trials, s.best_trial.value if s.best_trial else None,
                       _settings(s.user_attrs.get("settings")), _whole(s.user_attrs.get("trials_wanted")),
                       _text(s.user_attrs.get("search_space")))
             for s in summaries),
            key=lambda line: line.name,
        )  # fmt: skip
        rows: list[dict[str, Any]] = []
        name = shown if shown in {s.name for s in studies} else (studies[0].name if studies else None)
        if name is not None:
            rows = trial_rows(load_study(opened, name))
        workers = len(study_workers(saves, name)) if name is not None else 0
        return StudiesView(studies, rows, shown=name, workers=workers)
    except TuneError as exc:
        return StudiesView(error=str(exc))
    except Exception as exc:  # a storage half-written by a crashed worker, a server gone: say so, keep going
        return StudiesView(error=f"{type(exc).__name__}: {exc}")


def _settings(value: object) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _whole(value: object) -> int | None:
    return value if is_int(value) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def continue_argv(saves: Path, line: StudyLine, storage: str | None) -> list[str] | None:
    """``cs-tui tune`` continuing ``line``'s study with one worker and its own settings (None when the
    study does not record them: it was not started by ``cs-tui tune``)."""
    from cs_tui.tuning.options import SETTINGS  # the settings every worker of a study must share

    settings = line.settings or {}
    if line.wanted is None or any(key not in settings for key in SETTINGS):
        return None
    argv = ["--saves", str(saves), "tune", "--study", line.name, "--trials", str(line.wanted)]
    for key in SETTINGS:  # each is the flag of the same name
        argv += [f"--{key.replace('_', '-')}", str(settings[key])]
    if line.search_space:  # the same space: another one's choices clash with the trials' own
        argv += ["--search-space", line.search_space]
    return argv + (["--storage", storage] if storage else [])


def trial_details(row: dict[str, Any]) -> Text:
    """The highlighted trial in full (the table cuts its parameters): what it is, all its parameters, why
    it failed or stopped. Text, never markup: parameters and errors are shown as they are."""
    shown, _ = shown_value(row)
    state = shown_state(row)
    head = Text(f"trial {row['number']} · ")
    head.append(state, style=STATE_STYLE.get(state, ""))
    if shown != "–":
        head.append(f" · {shown} % of oracle")
    if row.get("retry_of") is not None:
        head.append(f" · retry of trial {row['retry_of']}")
    # the parameters, then why it stopped or failed, then its run folder: a long study's folder name must not
    # push them out of view
    lines = [head, Text(format_params(row["params"]) or "(no parameters drawn yet)")]
    if row.get("interrupted"):  # (its run's own advice, cs-tui train --resume, is not the way on for a trial)
        why = str(row["interrupted"]).split(";")[0]
        lines.append(Text(f"{why}: u continues the study, trying these parameters again first"))
    elif row.get("error"):
        lines.append(Text(f"error: {row['error']}", style="red"))
    lines.append(Text(f"run {row['run'] or '–'}"))  # last: the table shows it, cut in the middle
    return Text("\n").join(lines)


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
complete, pruned, fail, stopped, waiting), % of oracle on held-out conversations (a pruned or running
trial shows its last evaluation, marked *), the best so far, its run folder (open it in the training
pane) and its parameters — the highlighted trial in full below them (all its parameters, why it failed),
and a one-line plot of % of oracle by trial number (0-100 %). It refreshes every two seconds,
whichever host the workers run on.

**n** opens a form (algorithm, industry, trials, workers, steps per trial, seed, study name) and
starts the study as its own process, which runs on after the app closes; a study name that exists
continues that study. The output goes to `saves/.logs/tune-STUDY.log`. **x** stops the highlighted
study's workers on this host (SIGTERM, only the processes holding the study's worker mark): each
checkpoints its trial's run folder (it reads stopped), the trial reads stopped, and its parameters are
tried again first when the study continues. **u** continues a stopped study with one worker and its
own settings, up to the trials it was asked for. `cs-tui tune --study NAME --best` writes the best
trial's hyperparameters for `cs-tui train --hyperparams`.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new_study", "New study", tooltip="Start or continue a study"),
        Binding("x", "stop_study", "Stop", tooltip="Stop the highlighted study's workers on this host"),
        Binding("u", "continue_study", "Continue", tooltip="Continue the highlighted study with one worker"),
        Binding("escape", "close", "Back", tooltip="Back to the training pane"),
    ]

    DEFAULT_CSS = """
    TuningScreen #studies-pane { width: 28; border-right: tall $panel; }
    TuningScreen.-wide #studies-pane { width: 40; }
    TuningScreen #trials-pane { width: 1fr; }
    TuningScreen #values { height: 1; margin: 0 1; }
    TuningScreen #tuning-status { height: auto; width: 1fr; margin: 0 1; color: $text-muted; }  /* wraps, not cut */
    TuningScreen #trials { height: 1fr; }
    /* the highlighted trial in full: its parameters wrap here, however narrow the terminal */
    TuningScreen #trial-details { height: auto; max-height: 8; margin: 0 1; border-top: hkey $panel; }
    TuningScreen #trial-details.-empty { display: none; }
    """

    def __init__(self, storage: str | None = None) -> None:
        super().__init__()
        self.storage = storage if storage is not None else os.environ.get(STORAGE_ENV) or None
        self.shown: str | None = None
        self.view = StudiesView()
        #: the ``cs-tui tune`` processes this view started, by study (x stops one still starting)
        self.launched: dict[str, Launched] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            with Vertical(id="studies-pane"):
                yield Label("Studies", id="studies-title")
                studies: DataTable[str] = DataTable(id="studies", cursor_type="row", zebra_stripes=True)
                studies.add_column("study", key="study", width=NAME_WIDTH[False])
                studies.add_column("trials", key="trials", width=6)
                studies.add_column("best", key="best", width=5)  # 100.0
                yield studies
            with Vertical(id="trials-pane"):
                yield Label("", id="tuning-status")
                yield Label("", id="values")
                trials: DataTable[str] = DataTable(id="trials", cursor_type="row", zebra_stripes=True)
                trials.add_columns("#", "state", "% oracle", "best")
                trials.add_column("run", width=RUN_WIDTH)
                trials.add_column("parameters")
                yield trials
                yield Static("", id="trial-details", classes="-empty")
        yield KeyBar()

    def on_mount(self) -> None:
        self.sub_title = "Tuning"
        self.set_interval(REFRESH_SECONDS, self.refresh_studies)
        self.refresh_studies()

    def on_resize(self, event: events.Resize) -> None:
        wide = event.size.width >= WIDE
        if wide == self.has_class("-wide"):
            return
        self.set_class(wide, "-wide")
        self.query_one("#studies", DataTable).columns[ColumnKey("study")].width = NAME_WIDTH[wide]
        self._show_studies(self.view.studies)

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
        before, self.view = self.view, view
        status = self.query_one("#tuning-status", Label)
        if view.error:
            status.update(Text(f"cannot read the studies: {view.error}", style="red"))
            return
        self._show_studies(view.studies)
        if not view.studies:
            status.update("No studies yet: n starts one (or run cs-tui tune)")
        # the highlighted trial stays highlighted as rows are added (another study: from its first trial)
        self._show_trials(view.rows, keep=before.shown == view.shown)

    def _show_studies(self, lines: list[StudyLine]) -> None:
        studies = self.query_one("#studies", DataTable)
        keep = studies.cursor_row
        width = NAME_WIDTH[self.has_class("-wide")]
        studies.clear()
        for line in lines:
            best = "–" if line.best is None else f"{line.best:.1f}"
            # a long name is cut in the middle to its column (the key keeps it whole): the list stays a list
            studies.add_row(Text(middle_cut(line.name, width)), str(line.trials), best, key=line.name)
        names = [line.name for line in lines]
        if names:  # on the study shown (one just started, say), else where the cursor was
            shown = self.view.shown
            studies.move_cursor(row=names.index(shown) if shown in names else min(keep, len(names) - 1))

    def _show_trials(self, rows: list[dict[str, Any]], *, keep: bool) -> None:
        trials = self.query_one("#trials", DataTable)
        cursor = trials.cursor_row if keep else 0
        trials.clear()
        values: list[float] = []
        for row in rows:
            shown, value = shown_value(row)
            if value is not None:
                values.append(value)
            state = shown_state(row)
            style = STATE_STYLE.get(state, "")
            trials.add_row(
                str(row["number"]),
                Text(state, style=style),
                shown,
                "–" if row["best_so_far"] is None else f"{row['best_so_far']:.1f}",
                Text(middle_cut(row["run"] or "–", RUN_WIDTH)),
                Text(format_params(row["params"])),  # cut at the edge: the details below show them whole
                key=str(row["number"]),
            )
        if rows:
            trials.move_cursor(row=min(cursor, len(rows) - 1))
        self._show_details()
        self.query_one("#values", Label).update(plot(values))
        if rows:
            self.query_one("#tuning-status", Label).update(self._status(rows))

    def _status(self, rows: list[dict[str, Any]]) -> str:
        """``5 trials, 1 running · best 74.2 % of oracle · 1 worker here`` (wraps on a narrow terminal)."""
        best = max((r["best_so_far"] for r in rows if r["best_so_far"] is not None), default=None)
        running = sum(r["state"] == "running" for r in rows)
        shown_best = "–" if best is None else f"{best:.1f} %"
        text = f"{len(rows)} trial{'s' if len(rows) != 1 else ''}, {running} running · best {shown_best} of oracle"
        workers, line = self.view.workers, self.view.shown_line
        done = sum(r["state"] in ("complete", "pruned") for r in rows)
        if workers:
            text += f" · {workers} process{'es' * (workers != 1)} here (x stops)"
        elif line is not None and line.wanted is not None and done < line.wanted and not running:
            text += f" · {done} of {line.wanted} done, no worker: u continues"
        return text

    def _show_details(self) -> None:
        """The highlighted trial in full below the table (its parameters wrap instead of being cut)."""
        details = self.query_one("#trial-details", Static)
        row = self._highlighted_trial()
        details.update(trial_details(row) if row is not None else "")
        details.set_class(row is None, "-empty")

    def _highlighted_trial(self) -> dict[str, Any] | None:
        trials = self.query_one("#trials", DataTable)
        rows = self.view.rows
        return rows[trials.cursor_row] if rows and 0 <= trials.cursor_row < len(rows) else None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "trials":
            self._show_details()
            return
        # an empty table highlights no row: its event carries no key (Tab then Up crashed the view)
        key = None if event.row_key is None else event.row_key.value
        if event.data_table.id == "studies" and key is not None and self.shown != key:
            self.shown = str(key)
            self.refresh_studies()

    def action_close(self) -> None:
        self.dismiss()

    # -- starting, stopping, continuing ----------------------------------------------------------
    def _highlighted_study(self) -> str | None:
        return self.view.shown if not self.view.error else None

    def action_stop_study(self) -> None:
        """SIGTERM to the highlighted study's processes on this host (only those holding its worker mark)."""
        name = self._highlighted_study()
        if name is None:
            self.notify("No study to stop", severity="warning")
            return
        try:
            stopped = launcher.stop_study(self.saves, name, self.launched.get(name))
        except OSError as exc:
            self.notify(f"Could not stop study {name}: {exc}", severity="error", markup=False)
            return
        if not stopped:
            self.notify(f"No worker of study {name} runs on this host", severity="warning", markup=False)
            return
        self.notify(f"Stopping study {name} ({stopped} process{'es' * (stopped != 1)}): each checkpoints its "
                    "trial's run, which is tried again when the study continues (u)", markup=False)  # fmt: skip
        self.refresh_studies()

    def action_continue_study(self) -> None:
        """``cs-tui tune`` for the highlighted study, with its own settings and one worker."""
        from cs_tui.tuning.storage import study_workers

        line = self.view.shown_line if not self.view.error else None
        if line is None:
            self.notify("No study to continue", severity="warning")
            return
        if study_workers(self.saves, line.name):
            self.notify(f"Study {line.name} is running on this host (x stops it)", severity="warning", markup=False)
            return
        done = sum(r["state"] in ("complete", "pruned") for r in self.view.rows)
        if line.wanted is not None and done >= line.wanted:
            self.notify(f"Study {line.name} holds the {line.wanted} trials it was asked for: n with its name and "
                        "more trials continues it", severity="warning", markup=False)  # fmt: skip
            return
        argv = continue_argv(self.saves.absolute(), line, self.storage)
        if argv is None:
            self.notify(f"Study {line.name} does not record its settings: continue it with cs-tui tune",
                        severity="warning", markup=False)  # fmt: skip
            return
        self._launch(line.name, argv, f"study {line.name} continues ({done} of {line.wanted} done, one worker)")

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
        workers = f", {request.jobs} workers" if request.jobs > 1 else ""
        trials = f"{request.trials} trial{'s' if request.trials != 1 else ''}"
        self._launch(request.study, request.argv(self.saves.absolute(), self.storage),
                     f"study {request.study} started ({trials}{workers})")  # fmt: skip

    def _launch(self, study: str, argv: list[str], said: str) -> None:
        try:
            launched = launcher.launch(self.saves.absolute(), f"tune-{study}", argv, stdout_too=True)
        except OSError as exc:
            self.notify(f"cannot start the study: {exc}", severity="error", markup=False)
            return
        self.launched[study] = launched
        self.shown = study
        self.notify(f"{said}; output in {launched.log_path}", markup=False)
        self.refresh_studies()
