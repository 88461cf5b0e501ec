"""The training pane: the runs in ``saves/``, a live monitor of one, and the form that starts a new one.

Training runs in its own process (:mod:`cs_tui.launcher` starts and stops it), so closing the
app or losing the SSH connection does not stop it; the pane only reads run folders, which is also how it
re-attaches to a run after a restart and follows runs started with ``cs-tui train`` elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Header, Label
from textual.widgets.data_table import ColumnKey

from cs_tui import launcher
from cs_tui.labels import middle_cut, tone
from cs_tui.launcher import Launched
from cs_tui.screens.pane import PaneScreen
from cs_tui.screens.training_form import NewRunForm, RunFormFields, TrainRequest
from cs_tui.training.run_lock import run_locked
from cs_tui.training.run_record import RunError, RunStatus
from cs_tui.training.runs import Run, list_runs
from cs_tui.widgets.key_bar import KeyBar
from cs_tui.widgets.training_monitor import POLL_SECONDS, STATUS_LABEL, STATUS_STYLE, RunMonitor

LIST_SECONDS = 2.0
NARROW = 70  # below this terminal width the runs list sits above the monitor, not beside it
WIDE = 100  # from this terminal width on, the runs list is wider so whole default run names fit
NAME_WIDTH = {False: 17, True: 27}  # the run column, by wide
NEW_MARK = "● "  # before a run that started training while the user followed another (l follows it)


@dataclass(frozen=True)
class RunRow:
    """One line of the runs list, read in a worker."""

    name: str
    path: Path
    status: str
    progress: float | None


def _row_for(run: Run) -> RunRow:
    try:
        record = run.record()
        return RunRow(run.name, run.path, run.status, record.progress())
    except (RunError, ValueError, TypeError, OverflowError):  # one bad run is shown broken; the list goes on
        return RunRow(run.name, run.path, RunStatus.BROKEN, None)


class RunsTable(DataTable[Any]):
    """A row-cursor table whose enter key is shown in the footer ("Open")."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Open", tooltip="Follow the highlighted run"),
    ]


class TrainingScreen(PaneScreen):
    """Runs on the left, the followed run on the right; ``n`` starts a run, ``x`` stops the followed one."""

    class RunsListed(Message):
        """The runs list, read in a worker."""

        bubble = False

        def __init__(self, rows: list[RunRow]) -> None:
            super().__init__()
            self.rows = rows

    HELP = """
## Training

{list_at}, every run in the saves folder with its status and progress; {monitor_at}, the run you
follow: the returns of its training episodes as a sparkline, the latest mean return, % of oracle
(**train**: on the training episodes, where the policy still explores; **eval**: the periodic
evaluation on held-out conversations), outcome rates and how often each strategy is used.

**n** opens the form for a new run (algorithm, industry, steps, seed, name, frame stack, and a warm
start: the oracle's or the heuristic's conversations, or the ones you recorded in the play pane). A
run is its own process: it goes on when you quit the app or lose the SSH connection, and the pane
picks it up again when you come back. **x** stops the followed run after writing a checkpoint; **u**
resumes a stopped or died run from its last checkpoint; **l** follows the newest live run. Runs
started with `cs-tui train` elsewhere show up here too: the run you opened stays on the monitor, and
a run that starts meanwhile is marked ● in the list until you follow it (**l**). **y** opens the
tuning view: the hyperparameter studies of `cs-tui tune`, their trials (each one a run listed here)
and the best % of oracle so far.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "new_run", "New", tooltip="Start a training run from a form"),
        Binding("x", "stop_run", "Stop", tooltip="Stop the followed run (it saves a checkpoint first)"),
        Binding("u", "resume_run", "Resume", tooltip="Continue a stopped or died run from its last checkpoint"),
        Binding("l", "follow_live", "Live", tooltip="Follow the newest running run"),
        Binding("r", "refresh_runs", "Refresh", tooltip="Read the runs in saves/ again"),
        Binding("y", "open_tuning", "Tune", tooltip="The hyperparameter studies of cs-tui tune"),
    ]

    DEFAULT_CSS = """
    TrainingScreen #runs-pane {
        width: 30;
        border-right: tall $panel;
    }
    TrainingScreen.-wide #runs-pane { width: 40; }
    /* narrow terminals: the list above the monitor, so the monitor's figures get the whole width */
    TrainingScreen.-narrow #training-body { layout: vertical; }
    TrainingScreen.-narrow #runs-pane { width: 1fr; height: 6; border-right: none; border-bottom: tall $panel; }
    TrainingScreen #runs-title { height: 1; color: $text-muted; padding: 0 1; }
    TrainingScreen #runs { height: 1fr; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.launched: dict[str, Launched] = {}
        self.rows: list[RunRow] = []
        self._listing = False
        self._attached = False
        #: the followed run's name and progress as its monitor shows it (fresher than meta's timesteps_done)
        self._followed_progress: tuple[str, float] | None = None
        #: the run the user opened themselves (enter, l, n, u): it stays followed until they pick another
        self._chosen: str | None = None
        #: runs that started training while another was followed: marked in the list until followed
        self._announced: set[str] = set()

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="training-body"):
            with Vertical(id="runs-pane"):
                yield Label("Runs", id="runs-title")
                table = RunsTable(id="runs", cursor_type="row", zebra_stripes=True)
                table.add_column("run", key="run", width=NAME_WIDTH[False])
                table.add_column("status", key="status", width=8)
                yield table
            yield RunMonitor(id="monitor")
        yield KeyBar()

    def action_open_tuning(self) -> None:
        """The tuning view: studies and their trials (imported on first use)."""
        from cs_tui.screens.tuning import TuningScreen

        self.app.push_screen(TuningScreen())

    def on_mount(self) -> None:
        self.sub_title = "Training"
        self.query_one("#runs-title", Label).update(Text(f"Runs in {self.saves}"))  # a path, not markup
        self.set_interval(LIST_SECONDS, self.refresh_runs)
        # a process started here that fails says why within half a second, not at the next listing
        self.set_interval(POLL_SECONDS, self._check_launched)
        self.refresh_runs()

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width < NARROW, "-narrow")
        wide = event.size.width >= WIDE
        if wide == self.has_class("-wide"):
            return
        self.set_class(wide, "-wide")
        table = self.query_one("#runs", DataTable)
        table.columns[ColumnKey("run")].width = NAME_WIDTH[wide]
        self._fill(self.rows)

    def help_text(self) -> str:
        stacked = self.has_class("-narrow")  # the list above the monitor, or beside it
        return (
            super()
            .help_text()
            .format(
                list_at="On top" if stacked else "On the left", monitor_at="below it" if stacked else "on the right"
            )
        )

    def on_screen_resume(self) -> None:
        # back from another pane (nothing was read meanwhile): catch up now rather than at the next tick
        self.refresh_runs()
        self.query_one(RunMonitor).poll()

    # -- the runs list -----------------------------------------------------------------------
    def refresh_runs(self) -> None:
        """Read the runs under saves/ in a thread (skipped while a read is in flight)."""
        self._check_launched()
        if self._listing or not self.is_current:
            return
        self._listing = True
        self._list_runs(self.saves)

    @work(thread=True, exclusive=True, group="run-list", exit_on_error=False)
    def _list_runs(self, saves: Path) -> None:
        self.post_message(self.RunsListed([_row_for(run) for run in list_runs(saves)]))

    def on_training_screen_runs_listed(self, message: RunsListed) -> None:
        self._show_rows(message.rows)

    def _show_rows(self, rows: list[RunRow]) -> None:
        self._listing = False
        table = self.query_one("#runs", DataTable)
        names = [r.name for r in rows]
        if names != [r.name for r in self.rows]:
            self._fill(rows)
        else:
            for row, old in zip(rows, self.rows, strict=True):
                if row != old:  # repaint only what changed
                    table.update_cell(row.name, "status", self._cells(row)[1])
        new_live = [r for r in rows if r.status == RunStatus.RUNNING and r.name not in {o.name for o in self.rows}]
        first_listing = not self.rows
        self.rows = rows
        monitor = self.query_one(RunMonitor)
        live_now = {r.name for r in rows if r.status == RunStatus.RUNNING}
        if self._announced - live_now:  # an announced run that stopped needs no mark any more
            self._announced &= live_now
            self._fill(rows)
        new_live = [r for r in new_live if monitor.path is None or r.name != monitor.path.name]
        if new_live and not first_listing:
            if self._chosen is None and monitor.view.status not in (RunStatus.RUNNING, RunStatus.STARTING):
                # a run started elsewhere (cs-tui train in another terminal) while nothing was chosen or live
                self._open(new_live[0].path)
                self.notify(f"Following {new_live[0].name}, which just started", title="Training")
                return
            # the user chose what they follow: keep it, say what started and how to follow it
            self._announced.update(r.name for r in new_live)
            self._fill(rows)
            started = ", ".join(r.name for r in new_live)
            self.notify(f"{started} started training: l follows it", title="Training")
        if not self._attached and rows:
            self._attached = True
            # re-attach: the newest run still training, else the newest run
            live = next((r for r in rows if r.status == RunStatus.RUNNING), rows[0])
            self._open(live.path)

    def _fill(self, rows: list[RunRow]) -> None:
        """Rebuild the table from ``rows``, keeping the highlighted run."""
        table = self.query_one("#runs", DataTable)
        names = [r.name for r in rows]
        current = self._cursor_name()
        table.clear()
        for row in rows:
            table.add_row(*self._cells(row), key=row.name)
        if current in names:
            table.move_cursor(row=names.index(current))

    def _cells(self, row: RunRow) -> tuple[Text, Text]:
        label = STATUS_LABEL.get(row.status, row.status)
        progress = row.progress
        if self._followed_progress is not None and self._followed_progress[0] == row.name:
            progress = self._followed_progress[1]  # the same figure as the monitor's bar beside it
        if row.status == RunStatus.RUNNING and progress is not None:
            label = f"{progress * 100:.0f}%"
        width = NAME_WIDTH[self.has_class("-wide")]
        if row.name in self._announced:
            name = NEW_MARK + middle_cut(row.name, width - len(NEW_MARK))
        else:
            name = middle_cut(row.name, width)
        # Text, not str: a run's name is shown as it is, never read as markup
        return Text(name), Text(label, style=tone(STATUS_STYLE.get(row.status, "")))

    def _cursor_name(self) -> str | None:
        table = self.query_one("#runs", DataTable)
        if not self.rows or table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        except Exception:  # (an empty or shrinking table: no cursor to keep)
            return None
        return None if key.value is None else str(key.value)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self._open(self.saves / str(event.row_key.value), chosen=True)

    def _open(self, path: Path, *, starting: bool = False, chosen: bool = False) -> None:
        """Follow the run in ``path``; ``chosen``: the user picked it, so no new run takes its place."""
        self._attached = True
        if chosen:
            self._chosen = path.name
        if path.name in self._announced:
            self._announced.discard(path.name)
            self._fill(self.rows)
        self._followed_progress = None  # the list shows meta.json's figure until the monitor has read the run
        self.query_one(RunMonitor).follow(Run(path), starting=starting)
        if path.name in [r.name for r in self.rows]:
            self.query_one("#runs", DataTable).move_cursor(row=[r.name for r in self.rows].index(path.name))

    def on_run_monitor_progressed(self, event: RunMonitor.Progressed) -> None:
        # the monitor read newer records than meta.json's timesteps_done: the list shows the same figure
        followed = self.query_one(RunMonitor).path
        if followed is None or followed.name != event.name:
            return  # posted just before another run was opened
        self._followed_progress = (event.name, event.progress)
        row = next((r for r in self.rows if r.name == event.name), None)
        if row is not None:
            self.query_one("#runs", DataTable).update_cell(row.name, "status", self._cells(row)[1])

    def on_run_monitor_status_changed(self, event: RunMonitor.StatusChanged) -> None:
        self.refresh_runs()

    # -- starting and stopping ---------------------------------------------------------------
    def action_new_run(self) -> None:
        """Open the form; on submit, start the run in its own process and follow it."""
        settings = self.settings
        form = NewRunForm(self.saves, settings.run_form or RunFormFields(industry=settings.industry))

        def closed(request: TrainRequest | None) -> None:
            kept = form.fields  # the fields as left, for the next time in this app session
            if self._start(request):
                kept = replace(kept, name="")  # that name is the new run's now
            settings.run_form = kept

        self.app.push_screen(form, closed)

    def _start(self, request: TrainRequest | None) -> bool:
        """Start and follow the run ``request`` asks for; whether it started."""
        if request is None:
            return False
        try:
            self.start_training(request)
        except OSError as exc:
            self.notify(f"Could not start training: {exc}", title="Training", severity="error", timeout=10)
            return False
        extras = [
            *([f"{request.frame_stack} frames stacked"] if request.frame_stack > 1 else []),
            *([f"warm start from {request.warm_start}"] if request.warm_start else []),
        ]
        with_extras = "".join(f", {e}" for e in extras)
        started = f"Training {request.name} started ({request.algorithm}, {request.industry}{with_extras})"
        try:
            from cs_tui.training.options import planned_timesteps  # light: a TOML file, no torch

            planned = planned_timesteps(request.algorithm, request.timesteps)
        except (ValueError, OSError, KeyError):  # a broken defaults file: the run itself will say so
            planned = request.timesteps
        if planned != request.timesteps:  # as cs-tui train says before it starts
            started += f": {planned:,} steps, since SB3 trains whole rollouts ({request.timesteps:,} asked)"
        self.notify(started, title="Training", markup=False)
        self._open(self.saves / request.name, starting=True, chosen=True)
        self.refresh_runs()
        return True

    def start_training(self, request: TrainRequest) -> Launched:
        """Start ``cs-tui train`` for ``request`` in a new session, stderr to ``saves/.logs/<name>.log``."""
        return self._launch(request.name, request.argv(self.saves.absolute()))

    def _launch(self, name: str, argv: list[str]) -> Launched:
        launched = launcher.launch(self.saves, name, argv)
        self.launched[name] = launched
        return launched

    def action_resume_run(self) -> None:
        """Continue the followed run from its last checkpoint (``cs-tui train --resume``), if it is not training."""
        monitor = self.query_one(RunMonitor)
        run = monitor.followed_run
        if run is None:
            self.notify("No run open", severity="warning")
            return
        status = monitor.view.status
        if status not in (RunStatus.INTERRUPTED, RunStatus.DIED, RunStatus.FAILED):
            self.notify(f"{run.name} is {status}: only a stopped, died or failed run resumes", severity="warning")
            return
        if run_locked(run.path):  # one run, one trainer (the trainer would refuse too, in its log)
            self.notify(f"{run.name} is being trained by another process", severity="warning")
            return
        saves = self.saves.absolute()
        try:
            self._launch(run.name, ["--saves", str(saves), "train", "--resume", str(saves / run.name), "--quiet"])
        except OSError as exc:
            self.notify(f"Could not resume {run.name}: {exc}", title="Training", severity="error", timeout=10)
            return
        self._chosen = run.name
        self.notify(f"Resuming {run.name} from its last checkpoint", title="Training")

    def _check_launched(self) -> None:
        """Report processes this app started that exited with an error (e.g. before writing meta.json)."""
        for name, launched in self.launched.items():
            failed = launcher.exit_failure(launched, Run(self.saves / name))
            if failed is None:
                continue
            code, reason = failed
            self.notify(f"Training {name} failed: {reason}", title="Training", severity="error", timeout=15)
            monitor = self.query_one(RunMonitor)
            if monitor.path is not None and monitor.path.name == name:
                monitor.launch_failed(f"the training process exited with status {code}: {reason}")

    def action_stop_run(self) -> None:
        """Ask the followed run's process to stop (SIGTERM): it writes a checkpoint and marks the run interrupted."""
        monitor = self.query_one(RunMonitor)
        run = monitor.followed_run
        if run is None:
            self.notify("No run open", severity="warning")
            return
        try:
            done = launcher.stop_run(run, self.launched.get(run.name))
        except OSError as exc:
            self.notify(f"Could not stop {run.name}: {exc}", severity="error")
            return
        if done == launcher.Stop.NOT_OURS:
            self.notify(
                f"{run.name} is not ours to stop: no process holds its lock, so none can be proven to be its trainer",
                severity="warning",
            )
        elif done == launcher.Stop.NOT_RUNNING:
            self.notify(f"{run.name} is not running ({monitor.view.status})", severity="warning")
        else:
            self.notify(f"Stopping {run.name}: it saves a checkpoint, then stops", title="Training")

    def action_follow_live(self) -> None:
        """Follow the newest run that is training."""
        live = next((r for r in self.rows if r.status == RunStatus.RUNNING), None)
        if live is None:
            self.notify("No run is training now", severity="information")
            return
        self._open(live.path, chosen=True)

    def action_refresh_runs(self) -> None:
        """Read saves/ again now."""
        self.refresh_runs()
