"""Every count a person types for training and tuning has a ceiling, named in the error, read from the
registry of rules by argparse, the forms and the trainer alike (``99999999999999999999`` started a real
run); the monitor shows any allowed total in full at 80 columns with its ETA in view."""

from __future__ import annotations

from pathlib import Path

import pytest
from app_helpers import PaneApp, screen_text, wait_for
from cli_helpers import run_cli
from test_app_training import make_run, train_record

from cs_tui.screens.study_form import validate_study
from cs_tui.screens.training import TrainingScreen
from cs_tui.screens.training_form import validate
from cs_tui.training import trainer
from cs_tui.training.options import TrainingInputError, TrainOptions, whole_collections
from cs_tui.training.registry import MAX_TIMESTEPS, MAX_TRIALS
from cs_tui.widgets.training_monitor import RunMonitor

HUGE = "99999999999999999999"  # what the issue typed


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--timesteps", HUGE],
        ["train", "--timesteps", str(MAX_TIMESTEPS + 1)],
        ["train", "--resume", "some-run", "--timesteps", HUGE],
        ["tune", "--trials", "1", "--timesteps", HUGE],
    ],
)
def test_timesteps_past_the_ceiling_are_a_usage_error_naming_it_and_no_run_is_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, err = run_cli(capsys, "--saves", str(tmp_path), *argv)
    assert code == 2
    assert f"argument --timesteps: must be at most {MAX_TIMESTEPS:,}" in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())  # refused before any run folder (or study) exists


def test_trials_past_the_ceiling_are_a_usage_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run_cli(capsys, "--saves", str(tmp_path), "tune", "--trials", HUGE)
    assert code == 2 and f"argument --trials: must be at most {MAX_TRIALS:,}" in err
    assert not any(tmp_path.iterdir())


def test_the_largest_timesteps_are_taken() -> None:
    from cs_tui.cli import build_parser

    args = build_parser().parse_args(["train", "--timesteps", f"{MAX_TIMESTEPS}"])
    assert args.timesteps == MAX_TIMESTEPS


def test_the_help_texts_are_built_from_the_constants() -> None:
    import contextlib
    import io

    from cs_tui.cli import build_parser

    for command, flags in (("train", ["--timesteps"]), ("tune", ["--timesteps", "--trials"])):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            build_parser().parse_args([command, "--help"])
        text = " ".join(out.getvalue().split())
        assert f"at most {MAX_TIMESTEPS:,}" in text, command
        if "--trials" in flags:
            assert f"at most {MAX_TRIALS:,}" in text


def test_the_trainer_refuses_timesteps_past_the_ceiling_before_any_folder(tmp_path: Path) -> None:
    with pytest.raises(TrainingInputError, match=f"--timesteps must be at most {MAX_TIMESTEPS:,}"):
        trainer.train(TrainOptions(timesteps=MAX_TIMESTEPS + 1, saves=tmp_path, name="big"))
    assert not (tmp_path / "big").exists()
    run = make_run(tmp_path, "stopped", status="interrupted")
    before = run.meta_path.read_bytes()
    with pytest.raises(TrainingInputError, match=f"at most {MAX_TIMESTEPS:,}"):
        trainer.resume(run.path, timesteps=10**20)
    assert run.meta_path.read_bytes() == before  # the run is not touched


def test_the_forms_refuse_counts_past_their_ceilings_naming_them(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=f"timesteps: at most {MAX_TIMESTEPS:,}"):
        validate("ppo", "mixed", HUGE, "0", "", tmp_path)
    assert validate("ppo", "mixed", f"{MAX_TIMESTEPS:,}", "0", "", tmp_path).timesteps == MAX_TIMESTEPS
    good = dict(algorithm="ppo", industry="mixed", trials="20", jobs="1", timesteps="", seed="0", study="")
    with pytest.raises(ValueError, match=f"trials: at most {MAX_TRIALS:,}"):
        validate_study(**{**good, "trials": HUGE})
    with pytest.raises(ValueError, match=f"timesteps: at most {MAX_TIMESTEPS:,}"):
        validate_study(**{**good, "timesteps": HUGE})
    assert validate_study(**{**good, "trials": str(MAX_TRIALS)}).trials == MAX_TRIALS


async def test_the_monitor_shows_the_largest_total_in_full_with_its_eta_at_80_columns(tmp_path: Path) -> None:
    """``0% 24,640/100,000,000,000,000`` was cut at 80 columns and the ETA was off-screen."""
    # the largest total a run can plan: the ceiling rounded up to whole rollouts of 64 x 128 steps
    total = whole_collections(MAX_TIMESTEPS, 64 * 128)
    run = make_run(tmp_path, "ppo-mixed-20260101-120000", total_timesteps=total)
    run.append_metric(train_record(total - 1, [1.0], eta_seconds=3_600_000.0))
    app = PaneApp(tmp_path, TrainingScreen)
    async with app.run_test(size=(80, 24)) as pilot:
        monitor = app.screen.query_one(RunMonitor)
        await wait_for(pilot, lambda: monitor.view.train.get("timesteps") == total - 1)
        await pilot.pause(0.2)
        text = screen_text(app)
        assert f"{total - 1:,}/{total:,} steps" in text, text
        assert "ETA 1000:00:00" in text, text
