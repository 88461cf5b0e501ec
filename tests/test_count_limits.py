"""Every count and name `cs-tui train` and `cs-tui tune` take has a ceiling, named in a usage error (exit 2)
given before any run folder or trial exists; a study whose trials keep failing stops and says why; a
Ctrl-C while the command is still starting exits by SIGINT without a traceback."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli

from cs_tui.training import registry, trainer
from cs_tui.training.options import TrainingError, TrainingInputError, TrainOptions
from cs_tui.training.stop import StopFlag
from cs_tui.tuning.options import TuneInputError, TuneOptions, check_options
from cs_tui.tuning.results import load_study
from cs_tui.tuning.storage import open_storage
from cs_tui.tuning.worker import run_worker

HUGE = str(10**30)
LONG = "x" * 10_000


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--n-envs", HUGE], "--n-envs: must be at most 1,024"),
        (["--eval-episodes", HUGE], "--eval-episodes: must be at most 20,000"),
        (["--reference-episodes", HUGE], "--reference-episodes: must be at most 20,000"),
        (["--eval-every", HUGE], "--eval-every: must be at most 1,000,000,000"),
        (["--keep-checkpoints", HUGE], "--keep-checkpoints: must be at most 1,000"),
        (["--resume", ""], "--resume: needs a value"),
        (["--resume", LONG], "--resume: is 10,000 characters long; a path has at most 4,096"),
        (["--warm-start", LONG], "--warm-start: is 10,000 characters long; a path has at most 4,096"),
        (
            ["--warm-start", "baseline:oracle", "--warm-start-epochs", HUGE],
            "--warm-start-epochs: must be at most 1,000",
        ),
        (
            ["--warm-start", "baseline:oracle", "--warm-start-epochs", "0"],
            "--warm-start-epochs: must be at least 1",
        ),
        (["--warm-start-epochs", "50"], "--warm-start-epochs sets the warm start's imitation: give --warm-start"),
        (["--resume", "r", "--warm-start-epochs", "50"], "drop --warm-start-epochs"),
    ],
)
def test_train_refuses_huge_counts_and_bad_names_before_any_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], says: str
) -> None:
    saves = tmp_path / "saves"
    code, err = run_cli(capsys, "--saves", str(saves), "train", *args, "--timesteps", "100", "--quiet")
    assert code == 2 and says in err and "Traceback" not in err, err
    assert not saves.exists()  # no run folder was made (an empty --resume used to start a default run)


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"n_envs": 10**30}, "--n-envs must be at most 1,024"),
        ({"eval_episodes": 10**30}, "--eval-episodes must be at most 20,000"),
        ({"reference_episodes": 10**30}, "--reference-episodes must be at most 20,000"),
        ({"warm_start": LONG}, "--warm-start is 10,000 characters long"),
        ({"warm_start": "baseline:oracle", "warm_start_epochs": 10**30}, "--warm-start-epochs must be at most 1,000"),
    ],
)
def test_the_trainer_refuses_them_too_for_callers_other_than_the_cli(
    tmp_path: Path, change: dict[str, Any], says: str
) -> None:
    options = TrainOptions(timesteps=100, saves=tmp_path / "saves", **change)
    with pytest.raises(TrainingInputError) as caught:  # a usage error, exit status 2 in the CLI
        trainer.train(options)
    assert says in str(caught.value)
    assert not (tmp_path / "saves").exists()


def test_resume_of_a_name_too_long_for_the_system_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(TrainingInputError) as caught:
        trainer.resume("y" * 300, saves=tmp_path)  # under our limit, over the file system's 255 per name
    assert "not a run folder (File name too long)" in str(caught.value)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--jobs", HUGE], "--jobs: must be at most 64"),
        (["--eval-episodes", HUGE], "--eval-episodes: must be at most 20,000"),
        (["--holdout-episodes", HUGE], "--holdout-episodes: must be at most 20,000"),
        (["--heartbeat", HUGE], "--heartbeat: must be at most 3,600"),
        (["--startup-trials", HUGE], "--startup-trials: must be at most 10,000"),
        (["--timeout", HUGE], "--timeout: must be at most 2,592,000"),
        (["--eval-every", HUGE], "--eval-every: must be at most 1,000,000,000"),
    ],
)
def test_tune_refuses_huge_counts_before_any_trial(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], says: str
) -> None:
    saves = tmp_path / "saves"
    code, err = run_cli(capsys, "--saves", str(saves), "tune", "--trials", "1", *args)
    assert code == 2 and says in err and "Traceback" not in err, err
    assert not saves.exists()  # no study storage, no trial folder


@pytest.mark.parametrize(
    "change",
    [{"eval_episodes": 10**30}, {"holdout_episodes": 10**30}, {"heartbeat": 10**30}, {"reference_episodes": 1},
     {"startup_trials": -1}, {"timeout": 1e30}],
)  # fmt: skip
def test_the_tuner_refuses_them_too_for_callers_other_than_the_cli(tmp_path: Path, change: dict[str, Any]) -> None:
    with pytest.raises(TuneInputError) as caught:  # a usage error, exit status 2 in the CLI
        check_options(TuneOptions(trials=1, saves=tmp_path, **change))
    flag = "--" + next(iter(change)).replace("_", "-")
    assert flag in str(caught.value)


def test_a_study_whose_trials_all_fail_alike_stops_after_three_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    stop = StopFlag()

    def failing_train(options: TrainOptions, *args: Any, **kwargs: Any) -> Any:
        calls.append(str(options.name))
        if len(calls) > 10:  # (before the fix the worker never stopped: end the test instead of hanging)
            stop.request(signal.SIGTERM)
        raise TrainingError("cannot create the run folder: No space left on device")

    monkeypatch.setattr(trainer, "train", failing_train)
    options = TuneOptions(trials=1, saves=tmp_path, study="doomed", timesteps=512, heartbeat=2)
    result = run_worker(options, stop=stop)
    assert len(calls) == registry.MAX_FAILED_IN_A_ROW == 3
    assert (result.status, result.exit_code) == ("failed", 1)
    assert result.message == "3 trials in a row failed: cannot create the run folder: No space left on device"
    study = load_study(open_storage(None, tmp_path, 2), "doomed")
    assert [t.state.name for t in study.get_trials()] == ["FAIL"] * 3


def test_a_ctrl_c_while_the_command_starts_ends_it_by_sigint_without_a_traceback(tmp_path: Path) -> None:
    # the industry files are being read (the first ~0.3 s of every command) when the Ctrl-C arrives
    code = (
        "import sys, cs_tui.cli as cli\n"
        "def interrupted():\n"
        "    raise KeyboardInterrupt\n"
        "cli.industry_data_problem = interrupted\n"
        "sys.argv = ['cs-tui', 'demo', '--episodes', '1']\n"
        "sys.exit(cli.main())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == -signal.SIGINT, done.stderr  # the shell shows 130, as for any program stopped so
    assert "Traceback" not in done.stderr and "KeyboardInterrupt" not in done.stderr


def test_a_ctrl_c_while_an_in_process_command_starts_returns_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import cs_tui.cli as cli

    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "industry_data_problem", interrupted)
    code, err = run_cli(capsys, "demo", "--episodes", "1")
    assert code == 130 and "Traceback" not in err


def test_a_worker_the_system_refuses_to_start_is_one_line_and_the_others_are_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import cs_tui.commands.tune as tune_command

    started: list[subprocess.Popen[bytes]] = []
    real_popen = subprocess.Popen

    def popen(command: list[str], *args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        if started:  # the second worker: the process limit is reached
            raise BlockingIOError(11, "Resource temporarily unavailable")
        started.append(real_popen([sys.executable, "-c", "import time; time.sleep(300)"]))
        return started[0]

    monkeypatch.setattr(tune_command.subprocess, "Popen", popen)
    code, err = run_cli(capsys, "--saves", str(tmp_path), "tune", "--trials", "2", "--jobs", "2", "--study", "s")
    assert code == 1 and "Traceback" not in err
    assert "cannot start worker 2 of 2: Resource temporarily unavailable; try fewer --jobs" in err
    assert started[0].poll() is not None  # the worker already started was stopped, not left behind


def test_a_ctrl_c_an_import_turns_into_an_import_error_still_ends_quietly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """numpy's import turns a KeyboardInterrupt inside its C extension into an ImportError (the campaign saw it)."""
    import os

    import cs_tui.cli as cli

    def numpy_like_import() -> None:
        try:
            os.kill(os.getpid(), signal.SIGINT)  # the Ctrl-C, while the extension loads
        except KeyboardInterrupt as exc:
            raise ImportError('PyCapsule_Import could not import module "datetime"') from exc

    monkeypatch.setattr(cli, "industry_data_problem", numpy_like_import)
    code, err = run_cli(capsys, "demo", "--episodes", "1")
    assert code == 130 and "Traceback" not in err and "ImportError" not in err
