"""The tuning view as a user drives it: keys on an empty saves folder, long study names, trial
parameters in full, and ``x`` / ``u`` stopping and continuing a study's real worker processes."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from app_helpers import PaneApp, screen_text, shown, wait_for
from test_tune import TINY_SPACE
from textual.widgets import Label

from cs_tui import launcher
from cs_tui.screens.training import TrainingScreen
from cs_tui.screens.tuning import TuningScreen
from cs_tui.training import runs
from cs_tui.training.search_space import shown_state
from cs_tui.training.stop import StopFlag
from cs_tui.tuning.options import TuneError, TuneOptions, settings_of, trial_run_name
from cs_tui.tuning.results import load_study, trial_rows
from cs_tui.tuning.storage import open_storage, open_study, study_workers
from cs_tui.tuning.worker import _retry_an_interrupted_trial

LONG = "a-study-named-at-length-by-a-careful-person-" + "x" * 30 + "-end"  # 78 characters: allowed


def study_with_trials(saves: Path, name: str, params: list[dict[str, Any]], values: list[float]) -> Any:
    """A study in the saves folder's storage holding finished trials (no training: the view is under test)."""
    import optuna

    options = TuneOptions(study=name, trials=len(params) + 1, saves=saves, timesteps=512)
    study = open_study(options, open_storage(None, saves, 1), name)
    choices: dict[str, list[Any]] = {}
    for chosen in params:
        for key, value in chosen.items():
            choices.setdefault(key, []).append(value) if value not in choices.get(key, []) else None
    for number, (chosen, value) in enumerate(zip(params, values, strict=True)):
        distributions = {key: optuna.distributions.CategoricalDistribution(choices[key]) for key in chosen}
        study.add_trial(
            optuna.trial.create_trial(
                params=chosen,
                distributions=distributions,
                value=value,
                user_attrs={"run": trial_run_name(name, number)},
            )
        )
    return study


PARAMS = {
    "model.learning_rate": 0.000123,
    "model.n_steps": 128,
    "model.batch_size": 256,
    "model.gamma": 0.995,
    "model.gae_lambda": 0.92,
    "model.ent_coef": 0.0125,
    "model.vf_coef": 0.75,
    "model.clip_range": 0.3,
    "model.max_grad_norm": 0.8,
    "trainer.n_envs": 16,
}


def studies_rows(app: Any) -> list[str]:
    """The rows of the studies list: the lines that hold a study's best (a number before the pane's edge)."""
    return [line for line in screen_text(app).splitlines() if re.search(r"\d +▎", line)]


async def test_keys_on_an_empty_tuning_view_raise_nothing(tmp_path: Path) -> None:
    """Empty saves folder, ``y``, ``Tab``, ``Up`` crashed the app: AttributeError, ``event.row_key`` was None."""
    app = PaneApp(tmp_path, TrainingScreen)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:  # toasts drawn, as a user sees them
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, TuningScreen))
        await wait_for(pilot, lambda: "No studies yet" in screen_text(app), timeout=60)
        for key in ("tab", "up", "down", "tab", "up", "enter", "end", "home", "pageup", "pagedown"):
            await pilot.press(key)
            await pilot.pause()
        await pilot.press("x")
        await wait_for(pilot, lambda: "No study to stop" in screen_text(app))
        await pilot.press("u")
        await wait_for(pilot, lambda: "No study to continue" in screen_text(app))
        assert isinstance(app.screen, TuningScreen) and app.return_code is None  # still up, nothing raised


async def test_long_study_names_keep_the_studies_list_a_list(tmp_path: Path) -> None:
    study_with_trials(tmp_path, LONG, [{"model.n_steps": 64}], [61.5])
    study_with_trials(tmp_path, "ppo-mixed", [{"model.n_steps": 64}], [72.25])
    app = PaneApp(tmp_path, TuningScreen)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "72.2" in screen_text(app) and "61.5" in screen_text(app), timeout=60)
        studies = studies_rows(app)
        # one row each, the trial count and the best beside the name, a long name cut in the middle
        assert len(studies) == 2, screen_text(app)
        assert re.match(r" a-st\S*…\S*-end +1 +61\.5 +▎", studies[0]), studies[0]
        assert re.match(r" ppo-mixed +1 +72\.2 +▎", studies[1]), studies[1]
    wide = PaneApp(tmp_path, TuningScreen)
    async with wide.run_test(size=(120, 30)) as pilot:  # a wider list shows more of the name
        # both rows as the assertion reads them: waiting for the figure alone ended before they were whole
        # on a busy machine (IndexError)
        await wait_for(pilot, lambda: len(studies_rows(wide)) == 2, timeout=60)
        assert re.match(r" a-study-na\S*…\S*-end +1 +61\.5 +▎", studies_rows(wide)[0])


@pytest.mark.parametrize("width", [80, 120])
async def test_a_trials_parameters_are_shown_whole_below_the_table(tmp_path: Path, width: int) -> None:
    """The parameters column was cut even at 120 columns: the highlighted trial's show in full, wrapped."""
    other = {**PARAMS, "model.n_steps": 64}
    study_with_trials(tmp_path, "ppo-mixed", [PARAMS, other], [40.0, 55.0])
    app = PaneApp(tmp_path, TuningScreen)
    async with app.run_test(size=(width, 30)) as pilot:
        await wait_for(pilot, lambda: "trial 0 · complete" in screen_text(app), timeout=60)
        text = " ".join(screen_text(app).split())
        for key, value in PARAMS.items():
            shown = f"{value:.3g}" if isinstance(value, float) else str(value)
            assert f"{key.split('.', 1)[1]}={shown}" in text, (key, screen_text(app))
        assert "run ppo-mixed-t0000" in text or width < 100
        # the highlighted trial follows the cursor, and stays through the view's refreshes
        app.screen.query_one("#trials").focus()
        await pilot.press("down")
        await wait_for(pilot, lambda: "trial 1 · complete" in screen_text(app))
        assert "n_steps=64" in screen_text(app)
        view = app.screen
        assert isinstance(view, TuningScreen)
        reads = view.view
        await wait_for(pilot, lambda: view.view is not reads, timeout=30)  # a refresh read the storage again
        await pilot.pause(0.2)
        assert "trial 1 · complete" in screen_text(app)


def test_the_stop_flag_nests_so_a_worker_can_hand_its_flag_to_a_trial() -> None:
    before = signal.getsignal(signal.SIGTERM)
    flag = StopFlag()
    flag.install()  # the worker
    flag.install()  # the trial's trainer, handed the worker's flag
    flag.restore()  # the trial ends: the worker still catches the signals
    assert signal.getsignal(signal.SIGTERM) == flag.request
    flag.restore()
    assert signal.getsignal(signal.SIGTERM) == before


def _holder(saves: Path, study: str) -> subprocess.Popen[str]:
    """A process holding study ``study``'s worker mark, as a tune worker does, until it is signalled."""
    code = (
        "import sys, time\nfrom pathlib import Path\nfrom cs_tui.tuning.storage import WorkerMark\n"
        "mark = WorkerMark(Path(sys.argv[1]), sys.argv[2])\nprint('ready', flush=True)\ntime.sleep(120)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code, str(saves), study], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    return process


def test_stop_study_signals_only_the_processes_holding_that_studys_mark(tmp_path: Path) -> None:
    ours, theirs = _holder(tmp_path, "ours"), _holder(tmp_path, "theirs")
    bystander = subprocess.Popen(["sleep", "120"])  # no mark: never signalled
    try:
        assert study_workers(tmp_path, "ours") == [ours.pid]
        assert launcher.stop_study(tmp_path, "ours") == 1
        assert ours.wait(timeout=30) == -signal.SIGTERM
        assert theirs.poll() is None and bystander.poll() is None
        assert launcher.stop_study(tmp_path, "ours") == 0  # none left: nothing signalled
        assert launcher.stop_study(tmp_path, "nosuch") == 0
    finally:
        for process in (ours, theirs, bystander):
            process.kill()
            process.wait()


# -- x and u on a real study -----------------------------------------------------------------


@pytest.mark.slow
async def test_x_stops_a_studys_worker_and_u_continues_it(tmp_path: Path) -> None:
    """The view offered only ``n`` and ``esc``; stopping a trial's run left it ``fail`` and the next trial
    ``waiting`` forever. Now ``x`` stops the worker as a signal does (run interrupted, trial stopped, no
    trial waiting) and ``u`` continues the study, trying the stopped trial's parameters first."""
    saves = tmp_path / "saves"
    space = tmp_path / "space.toml"
    space.write_text(TINY_SPACE)
    # a study made with the settings u passes on; its trials are long enough to be caught training
    settings = ["--timesteps", "16384", "--eval-every", "256", "--eval-episodes", "30", "--holdout-episodes", "30",
                "--seed", "0", "--algorithm", "ppo", "--industry", "mixed"]  # fmt: skip
    command = [sys.executable, "-m", "cs_tui", "--saves", str(saves), "tune", "--study", "stopme", "--trials", "1",
               "--search-space", str(space), "--reference-episodes", "30", "--heartbeat", "2", *settings]  # fmt: skip
    worker = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        app = PaneApp(saves, TuningScreen)
        async with app.run_test(size=(100, 30), notifications=True) as pilot:
            view = app.screen
            assert isinstance(view, TuningScreen)
            await wait_for(pilot, lambda: _training(saves, worker.pid) is not None, timeout=240)
            trial = _training(saves, worker.pid)
            await wait_for(pilot, lambda: view.view.workers == 1, timeout=30)
            assert "1 process here (x stops)" in screen_text(app)
            await pilot.press("x")
            _, err = worker.communicate(timeout=120)
            assert worker.returncode == 128 + signal.SIGTERM, err
            assert "Traceback" not in err
            study = load_study(open_storage(None, saves, 2), "stopme")
            states = [t.state.name for t in study.get_trials()]
            assert states == ["FAIL"]  # stopped, and nothing left waiting for a worker that is gone
            assert study.get_trials()[0].user_attrs["interrupted"].startswith("stopped by SIGTERM")
            assert runs.Run(saves / trial.user_attrs["run"]).status == "interrupted"
            # a read of the storage after the worker's end (the trial stopped, no process left)
            stopped = ["stopped"]
            await wait_for(pilot, lambda: not view.view.workers and [shown_state(r) for r in view.view.rows] == stopped,
                           timeout=30)  # fmt: skip
            await pilot.pause(0.2)
            assert "stopped" in screen_text(app) and "waiting" not in screen_text(app)
            assert "no worker: u continues" in shown(view.query_one("#tuning-status", Label))

            await pilot.press("u")
            continued = view.launched["stopme"]
            await wait_for(pilot, lambda: continued.process.poll() is not None, timeout=600)
            assert continued.process.returncode == 0, continued.log_path.read_text()
        trials = load_study(open_storage(None, saves, 2), "stopme").get_trials()
        assert [t.state.name for t in trials] in (["FAIL", "COMPLETE"], ["FAIL", "PRUNED"])
        assert trials[1].params == trials[0].params and trials[1].user_attrs["retry_of"] == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.communicate()


def _training(saves: Path, pid: int) -> Any:
    """The trial worker ``pid`` is training (its run folder has its first checkpoint), or None."""
    try:
        study = load_study(open_storage(None, saves, 2), "stopme")
    except TuneError:
        return None
    for trial in study.get_trials():
        if trial.state.name == "RUNNING" and trial.user_attrs.get("pid") == pid and "run" in trial.user_attrs:
            run = runs.Run(saves / trial.user_attrs["run"])
            if run.model_path.is_file() and run.recorded_status == "running":
                return trial
    return None


def test_the_continue_command_is_one_tune_takes_with_the_studys_own_settings(tmp_path: Path) -> None:
    from cs_tui.cli import build_parser
    from cs_tui.screens.tuning import StudyLine, continue_argv

    settings = {"algorithm": "a2c", "industry": "tech", "timesteps": 4096, "seed": 7, "eval_every": 512,
                "eval_episodes": 40, "holdout_episodes": 50}  # fmt: skip
    argv = continue_argv(tmp_path, StudyLine("s", 3, None, settings, 5, "/the/space.toml"), "sqlite:///x.db")
    assert argv is not None
    args = build_parser().parse_args(argv)
    assert args.search_space == "/the/space.toml"  # the study's own space: another one's choices clash
    options = __import__("cs_tui.commands.tune", fromlist=["_options"])._options(args, tmp_path)
    assert settings_of(options) == settings  # the study accepts it: the same settings
    assert (args.study, args.trials, args.jobs, args.storage) == ("s", 5, 1, "sqlite:///x.db")
    assert continue_argv(tmp_path, StudyLine("s", 3, None, None, 5), None) is None  # made elsewhere: no guess


def test_a_stopped_trial_is_retried_when_the_study_goes_on_not_queued_now(tmp_path: Path) -> None:
    import optuna

    saves = tmp_path
    options = TuneOptions(study="s", trials=2, saves=saves, timesteps=512)
    study = open_study(options, open_storage(None, saves, 1), "s")
    dist = {"model.n_steps": optuna.distributions.CategoricalDistribution([32, 64])}
    study.add_trial(optuna.trial.create_trial(params={"model.n_steps": 64}, distributions=dist,
                                              state=optuna.trial.TrialState.FAIL,
                                              user_attrs={"interrupted": "stopped by SIGTERM"}))  # fmt: skip
    assert [t.state.name for t in study.get_trials()] == ["FAIL"]  # nothing waiting while no worker runs
    _retry_an_interrupted_trial(study)
    _retry_an_interrupted_trial(study)  # once only
    waiting = [t for t in study.get_trials() if t.state.name == "WAITING"]
    assert len(waiting) == 1 and waiting[0].user_attrs["retry_of"] == 0
    # the next trial a worker takes is that one, with the stopped trial's parameters
    taken = study.ask()
    assert taken.number == waiting[0].number and taken.suggest_categorical("model.n_steps", [32, 64]) == 64
    rows = trial_rows(study)
    assert rows[0]["interrupted"] == "stopped by SIGTERM"
