"""The training pane: follow a run folder written the way ``cs-tui train`` writes it, start and stop runs."""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from app_helpers import PaneApp, screen_text, wait_for, wait_for_toast
from rich.console import Console
from textual.app import App
from textual.coordinate import Coordinate
from textual.widgets import DataTable, ProgressBar, Static

from cs_env import ENV_ID
from cs_tui.files import atomic_write_json, now_iso
from cs_tui.screens.training import TrainingScreen
from cs_tui.screens.training_form import NewRunForm, TrainRequest, validate
from cs_tui.training.runs import Run
from cs_tui.widgets.sparkline_rewards import RewardSparkline
from cs_tui.widgets.training_monitor import RunMonitor, RunView, episode_returns


def dead_pid() -> int:
    """The pid of a process that has exited (and was reaped)."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def make_run(saves: Path, name: str, *, status: str = "running", pid: int | None = None, **extra: Any) -> Run:
    """A run folder as the trainer writes it: meta.json through the atomic helper, an empty metrics stream."""
    path = saves / name
    path.mkdir(parents=True)
    meta = {
        "schema": 1,
        "name": name,
        "env_id": ENV_ID,  # made on this env (a folder without it is a v0 one, refused)
        "algorithm": "ppo",
        "industry": "mixed",
        "max_turns": 10,
        "seed": 0,
        "n_envs": 4,
        "total_timesteps": 10_000,
        "timesteps_done": 0,
        "hyperparameters": {},
        "created_at": now_iso(),
        "updated_at": now_iso(),
        "status": status,
        "error": None,
        "pid": os.getpid() if pid is None else pid,
        "reference": {"random_return": 0.4, "oracle_return": 1.8, "episodes": 2000, "seed": 0},
        "last_eval": None,
        "best_eval": None,
        **extra,
    }
    atomic_write_json(path / "meta.json", meta)
    (path / "metrics.jsonl").touch()
    return Run(path)


def train_record(step: int, returns: list[float], **extra: Any) -> dict[str, Any]:
    return {
        "type": "train",
        "time": time.time(),
        "timesteps": step,
        "fps": 1500.0,
        "progress": step / 10_000,
        "eta_seconds": (10_000 - step) / 1500,
        "episodes": step // 4,
        "episode_returns": returns,
        "mean_return": 1.1,
        "satisfaction": 0.66,
        "resolution_rate": 0.7,
        "escalation_rate": 0.1,
        "abandonment_rate": 0.15,
        "strategy_usage": {"empathetic": 0.5, "technical": 0.25, "quick_resolution": 0.25},
        "losses": {"value_loss": 0.1},
        **extra,
    }


async def open_form(pilot: Any, app: App[None]) -> None:
    """n on the Training pane, until the new-run form is up."""
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(app.screen, NewRunForm))


def text_of(app: App[None], selector: str) -> str:
    """What a Static shows, as plain text (printed wide: these tests check words, not wrapping)."""
    widget = app.screen.query_one(selector, Static)
    console = Console(width=200, file=io.StringIO(), record=True)
    console.print(widget.content)
    return console.export_text()


async def test_attaches_to_a_cli_run_and_the_sparkline_grows(tmp_path: Path) -> None:
    run = make_run(tmp_path, "ppo-mixed-cli")
    run.append_metric(train_record(1000, [0.5, 0.7, 0.9]))
    app = PaneApp(tmp_path, TrainingScreen)
    async with app.run_test(size=(80, 24)) as pilot:
        monitor = app.screen.query_one(RunMonitor)
        spark = app.screen.query_one(RewardSparkline)
        # re-attached without a key press: the running run is followed
        await wait_for(pilot, lambda: spark.episodes == 3)
        assert monitor.path == run.path
        assert "running" in text_of(app, "#run-title")
        stats = text_of(app, "#run-stats")
        assert re.search(r"mean return +1\.100", stats)
        assert re.search(r"train % oracle +50\.0%", stats)  # (1.1 - 0.4) / (1.8 - 0.4)
        # the trainer appends while the app follows: the new episodes arrive, drawn once per poll
        run.append_metric(train_record(2000, [1.0, 1.2]))
        run.append_metric(train_record(3000, [1.4, 1.5, 1.6, 1.7], mean_return=1.5))
        await wait_for(pilot, lambda: spark.episodes == 9)
        assert spark.points[-1] == pytest.approx(1.7)
        assert len(spark.data or []) == 9
        assert re.search(r"mean return +1\.500", text_of(app, "#run-stats"))
        assert "value loss 0.1" in text_of(app, "#run-stats")
        # an evaluation record: its % of oracle (already a percentage) joins the stats
        run.append_metric(
            {"type": "eval", "time": 0, "timesteps": 3000, "mean_return": 1.3, "ci95": 0.05, "pct_of_oracle": 64.0}
        )
        await wait_for(pilot, lambda: "eval 1.300 ± 0.050 · 64.0% oracle" in text_of(app, "#run-stats"))
        # a partial last line (the trainer mid-write) is not read until it is complete
        with open(run.metrics_path, "a") as f:
            f.write('{"type": "train", "timesteps": 4000, "episode_re')
        await pilot.pause(1.2)
        assert spark.episodes == 9
        with open(run.metrics_path, "a") as f:
            f.write('turns": [2.0], "time": 0}\n')
        await wait_for(pilot, lambda: spark.episodes == 10)


async def test_a_run_whose_process_died_is_shown_as_such(tmp_path: Path) -> None:
    make_run(tmp_path, "ppo-killed", pid=dead_pid())
    app = PaneApp(tmp_path, TrainingScreen)
    async with app.run_test(size=(80, 24)) as pilot:
        monitor = app.screen.query_one(RunMonitor)
        await wait_for(pilot, lambda: monitor.view.status == "died")
        assert "died" in text_of(app, "#run-title")
        reason = text_of(app, "#run-reason")
        assert "is gone" in reason and "u resumes it" in reason
        table = app.screen.query_one("#runs", DataTable)
        await wait_for(pilot, lambda: "died" in str(table.get_cell_at(Coordinate(0, 1))))


async def test_a_failed_run_shows_its_recorded_error(tmp_path: Path) -> None:
    make_run(tmp_path, "a2c-bad", status="failed", error="ValueError: learning_rate must be positive")
    app = PaneApp(tmp_path, TrainingScreen)
    async with app.run_test(size=(80, 24)) as pilot:
        monitor = app.screen.query_one(RunMonitor)
        await wait_for(pilot, lambda: monitor.view.status == "failed")
        assert "learning_rate must be positive" in text_of(app, "#run-reason")


@pytest.mark.parametrize(
    ("broken_by", "reason"),
    [("not JSON", "not valid JSON"), ("a bad field", "broken/meta.json: total_timesteps must be a whole number")],
)
async def test_a_broken_run_folder_does_not_break_the_pane(tmp_path: Path, broken_by: str, reason: str) -> None:
    make_run(tmp_path, "good", status="finished")
    if broken_by == "a bad field":
        make_run(tmp_path, "broken", total_timesteps="lots")
    else:
        (tmp_path / "broken").mkdir()
        (tmp_path / "broken" / "meta.json").write_text("{not json")
    app = PaneApp(tmp_path, TrainingScreen)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one("#runs", DataTable)
        await wait_for(pilot, lambda: table.row_count == 2)
        # open the broken one by keys: its reason is shown, the app keeps running
        names = [str(table.get_cell_at(Coordinate(i, 0))) for i in range(2)]
        table.focus()
        table.move_cursor(row=names.index("broken"))
        await pilot.press("enter")
        monitor = app.screen.query_one(RunMonitor)
        await wait_for(pilot, lambda: monitor.view.status == "broken")
        assert reason in text_of(app, "#run-reason")
        assert dict(runs_list(app))["broken"] == "broken"


def test_run_view_folds_records_and_keeps_the_best_eval(tmp_path: Path) -> None:
    record = make_run(tmp_path, "r", reference={"random_return": 0.0, "oracle_return": 2.0}).record()
    view = RunView(record=record)
    records = [
        train_record(100, [1.0, None, float("nan")]),  # type: ignore[list-item]
        {"type": "eval", "timesteps": 100, "mean_return": 1.0, "pct_of_oracle": 0.5, "is_best": True},
        {"type": "eval", "timesteps": 200, "mean_return": 0.8, "pct_of_oracle": 0.4, "is_best": False},
        {"type": "status", "status": "interrupted", "message": "SIGTERM"},
        train_record(200, [2.0, True]),
    ]
    view.fold(records)
    assert episode_returns(records) == [1.0, 2.0]  # nulls, NaN and booleans are not returns
    assert view.train["timesteps"] == 200
    assert view.best_eval is not None and view.best_eval.pct_of_oracle == 0.5
    assert view.last_eval is not None and view.last_eval.pct_of_oracle == 0.4
    assert view.message == "SIGTERM"
    assert view.pct_of_oracle(1.5) == pytest.approx(0.75)


def test_the_form_refuses_bad_fields_naming_them(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="algorithm: choose one of ppo, a2c, dqn"):
        validate("sac", "mixed", "1000", "0", "", tmp_path)
    with pytest.raises(ValueError, match="industry: choose one of"):
        validate("ppo", "space", "1000", "0", "", tmp_path)
    with pytest.raises(ValueError, match="timesteps"):
        validate("ppo", "mixed", "lots", "0", "", tmp_path)
    (tmp_path / "taken").mkdir()
    with pytest.raises(ValueError, match="already exists"):
        validate("ppo", "mixed", "1000", "0", "taken", tmp_path)
    # the form's smallest budget is the command line's (it was 100 in the form, 1 for cs-tui train)
    assert validate("ppo", "mixed", "1", "0", "", tmp_path).timesteps == 1
    with pytest.raises(ValueError, match="timesteps: at least 1"):
        validate("ppo", "mixed", "0", "0", "", tmp_path)
    request = validate("dqn", "bfsi", "2,000", "3", "", tmp_path)
    assert (request.algorithm, request.industry, request.timesteps, request.seed) == ("dqn", "bfsi", 2000, 3)
    assert request.name.startswith("dqn-bfsi-")
    argv = request.argv(tmp_path)
    assert argv[:3] == ["--saves", str(tmp_path), "train"] and argv[-1] == "--quiet"


def test_the_forms_frame_stack_and_warm_start_are_checked_and_passed_on(tmp_path: Path) -> None:
    from cs_tui.commands.train import add_parser

    for stack, expected in (("0", "frame stack: at least 1"), ("17", "frame stack: at most 16"), ("two", "frame")):
        with pytest.raises(ValueError, match=expected):
            validate("ppo", "mixed", "1000", "0", "", tmp_path, frame_stack=stack)
    with pytest.raises(ValueError, match="frame stack: must be 1 for recurrent_ppo"):
        validate("recurrent_ppo", "mixed", "1000", "0", "", tmp_path, frame_stack="2")
    with pytest.raises(ValueError, match=r"warm start: needs an algorithm with a policy to imitate \(ppo, a2c\)"):
        validate("dqn", "mixed", "1000", "0", "", tmp_path, warm_start="baseline:oracle")
    request = validate("ppo", "mixed", "1000", "0", "", tmp_path, frame_stack="3", warm_start="")
    parser = argparse.ArgumentParser()
    parser.add_argument("--saves")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(request.argv(tmp_path))
    assert (args.frame_stack, args.warm_start) == (3, None)
    both = validate("ppo", "mixed", "1000", "0", "", tmp_path, frame_stack="3", warm_start="baseline:oracle")
    args = parser.parse_args(both.argv(tmp_path))  # a frame-stack run clones stacked demonstrations
    assert (args.frame_stack, args.warm_start) == (3, "baseline:oracle")
    warm = validate("a2c", "mixed", "1000", "0", "", tmp_path, warm_start="baseline:oracle")
    assert parser.parse_args(warm.argv(tmp_path)).warm_start == "baseline:oracle"
    plain = parser.parse_args(validate("ppo", "mixed", "1000", "0", "", tmp_path).argv(tmp_path))
    assert (plain.frame_stack, plain.warm_start) == (None, None)


def test_the_form_takes_the_names_cs_tui_train_takes(tmp_path: Path) -> None:
    """One run-name rule: the form allowed 80 characters while ``cs-tui train --name`` allowed 100."""
    longest = "r" * 100
    assert validate("ppo", "mixed", "1000", "0", longest, tmp_path).name == longest
    for bad in ("r" * 101, "-first", "a/b", "../up"):
        with pytest.raises(ValueError, match="name: letters, digits"):
            validate("ppo", "mixed", "1000", "0", bad, tmp_path)


async def test_form_by_keys_starts_a_process_and_reports_its_failure(tmp_path: Path) -> None:
    """The form starts ``python -m cs_tui train`` detached; a process that dies at once is reported, no crash."""
    app = PaneApp(tmp_path, TrainingScreen)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, TrainingScreen)
        await open_form(pilot, app)
        form = app.screen
        form.query_one("#name").focus()
        await pilot.press(*"x y")  # a space: not a valid name
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, NewRunForm)
        assert "name:" in text_of(app, "#form-error")
        # a budget past the ceiling (99999999999999999999 started a real run): named, nothing started
        form.query_one("#timesteps").focus()
        await pilot.press("ctrl+a", "ctrl+k", *"99999999999999999999", "ctrl+s")
        await wait_for(pilot, lambda: "timesteps: at most 1,000,000,000" in text_of(app, "#form-error"))
        assert isinstance(app.screen, NewRunForm) and screen.launched == {}
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        # start a request whose process fails straight away (an unknown industry reaches argparse)
        screen.start_training(TrainRequest("ppo", "no-such-industry", 1000, 0, "doomed"))
        screen.query_one(RunMonitor).follow(Run(tmp_path / "doomed"), starting=True)
        monitor = screen.query_one(RunMonitor)
        assert monitor.view.status == "starting"
        await wait_for(pilot, lambda: monitor.view.status == "failed")
        reason = text_of(app, "#run-reason")
        assert "exited with status 2" in reason and "invalid choice: 'no-such-industry'" in reason  # argparse's words
        await wait_for_toast(pilot, "Training doomed failed")
        assert (tmp_path / ".logs" / "doomed.log").read_text()


async def test_the_new_run_form_keeps_its_fields_for_the_app_session(tmp_path: Path) -> None:
    """Closed and reopened, the form shows what was left in it (a started run's name aside); a new app
    opens it on the defaults."""
    from textual.widgets import Input, Select

    def fields(app: App[None]) -> dict[str, object]:
        form = app.screen
        assert isinstance(form, NewRunForm)
        values: dict[str, object] = {w.id or "": w.value for w in form.query(Input)}
        values |= {w.id or "": w.value for w in form.query(Select)}
        return values

    app = PaneApp(tmp_path, TrainingScreen)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, TrainingScreen)
        await open_form(pilot, app)
        defaults = fields(app)
        assert defaults["algorithm"] == "ppo" and defaults["name"] == "" and defaults["seed"] == "0"
        app.screen.query_one("#algorithm", Select).value = "dqn"
        await pilot.pause()
        for field, typed in (("#seed", "42"), ("#name", "mine"), ("#frame-stack", "3")):
            app.screen.query_one(field).focus()
            await pilot.press("ctrl+a", "ctrl+k", *typed)
        left = fields(app)
        await pilot.press("escape")  # cancelled: kept all the same
        await wait_for(pilot, lambda: app.screen is screen)
        await open_form(pilot, app)
        assert fields(app) == left and left["algorithm"] == "dqn" and left["seed"] == "42"
        assert left["timesteps"] != defaults["timesteps"]  # DQN's tuned budget, followed from the algorithm

        started: list[TrainRequest] = []
        screen.start_training = started.append  # type: ignore[method-assign,assignment]  # no process
        app.screen.query_one("#frame-stack").focus()
        await pilot.press("ctrl+a", "ctrl+k", "1", "ctrl+s")
        await wait_for(pilot, lambda: app.screen is screen)
        assert [(r.algorithm, r.seed, r.name) for r in started] == [("dqn", 42, "mine")]
        await open_form(pilot, app)
        again = fields(app)
        assert again == left | {"name": "", "frame-stack": "1"}  # the next run needs a name of its own

    fresh = PaneApp(tmp_path, TrainingScreen)
    async with fresh.run_test(size=(80, 24)) as pilot:
        await open_form(pilot, fresh)
        assert fields(fresh) == defaults


@pytest.mark.heavy
@pytest.mark.slow
async def test_start_a_real_run_from_the_form_watch_it_and_stop_it(tmp_path: Path) -> None:
    """n → form → ctrl+s starts ``cs-tui train`` detached; its records arrive; x stops it with a checkpoint."""
    pytest.importorskip("stable_baselines3")
    app = PaneApp(tmp_path, TrainingScreen)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, TrainingScreen)
        await open_form(pilot, app)
        app.screen.query_one("#timesteps").focus()
        await pilot.press("ctrl+a", "ctrl+k", *"200000")  # long enough that we stop it, not the clock
        app.screen.query_one("#name").focus()
        await pilot.press(*"live", "ctrl+s")
        await wait_for(pilot, lambda: app.screen is screen)
        # PPO's rollouts are 64 x 128 steps: the notice says what will be trained, as cs-tui train does
        await wait_for_toast(pilot, "204,800 steps, since SB3 trains whole rollouts")
        monitor = screen.query_one(RunMonitor)
        spark = screen.query_one(RewardSparkline)
        assert monitor.path == tmp_path / "live"
        launched = screen.launched["live"]
        assert os.getsid(launched.process.pid) == launched.process.pid  # its own session: survives the terminal
        await wait_for(pilot, lambda: spark.episodes > 0 and monitor.view.status == "running", timeout=300)
        first = spark.episodes
        await wait_for(pilot, lambda: spark.episodes > first)  # the sparkline grows as it trains
        assert monitor.view.train["timesteps"] > 0
        await pilot.press("x")
        await wait_for(pilot, lambda: monitor.view.status == "interrupted")
        assert launched.process.wait(timeout=120) in (0, 143)  # 143: stopped by SIGTERM, as shells report it
        assert Run(tmp_path / "live").model_path.is_file()  # the checkpoint written on the way out
        screen.refresh_runs()
        await wait_for(pilot, lambda: launched.reported)
        assert not app.screen.query("Toast.-error")  # a stop is not a failure
        # one word for it in the list and in the monitor (the list is re-read in a worker: wait for it)
        await wait_for(pilot, lambda: screen_text(app).count("stopped") >= 2)
        text = screen_text(app)
        assert "interrupted" not in text and text.count("stopped") >= 2, text


async def test_resizing_down_to_40x12_and_back_raises_nothing(tmp_path: Path) -> None:
    run = make_run(tmp_path, "ppo-resize")
    run.append_metric(train_record(1000, [0.5, 0.7, 0.9]))
    app = PaneApp(tmp_path, TrainingScreen)
    async with app.run_test(size=(80, 24)) as pilot:
        spark = app.screen.query_one(RewardSparkline)
        await wait_for(pilot, lambda: spark.episodes == 3)
        for size in ((40, 12), (120, 40), (80, 24)):
            await pilot.resize_terminal(*size)
            await pilot.pause(0.1)
        run.append_metric(train_record(2000, [1.0]))
        await wait_for(pilot, lambda: spark.episodes == 4)


async def test_a_run_started_elsewhere_is_followed_when_nothing_live_is_shown(tmp_path: Path) -> None:
    make_run(tmp_path, "old", status="finished")
    app = PaneApp(tmp_path, TrainingScreen)
    async with app.run_test(size=(80, 24)) as pilot:
        monitor = app.screen.query_one(RunMonitor)
        await wait_for(pilot, lambda: monitor.view.status == "finished")
        run = make_run(tmp_path, "from-the-cli")  # as `cs-tui train` in another terminal would
        run.append_metric(train_record(500, [0.1, 0.2]))
        await wait_for(pilot, lambda: monitor.path == run.path)
        await wait_for(pilot, lambda: app.screen.query_one(RewardSparkline).episodes == 2)


async def test_in_the_app_the_pane_catches_up_after_another_pane_was_shown(tmp_path: Path) -> None:
    from cs_tui.app import CsTuiApp

    run = make_run(tmp_path, "ppo-away")
    run.append_metric(train_record(500, [0.1, 0.2]))
    app = CsTuiApp(saves=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, TrainingScreen))
        screen = app.screen
        spark = screen.query_one(RewardSparkline)
        await wait_for(pilot, lambda: spark.episodes == 2)
        await pilot.press("p")
        await wait_for(pilot, lambda: app.screen is not screen)
        run.append_metric(train_record(1000, [0.3, 0.4, 0.5]))
        await pilot.pause(1.2)
        assert spark.episodes == 2  # nothing read while hidden
        await pilot.press("t")
        await wait_for(pilot, lambda: spark.episodes == 5)


def test_sparkline_columns_are_means_so_the_curve_uses_the_full_height() -> None:
    from cs_tui.widgets.sparkline_rewards import column_means

    assert column_means([1.0, 2.0, 3.0, 4.0], 2) == [1.5, 3.5]
    assert column_means([1.0, 2.0], 5) == [1.0, 2.0]
    noisy = [(-0.3 if i % 2 else 4.3) + i / 1000 for i in range(1000)]  # single returns span the whole scale
    columns = column_means(noisy, 10)
    assert len(columns) == 10
    assert max(columns) - min(columns) < 1.0  # the columns' own range is what the sparkline scales to


@pytest.mark.heavy
async def test_u_resumes_a_died_run_with_cs_tui_train_resume(tmp_path: Path) -> None:
    """u starts ``cs-tui train --resume`` on the followed run; with no checkpoint to go on from, it trains again
    from step 0 (a trainer that died before its first checkpoint left nothing to lose) and finishes."""
    make_run(tmp_path, "ppo-crashed", pid=dead_pid())
    app = PaneApp(tmp_path, TrainingScreen)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, TrainingScreen)
        monitor = screen.query_one(RunMonitor)
        await wait_for(pilot, lambda: monitor.view.status == "died")
        await pilot.press("u")
        launched = screen.launched["ppo-crashed"]
        args = launched.process.args
        assert isinstance(args, list)
        assert args[-4:] == ["train", "--resume", str(tmp_path.absolute() / "ppo-crashed"), "--quiet"]
        await wait_for(pilot, lambda: launched.reported, timeout=300)
        assert launched.process.returncode == 0, log_tail_of(launched.log_path)
        await wait_for(pilot, lambda: monitor.view.status == "finished")


def log_tail_of(path: Path) -> str:
    from cs_tui.launcher import log_tail

    return log_tail(path, lines=5)


async def test_the_form_starts_from_each_algorithms_tuned_budget(tmp_path: Path) -> None:
    from textual.widgets import Input, Select

    from cs_tui.training.options import load_defaults

    budgets = {name: str(d.timesteps) for name, d in load_defaults().items()}
    app = PaneApp(tmp_path, TrainingScreen)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(pilot, app)
        steps = app.screen.query_one("#timesteps", Input)
        assert steps.value == budgets["ppo"]
        app.screen.query_one("#algorithm", Select).value = "dqn"
        await wait_for(pilot, lambda: steps.value == budgets["dqn"])
        steps.value = "1234"  # the user's own number is kept when the algorithm changes
        app.screen.query_one("#algorithm", Select).value = "a2c"
        await pilot.pause(0.1)
        assert steps.value == "1234"


def runs_list(app: App[None]) -> list[tuple[str, str]]:
    """The runs list as shown: (run, status) per row."""
    table = app.screen.query_one("#runs", DataTable)
    return [
        (str(table.get_cell_at(Coordinate(r, 0))), str(table.get_cell_at(Coordinate(r, 1))))
        for r in range(table.row_count)
    ]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_runs_with_long_names_stay_apart_and_statuses_are_whole_words(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    make_run(tmp_path, "ppo-mixed-20261125-032111", status="interrupted", pid=dead_pid())
    make_run(tmp_path, "ppo-mixed-20261125-045502", status="finished", pid=dead_pid())
    app = PaneApp(tmp_path, TrainingScreen)
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: len(runs_list(app)) == 2)
        shown = dict(runs_list(app))
        if size[0] >= 120:  # wide: whole default names
            assert set(shown) == {"ppo-mixed-20261125-032111", "ppo-mixed-20261125-045502"}
        else:  # cut in the middle: the distinctive end stays
            assert set(shown) == {"ppo-mixed-…032111", "ppo-mixed-…045502"}
        assert sorted(shown.values()) == ["finished", "stopped"]


async def test_the_runs_list_shows_the_monitors_progress(tmp_path: Path) -> None:
    # meta.json's timesteps_done lags (written at checkpoints); the metrics records are fresher
    run = make_run(tmp_path, "ppo-mixed-live", timesteps_done=3300)
    run.append_metric(train_record(3900, [0.5]))
    app = PaneApp(tmp_path, TrainingScreen)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one(RewardSparkline).episodes == 1)
        await wait_for(pilot, lambda: runs_list(app) == [("ppo-mixed-live", "39%")])
        await pilot.pause(2.5)  # a later listing (meta still says 33%) does not take it back
        assert runs_list(app) == [("ppo-mixed-live", "39%")]


async def test_the_runs_list_and_the_monitor_show_one_progress_after_a_resume_with_a_larger_total(
    tmp_path: Path,
) -> None:
    # trained to 5,000 of 5,000, then resumed to 10,000: the stream's last train record still says 100 %
    run = make_run(tmp_path, "ppo-mixed-more", timesteps_done=5000, total_timesteps=10_000)
    run.append_metric(train_record(5000, [0.5], progress=1.0))
    app = PaneApp(tmp_path, TrainingScreen)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one(RewardSparkline).episodes == 1)
        await wait_for(pilot, lambda: runs_list(app) == [("ppo-mixed-more", "50%")])
        assert app.screen.query_one("#run-progress", ProgressBar).percentage == pytest.approx(0.5)


async def test_the_key_bar_fits_80_columns_down_to_quit(tmp_path: Path) -> None:
    from cs_tui.app import CsTuiApp

    app = CsTuiApp(saves=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.switch_mode("training")
        await pilot.pause()
        keys = screen_text(app).splitlines()[-1]
        assert "q Quit" in keys and "…" not in keys, keys


async def test_on_a_narrow_terminal_the_monitor_gets_the_whole_width_below_the_list(tmp_path: Path) -> None:
    run = make_run(tmp_path, "ppo-narrow")
    run.append_metric(train_record(1000, [0.5, 0.7, 0.9]))
    app = PaneApp(tmp_path, TrainingScreen)
    async with app.run_test(size=(50, 15)) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one(RewardSparkline).episodes == 3)
        runs, monitor = app.screen.query_one("#runs-pane").region, app.screen.query_one(RunMonitor).region
        assert monitor.y >= runs.bottom and monitor.width == 50, (runs, monitor)
        assert "mean return" in screen_text(app)  # a figure's label is whole, not cut to "me…"
        await pilot.resize_terminal(80, 24)  # wide enough again: side by side
        await pilot.pause(0.1)
        runs, monitor = app.screen.query_one("#runs-pane").region, app.screen.query_one(RunMonitor).region
        assert monitor.x >= runs.right and monitor.y == runs.y


async def test_a_seed_past_2_63_is_refused_by_the_form_naming_the_range(tmp_path: Path) -> None:
    app = PaneApp(tmp_path, TrainingScreen)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(pilot, app)
        app.screen.query_one("#seed").focus()
        await pilot.press("ctrl+a", "ctrl+k", *"99999999999999999999", "ctrl+s")
        assert isinstance(app.screen, NewRunForm)  # not started: it would have failed 15 s later
        error = text_of(app, "#form-error")
        assert "seed: seed 99,999,999,999,999,999,999 is out of range" in error
        assert "a seed is from 0 to 9,223,372,036,854,775,807" in error
    assert not (tmp_path / ".logs").exists()


async def test_a_run_started_here_that_fails_shows_its_error_not_a_pointer_to_a_file(tmp_path: Path) -> None:
    """``cs-tui train`` ends a failure with ``(details in …/meta.json)``: the pane shows the recorded error itself."""
    import sys

    from cs_tui.launcher import Launched

    run = make_run(tmp_path, "doomed", status="failed", error="ValueError: the replay buffer is corrupt")
    app = PaneApp(tmp_path, TrainingScreen)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, TrainingScreen)
        monitor = screen.query_one(RunMonitor)
        await wait_for(pilot, lambda: monitor.path == run.path)
        # what cs-tui train --quiet writes to its log when a run fails, then exit status 1
        log_path = tmp_path / "doomed.log"
        script = (
            "import sys; print('cs-tui train: doomed failed: ValueError: the replay buffer is corrupt', "
            "file=sys.stderr);"
            f"print('  (details in {run.meta_path})', file=sys.stderr); sys.exit(1)"
        )
        with open(log_path, "ab") as log:
            process = subprocess.Popen([sys.executable, "-c", script], stderr=log)
        screen.launched["doomed"] = Launched(process, log_path, time.monotonic())
        await wait_for(pilot, lambda: screen.launched["doomed"].reported)
        reason = text_of(app, "#run-reason")
        assert "the replay buffer is corrupt" in reason and "details in" not in reason
        await wait_for_toast(pilot, "the replay buffer is corrupt")


@pytest.mark.heavy
async def test_the_run_the_user_opened_stays_and_a_new_live_run_is_announced(tmp_path: Path) -> None:
    """A run started elsewhere leaves the run the user chose on the monitor; l follows it; u acts on the choice."""
    make_run(tmp_path, "picked", status="interrupted", created_at="2026-01-01T10:00:00+00:00")
    make_run(tmp_path, "newest", status="finished", created_at="2026-01-02T10:00:00+00:00")
    app = PaneApp(tmp_path, TrainingScreen)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = app.screen
        assert isinstance(screen, TrainingScreen)
        monitor = screen.query_one(RunMonitor)
        table = screen.query_one("#runs", DataTable)
        await wait_for(pilot, lambda: monitor.path == tmp_path / "newest")  # re-attached to the newest
        table.focus()
        await pilot.press("down", "enter")  # the user picks the older, stopped run
        await wait_for(pilot, lambda: monitor.path == tmp_path / "picked" and monitor.view.status == "interrupted")
        live = make_run(tmp_path, "from-the-cli")  # as `cs-tui train` in another terminal would
        await wait_for_toast(pilot, "from-the-cli started training")
        await pilot.pause(1.0)
        assert monitor.path == tmp_path / "picked"  # the choice stays
        assert "● from-the-cli" in screen_text(app)  # marked in the list
        await pilot.press("u")  # acts on the chosen run, not on the new one
        assert list(screen.launched) == ["picked"]
        args = screen.launched["picked"].process.args
        assert isinstance(args, list) and args[-2:] == [str(tmp_path.absolute() / "picked"), "--quiet"]
        await pilot.press("l")
        await wait_for(pilot, lambda: monitor.path == live.path)
        await wait_for(pilot, lambda: "●" not in screen_text(app))
        await wait_for(pilot, lambda: screen.launched["picked"].reported, timeout=300)


async def test_the_progress_line_fits_80_columns_and_never_shows_more_steps_than_the_total(tmp_path: Path) -> None:
    run = make_run(tmp_path, "dqn-mixed-20260101-120000", algorithm="dqn", total_timesteps=100_000)
    app = PaneApp(tmp_path, TrainingScreen)
    async with app.run_test(size=(80, 24)) as pilot:
        monitor = app.screen.query_one(RunMonitor)
        await wait_for(pilot, lambda: monitor.path == run.path and monitor.view.status == "running")
        await pilot.pause(0.3)
        text = screen_text(app)
        assert "0% setting up" in text and "0/100,000 steps" in text, text  # was cut to "waiting for the"
        # DQN's last collection round may pass the total by a step or two
        run.append_metric(train_record(100_002, [1.0], progress=1.0))
        await wait_for(pilot, lambda: monitor.view.train.get("timesteps") == 100_002)
        await pilot.pause(0.3)
        text = screen_text(app)
        assert "100,002/100,002" in text and "100,002/100,000" not in text
