"""Follow one training run: progress, episode-return sparkline, business metrics, strategy usage.

The monitor only reads the run folder (``cs_tui.training.runs``): a run started from the app, from
``cs-tui train`` in another terminal or on another day looks the same. New records of ``metrics.jsonl``
are read from the last byte offset in a thread worker on a timer; everything that arrived since the
previous poll is folded into one :class:`RunView` and drawn once, so a fast trainer cannot flood the UI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Label, ProgressBar, Static

from cs_tui.labels import tone
from cs_tui.numbers import duration, finite, number, rate
from cs_tui.training.run_record import EvalRecord, RunError, RunRecord, RunStatus
from cs_tui.training.runs import Run
from cs_tui.widgets.bars import ShareBars
from cs_tui.widgets.sparkline_rewards import ReturnHistory, RewardSparkline

POLL_SECONDS = 0.5
#: SB3's logger keys of the losses worth a glance (PPO/A2C/DQN), with short labels, in display order
LOSS_LABELS = (
    ("value_loss", "value loss"),
    ("policy_gradient_loss", "policy"),
    ("policy_loss", "policy"),
    ("entropy_loss", "entropy"),
)


def episode_returns(records: list[dict[str, Any]]) -> list[float]:
    """The episode returns the ``"train"`` records carry, in order (finite numbers only)."""
    return [
        value
        for record in records
        if record.get("type") == "train"
        for x in record.get("episode_returns") or ()
        if (value := finite(x)) is not None
    ]


def with_last_measures(record: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    """``record``, but where its period measured no speed or strategy usage (no steps: a last record
    written a moment after the one before, by trainers before the final record spanned both), the
    previous record's figures: the monitor then shows the run's last speed and usage, not zeros."""
    usage = record.get("strategy_usage")
    if isinstance(usage, dict) and not any(finite(v) for v in usage.values()) and before.get("strategy_usage"):
        record = {**record, "strategy_usage": before["strategy_usage"]}
    if not finite(record.get("fps")) and finite(before.get("fps")):
        record = {**record, "fps": before["fps"]}
    return record


@dataclass
class RunView:
    """What the monitor knows about a run: meta.json plus the metrics stream folded record by record."""

    record: RunRecord | None = None  # meta.json (None until read, or when it cannot be: see meta_error)
    meta_error: str | None = None
    alive: bool = False
    train: dict[str, Any] = field(default_factory=dict)  # the latest "train" record
    last_eval: EvalRecord | None = None
    best_eval: EvalRecord | None = None
    message: str | None = None  # the latest "status" record's message
    records: int = 0
    starting: bool = False  # started from the app and meta.json not written yet
    launch_error: str | None = None  # the process this app started exited before recording why

    def fold(self, records: list[dict[str, Any]]) -> None:
        """Take in new records (the latest train record, evaluations, status messages)."""
        for record in records:
            self.records += 1
            kind = record.get("type")
            if kind == "train":
                self.train = with_last_measures(record, self.train)
            elif kind == "eval":
                try:
                    evaluation = EvalRecord.from_json(record, "metrics.jsonl")
                except RunError:
                    continue  # a line that is no evaluation record is skipped, as one that is no JSON is
                self.last_eval = evaluation
                if evaluation.is_best or self.best_eval is None:
                    self.best_eval = evaluation
            elif kind == "status":
                message = record.get("message")
                self.message = str(message) if message else None

    @property
    def recorded_status(self) -> str:
        if self.starting and not self.launch_error and (self.meta_error or self.record is None):
            return RunStatus.STARTING
        if self.meta_error:
            return RunStatus.BROKEN
        if self.record is None:
            return "opening"  # not read yet: the first poll is on its way
        return self.record.status

    @property
    def died(self) -> bool:
        """meta.json says running but no process trains it (killed, crashed, machine rebooted)."""
        return self.recorded_status == RunStatus.RUNNING and not self.alive

    @property
    def status(self) -> str:
        """starting | running | finished | interrupted | failed | died | broken."""
        if self.launch_error and self.recorded_status in (RunStatus.STARTING, RunStatus.BROKEN, RunStatus.RUNNING):
            return RunStatus.FAILED
        return RunStatus.DIED if self.died else self.recorded_status

    @property
    def reason(self) -> str | None:
        """Why a run is not healthy, in words, or None."""
        if self.launch_error and self.status == RunStatus.FAILED:
            return self.launch_error
        if self.recorded_status == RunStatus.STARTING:
            return None
        if self.meta_error:
            return self.meta_error
        if self.died and self.record is not None:
            pid = self.record.pid
            return (
                f"the training process (pid {pid}) is gone but the run still says running: "
                "it was killed or crashed. u resumes it from its last checkpoint"
            )
        if self.recorded_status == RunStatus.FAILED and self.record is not None:
            return self.record.error or self.message or "training failed (no reason recorded)"
        return None

    def pct_of_oracle(self, mean_return: Any) -> float | None:
        """% of oracle of a mean return, from the run's reference returns (None if unknown)."""
        ref = (self.record and self.record.reference) or {}
        r, o, m = finite(ref.get("random_return")), finite(ref.get("oracle_return")), finite(mean_return)
        if r is None or o is None or m is None or o == r:
            return None
        return (m - r) / (o - r)

    @property
    def progress(self) -> float:
        """The run's progress (:meth:`RunRecord.progress`) at the latest train record's step count, which
        is fresher than meta.json's checkpoint count; 0 while meta.json is not read."""
        return 0.0 if self.record is None else self.record.progress(finite(self.train.get("timesteps")))


IDLE_TEXT = (
    "No run open.\n\n"
    "Press n to start a training run: it trains in its own process, so it goes on if this app closes.\n\n"
    "A run started with `cs-tui train` in another terminal shows up in the runs list and is followed "
    "here by itself; enter on any run in the list opens it."
)


#: How a status reads on screen: "interrupted" (stopped by a signal, or by x) reads "stopped" in the run
#: list (8 columns) and in the monitor alike.
STATUS_LABEL: dict[str, str] = {RunStatus.INTERRUPTED: "stopped"}
STATUS_STYLE: dict[str, str] = {
    RunStatus.STARTING: "bold green",
    RunStatus.RUNNING: "bold green",
    RunStatus.FINISHED: "bold",
    RunStatus.INTERRUPTED: "bold yellow",
    RunStatus.PRUNED: "yellow",
    RunStatus.FAILED: "bold red",
    RunStatus.DIED: "bold red",
    RunStatus.BROKEN: "bold red",
}


class RunMonitor(VerticalScroll):
    """The live view of one run (``follow(run)``); nothing shown until a run is followed."""

    class Read(Message):
        """What a poll read from the run folder, in a worker (applied unless another run is followed since)."""

        bubble = False

        def __init__(
            self,
            generation: int,
            record: RunRecord | None,
            meta_error: str | None,
            alive: bool,
            records: list[dict[str, Any]],
            history_changed: bool,
            offset: int,
        ) -> None:
            super().__init__()
            self.generation, self.record, self.meta_error, self.alive = generation, record, meta_error, alive
            self.records, self.history_changed, self.offset = records, history_changed, offset

    DEFAULT_CSS = """
    RunMonitor {
        height: 1fr;
        padding: 0 0 0 1;  /* on the right, the children's margin: a gap before the scrollbar */
    }
    RunMonitor > * { margin: 0 1 0 0; }
    RunMonitor #run-title { height: 1; }
    RunMonitor.-idle > * { display: none; }
    RunMonitor.-idle > #run-title { display: block; height: auto; padding-top: 1; }
    RunMonitor #run-progress-row { height: 1; }
    RunMonitor #run-progress-row ProgressBar { width: auto; }
    RunMonitor #run-progress-row ProgressBar Bar { width: 16; }
    RunMonitor #run-eta { width: 1fr; padding-left: 1; }
    RunMonitor #run-steps { height: 1; }
    RunMonitor .section { color: $text-muted; height: 1; }
    RunMonitor #returns { height: 1fr; min-height: 3; max-height: 10; }
    RunMonitor #run-reason { color: $error; }
    RunMonitor #run-reason.-empty { display: none; }
    """

    class StatusChanged(Message):
        """The followed run's status changed (e.g. it finished or died): lists showing it can refresh."""

        def __init__(self, monitor: RunMonitor, status: str) -> None:
            super().__init__()
            self.monitor = monitor
            self.status = status

        @property
        def control(self) -> RunMonitor:
            return self.monitor

    class Progressed(Message):
        """The followed run's progress was read again: lists showing its progress can show the same figure."""

        def __init__(self, monitor: RunMonitor, name: str, progress: float) -> None:
            super().__init__()
            self.monitor = monitor
            self.name = name
            self.progress = progress

        @property
        def control(self) -> RunMonitor:
            return self.monitor

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.followed_run: Run | None = None
        self.view = RunView()
        self._offset = 0
        self._polling = False
        self._generation = 0  # bumps on follow(): a poll for an older run is dropped
        # filled by the poll worker (one at a time: see _polling), drawn by the sparkline on the UI thread
        self._history = ReturnHistory()

    def compose(self) -> ComposeResult:
        yield Static(IDLE_TEXT, id="run-title")
        with Horizontal(id="run-progress-row"):
            yield ProgressBar(total=1.0, show_eta=False, id="run-progress")
            yield Label("", id="run-eta")
        # the steps on a line of their own: any allowed total fits 80 columns beside the runs list,
        # and the ETA beside the bar stays in view however long the total
        yield Label("", id="run-steps")
        yield Static("", id="run-stats")
        yield Static("", id="run-reason", classes="-empty")
        yield Label("Episode returns", id="returns-label", classes="section")
        yield RewardSparkline(id="returns")
        yield Label("Strategy usage", classes="section")
        yield ShareBars(id="usage")

    def on_mount(self) -> None:
        self.set_interval(POLL_SECONDS, self.poll)
        self._draw()

    # -- following ---------------------------------------------------------------------------
    def follow(self, run: Run | None, *, starting: bool = False) -> None:
        """Show ``run`` from its first record (None: show nothing).

        ``starting``: the app has just started its process, so a missing meta.json means "not yet".
        """
        self._generation += 1
        self.followed_run = None if run is None else Run(run.path)
        self.view = RunView(starting=starting)
        self._offset = 0
        self._history = ReturnHistory()
        self.query_one(RewardSparkline).show_history(self._history)
        self._draw()
        self.poll()

    def poll(self) -> None:
        """Read what the run wrote since the last poll (in a thread; skipped while one is in flight)."""
        if self.followed_run is None or self._polling:
            return
        if not self.screen.is_current:
            return  # another pane is shown: read nothing now, catch up from the offset when shown again
        self._polling = True
        self._read(self.followed_run, self._offset, self._generation, self._history)

    @work(thread=True, group="run-monitor", exit_on_error=False)
    def _read(self, run: Run, offset: int, generation: int, history: ReturnHistory) -> None:
        record: RunRecord | None = None
        meta_error: str | None = None
        records: list[dict[str, Any]] = []
        alive, changed = False, False
        try:
            try:
                record = run.record()
            except RunError as exc:
                meta_error = str(exc)
            try:
                records, offset = run.read_metrics(offset)
            except RunError as exc:
                meta_error = meta_error or str(exc)
            alive = run.is_alive()
            # the bulk of the work (every episode's return), done here rather than on the UI thread
            changed = history.extend(episode_returns(records))
        except Exception as exc:  # whatever a run's files hold, the answer comes back: polling goes on
            meta_error = meta_error or f"{run.path}: cannot be read: {type(exc).__name__}: {exc}"
        self.post_message(self.Read(generation, record, meta_error, alive, records, changed, offset))

    def on_run_monitor_read(self, message: Read) -> None:
        """Apply what a poll read (unless another run is followed since)."""
        generation, record, meta_error, alive = message.generation, message.record, message.meta_error, message.alive
        records, history_changed, offset = message.records, message.history_changed, message.offset
        self._polling = False
        if generation != self._generation:
            return
        view = self.view
        if not records and (record, meta_error, alive) == (view.record, view.meta_error, view.alive):
            return  # nothing new (a finished run, or a trainer between records): no repaint
        before, progress_before = view.status, view.progress
        view.record, view.meta_error, view.alive = record, meta_error, alive
        self._offset = offset
        if not meta_error:
            self.view.starting = False
        view.fold(records)
        if history_changed or records:
            self.query_one(RewardSparkline).show_history(self._history)
        self._draw()
        if (records or view.progress != progress_before) and self.followed_run is not None:
            # (meta.json alone can move it too: a resume with a larger total)
            self.post_message(self.Progressed(self, self.followed_run.name, view.progress))
        if self.view.status != before:
            self.post_message(self.StatusChanged(self, self.view.status))

    def launch_failed(self, reason: str) -> None:
        """The process started for this run exited with an error (reported by whoever started it)."""
        before = self.view.status
        self.view.launch_error = reason
        self._draw()
        if self.view.status != before:
            self.post_message(self.StatusChanged(self, self.view.status))

    # -- drawing -----------------------------------------------------------------------------
    def _draw(self) -> None:
        view, run = self.view, self.followed_run
        self.set_class(run is None, "-idle")
        title = self.query_one("#run-title", Static)
        if run is None:
            title.update(IDLE_TEXT)
            for wid in ("#run-stats", "#run-eta", "#run-steps"):
                self.query_one(wid, Static).update("")
            self._set_reason(None)
            self.query_one(ShareBars).values = {}
            return
        record = view.record
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(STATUS_LABEL.get(view.status, view.status), style=tone(STATUS_STYLE.get(view.status, "bold")))
        text.append("  ")
        text.append(run.name, style="bold")
        if record is not None:
            text.append(f" · {record.algorithm} · {record.industry} · seed {record.seed}")
        title.update(text)

        total = None if record is None else float(record.total_timesteps)
        done = finite(view.train.get("timesteps")) or (record and float(record.timesteps_done)) or 0.0
        self.query_one(ProgressBar).update(total=1.0, progress=view.progress)
        eta = ""
        if view.status == RunStatus.RUNNING and not view.train:
            eta = "setting up"  # references, envs and model: seconds before the first record
        elif view.status == RunStatus.RUNNING:
            eta = f"ETA {duration(view.train.get('eta_seconds'))}"
        if total and done > total:  # DQN may pass its total by a few steps (its last collection round)
            total = done
        self.query_one("#run-eta", Label).update(eta)
        self.query_one("#run-steps", Label).update(f"{done:,.0f}" + (f"/{total:,.0f}" if total else "") + " steps")

        t = view.train
        pct = view.pct_of_oracle(t.get("mean_return"))
        grid = Table.grid(padding=(0, 1))
        grid.add_column()
        grid.add_column(justify="right")
        grid.add_column()
        grid.add_column(justify="right")
        grid.add_row("fps", number(t.get("fps"), ",.0f"), " episodes", number(t.get("episodes"), ",.0f"))
        # the training episodes' own figure (the policy still explores), not the evaluation's below
        grid.add_row("mean return", number(t.get("mean_return")), " train % oracle", rate(pct))
        grid.add_row("satisfaction", number(t.get("satisfaction"), ".2f"), " resolved", rate(t.get("resolution_rate")))
        grid.add_row("escalated", rate(t.get("escalation_rate")), " abandoned", rate(t.get("abandonment_rate")))
        lines: list[RenderableType] = [grid]
        ev = view.last_eval or (record and record.last_eval)
        best = view.best_eval or (record and record.best_eval)
        if ev:
            line = f"eval {number(ev.mean_return)} ± {number(ev.ci95)} · "
            line += f"{number(ev.pct_of_oracle, '.1f')}% oracle"  # eval records carry it ×100
            if best and best != ev:
                line += f" · best {number(best.pct_of_oracle, '.1f')}%"
            lines.append(Text(line, no_wrap=True, overflow="ellipsis"))
        losses = t.get("losses")
        if isinstance(losses, dict) and losses:
            shown = [f"{label} {number(losses[key], '.2g')}" for key, label in LOSS_LABELS if key in losses]
            if not shown and "loss" in losses:  # DQN reports one loss
                shown = [f"loss {number(losses['loss'], '.2g')}"]
            if shown:
                lines.append(Text(" · ".join(shown), style="dim", no_wrap=True, overflow="ellipsis"))
        self.query_one("#run-stats", Static).update(Group(*lines))
        self._set_reason(view.reason)

        spark = self.query_one(RewardSparkline)
        label = f"Episode returns ({spark.episodes:,})"
        scale = spark.value_range
        if scale is not None:  # the sparkline's bottom and top: the mean returns of its lowest and highest column
            label += f" · scale {scale[0]:.2f}–{scale[1]:.2f}"
        self.query_one("#returns-label", Label).update(label)
        usage = t.get("strategy_usage")
        self.query_one(ShareBars).values = (
            {str(k): v for k, v in usage.items() if finite(v) is not None} if isinstance(usage, dict) else {}
        )

    def _set_reason(self, reason: str | None) -> None:
        widget = self.query_one("#run-reason", Static)
        widget.update(Text(reason or ""))  # an error quoting a file or a path: text, never markup
        widget.set_class(not reason, "-empty")

    @property
    def path(self) -> Path | None:
        """The folder of the run followed, if any."""
        return None if self.followed_run is None else self.followed_run.path
