"""The last ``train`` record of a run carries its last real speed and strategy usage, whatever the clock
did: after ``x`` the monitor read fps 0 and eight bars at 0.0 %, the CLI's progress bar read 26,110 fps
after Ctrl-C where the run did ~3,000, and a test failed under load because the last record, written a
moment after the one before, had no actions. Tests here drive a fake clock or a signal at a known step,
never the wall clock."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from app_helpers import PaneApp, screen_text, wait_for
from test_app_training import make_run, train_record

from cs_env.domain import N_STRATEGIES, STRATEGY_NAMES
from cs_tui.training import callbacks, trainer
from cs_tui.training.options import TrainOptions
from cs_tui.training.session import NullReporter
from cs_tui.widgets.training_monitor import RunView

STEP_SECONDS = 2**-10  # the fake trainer does 1,024 steps a second (exact in binary: records fall on a step)
FPS = 1024.0
PERIOD = 512  # steps between two records, at record_seconds = 0.5


class FakeTraining:
    """A :class:`RunCallback` driven by hand: steps of one env on a fake clock, one action each."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, record_seconds: float = 0.5) -> None:
        self.clock = [100.0]
        monkeypatch.setattr(callbacks.time, "monotonic", lambda: self.clock[0])
        self.records: list[dict[str, Any]] = []
        self.callback = callbacks.RunCallback(
            total_timesteps=10_000, on_record=self.records.append, on_eval=lambda steps: None,
            stop=callbacks.StopFlag(), eval_every=0, record_seconds=record_seconds,
        )  # fmt: skip
        self.model = SimpleNamespace(num_timesteps=0, logger=SimpleNamespace(name_to_value={}))
        self.callback.model = self.model  # type: ignore[assignment]
        self.callback.locals = {}
        self.callback._on_training_start()

    def steps(self, actions: list[int], seconds_each: float = STEP_SECONDS) -> None:
        for action in actions:
            self.model.num_timesteps += 1
            self.clock[0] += seconds_each
            self.callback.locals = {"actions": np.array([action]), "infos": [{}]}
            self.callback._on_step()

    def end(self) -> dict[str, Any]:
        """What the trainer does when ``learn`` returns: the final record."""
        self.callback.emit_record(final=True)
        return self.records[-1]


def usage_of(actions: list[int]) -> dict[str, float]:
    counts = np.bincount(actions, minlength=N_STRATEGIES)
    return {name: float(c) / len(actions) for name, c in zip(STRATEGY_NAMES, counts, strict=True)}


def test_a_stop_right_after_a_record_keeps_the_last_speed_and_usage(monkeypatch: pytest.MonkeyPatch) -> None:
    training = FakeTraining(monkeypatch)
    early, late = [0] * PERIOD, [1, 2] * (PERIOD // 2)  # the last period's actions differ from the first's
    training.steps(early)
    training.steps(late)  # a record on the clock exactly at the last step...
    assert [r["timesteps"] for r in training.records] == [PERIOD, 2 * PERIOD]
    final = training.end()  # ...and training ends with no step since
    assert final["timesteps"] == 2 * PERIOD
    assert final["fps"] == pytest.approx(FPS)  # not 0: the run's real speed
    assert final["strategy_usage"] == pytest.approx(usage_of(late))  # the run's last actions, not zeros


def test_a_stop_a_few_steps_after_a_record_reports_no_spike(monkeypatch: pytest.MonkeyPatch) -> None:
    training = FakeTraining(monkeypatch)
    training.steps([3] * 2 * PERIOD)
    training.steps([4] * 16, seconds_each=0.0)  # a few steps, in no measurable time, before the stop took
    final = training.end()
    assert final["timesteps"] == 2 * PERIOD + 16
    # the session's 1,040 steps over its second, not 16 steps over a nanosecond (16 billion fps)
    assert final["fps"] == pytest.approx((2 * PERIOD + 16) / 1.0)
    assert final["strategy_usage"] == pytest.approx(usage_of([3] * PERIOD + [4] * 16))


def test_a_run_shorter_than_one_record_period_reports_its_whole_speed_and_usage(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    training = FakeTraining(monkeypatch, record_seconds=10.0)
    actions = [0, 5, 7, 7] * 50
    training.steps(actions)
    final = training.end()
    assert training.records == [final]
    assert final["fps"] == pytest.approx(FPS) and final["strategy_usage"] == pytest.approx(usage_of(actions))


def test_a_stop_just_after_a_slow_moment_reports_the_runs_speed(monkeypatch: pytest.MonkeyPatch) -> None:
    """PPO collects, then updates its network without a step: a record's period that fell on an update
    reads a few steps a second (21 fps was shown after x where the run did ~460)."""
    training = FakeTraining(monkeypatch)
    training.steps([0] * PERIOD)
    training.steps([1] * 16, seconds_each=0.5 / 16)  # an update's half second, a few steps on either side
    final = training.end()
    assert training.records[-2]["fps"] == pytest.approx(32.0)  # the slow moment's own record...
    assert final["fps"] == pytest.approx((PERIOD + 16) / 1.0)  # ...is not what the run ends on


def test_records_during_training_still_cover_their_own_period_only(monkeypatch: pytest.MonkeyPatch) -> None:
    training = FakeTraining(monkeypatch)
    training.steps([0] * PERIOD)
    training.steps([1] * PERIOD, seconds_each=2 * STEP_SECONDS)  # half the speed: a record every 256 steps
    assert [r["timesteps"] for r in training.records] == [PERIOD, PERIOD + 256, 2 * PERIOD]
    assert [r["fps"] for r in training.records] == pytest.approx([FPS, FPS / 2, FPS / 2])
    assert [r["strategy_usage"] for r in training.records] == [usage_of([0]), usage_of([1]), usage_of([1])]


def test_a_stop_signal_leaves_a_final_record_with_the_runs_speed_and_actions(tmp_path: Path) -> None:
    """As ``x`` in the app or Ctrl-C in the CLI: the signal arrives while a record is shown, so training
    stops at that very step and the final record's own period holds no step (it read fps 0 and no
    usage, or a rate of a few steps over a millisecond)."""

    class StopAtFirstRecord(NullReporter):
        def __init__(self) -> None:
            self.shown: list[dict[str, Any]] = []

        def record(self, record: dict[str, Any]) -> None:
            self.shown.append(record)
            if [r["type"] for r in self.shown].count("train") == 1 and record["type"] == "train":
                os.kill(os.getpid(), signal.SIGINT)

    reporter = StopAtFirstRecord()
    options = TrainOptions(algorithm="a2c", timesteps=500_000, saves=tmp_path, name="stopped",
                                   eval_every=100_000, eval_episodes=30, reference_episodes=30,
                                   record_seconds=0.2)  # fmt: skip
    result = trainer.train(options, reporter=reporter)
    assert result.status == "interrupted"
    trains = [r for r in reporter.shown if r["type"] == "train"]
    assert len(trains) == 2  # the one that was shown when the signal came, and the final one
    final = trains[-1]
    assert final["timesteps"] == result.run.meta["timesteps_done"] > 0
    # what the CLI's progress bar and the monitor show last: a real speed over the run's steps, and its usage
    assert final["fps"] > 0
    assert sum(final["strategy_usage"].values()) == pytest.approx(1.0)
    written = [r for r in result.run.read_metrics()[0] if r["type"] == "train"]
    assert written[-1] == final  # the record metrics.jsonl ends on, for the monitor


def test_the_monitor_keeps_the_last_measured_speed_and_usage_of_an_older_run() -> None:
    """A run folder written before the fix ends on a record with no steps: fps 0, every usage 0.0."""
    last = train_record(2000, [], fps=0.0, strategy_usage=dict.fromkeys(STRATEGY_NAMES, 0.0))
    view = RunView()
    view.fold([train_record(1000, [1.0]), last])
    assert view.train["timesteps"] == 2000
    assert view.train["fps"] == 1500.0
    assert view.train["strategy_usage"] == train_record(0, [])["strategy_usage"]


async def test_after_a_stop_the_monitor_shows_the_runs_usage_not_zeros(tmp_path: Path) -> None:
    from cs_tui.screens.training import TrainingScreen
    from cs_tui.widgets.training_monitor import RunMonitor

    run = make_run(tmp_path, "stopped", status="interrupted")
    run.append_metric(train_record(1000, [1.0]))
    run.append_metric(train_record(1000, [], fps=0.0, strategy_usage=dict.fromkeys(STRATEGY_NAMES, 0.0)))
    app = PaneApp(tmp_path, TrainingScreen)
    async with app.run_test(size=(80, 30)) as pilot:
        monitor = app.screen.query_one(RunMonitor)
        await wait_for(pilot, lambda: monitor.view.records == 2)
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "stopped" in text
        assert "50.0%" in text and "25.0%" in text, text  # empathetic, technical: the bars of the run
        assert "1,500" in text  # its last speed, not 0
