"""Starting and stopping training processes without the UI (cs_tui.launcher): the app's Training
and Tuning screens only show what these functions do."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from cs_tui import launcher
from cs_tui.files import atomic_write_json
from cs_tui.training.run_record import RunStatus
from cs_tui.training.runs import Run

QUICK = ["--eval-episodes", "100", "--reference-episodes", "100", "--n-envs", "4", "--eval-every", "512", "--quiet"]


def wait(condition: object, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


@pytest.mark.heavy
def test_a_launched_run_lives_in_its_own_session_logs_to_saves_and_stops_with_a_checkpoint(tmp_path: Path) -> None:
    argv = ["--saves", str(tmp_path), "train", "--name", "r", "--timesteps", "200000", *QUICK]
    launched = launcher.launch(tmp_path, "r", argv)
    assert os.getsid(launched.process.pid) == launched.process.pid  # survives the terminal and SSH
    assert launched.log_path == tmp_path / ".logs" / "r.log" and launched.log_path.is_file()
    run = Run(tmp_path / "r")
    wait(lambda: run.trainer_pid() is not None and run.model_path.is_file())
    assert launcher.stop_run(run, launched) == launcher.Stop.SIGNALLED
    assert launched.process.wait(timeout=300) == 143
    assert run.recorded_status == RunStatus.INTERRUPTED and run.model_path.is_file()
    assert launcher.exit_failure(launched, run) is None  # a stop is no failure
    assert launcher.stop_run(run, launched) == launcher.Stop.NOT_RUNNING


def test_a_process_that_fails_before_its_run_exists_is_reported_once_with_its_words(tmp_path: Path) -> None:
    launched = launcher.launch(tmp_path, "doomed", ["--saves", str(tmp_path), "train", "--industry", "nowhere"])
    launched.process.wait(timeout=120)
    code, reason = launcher.exit_failure(launched, Run(tmp_path / "doomed")) or (None, "")
    assert code == 2 and "invalid choice: 'nowhere'" in reason  # argparse's own words, from the log
    assert launcher.exit_failure(launched, Run(tmp_path / "doomed")) is None  # once


def test_a_run_that_reads_running_without_a_trainer_is_not_ours_to_stop(tmp_path: Path) -> None:
    run = Run(tmp_path / "orphan")
    run.path.mkdir()
    atomic_write_json(run.meta_path, {"schema": 1, "name": "orphan", "status": "running", "pid": os.getpid()})
    assert launcher.stop_run(run) == launcher.Stop.NOT_OURS  # the pid is alive (this test) but holds no lock


def test_a_failed_runs_recorded_error_is_the_reason_not_the_pointer_to_it(tmp_path: Path) -> None:
    run = Run(tmp_path / "r")
    run.path.mkdir()
    atomic_write_json(run.meta_path, {"schema": 1, "name": "r", "status": "failed", "error": "ValueError: broken"})
    log = tmp_path / "r.log"
    log.write_text("cs-tui train: r failed: ValueError: broken\n  (details in r/meta.json)\n")
    assert launcher.failure_reason(run, log) == "ValueError: broken"
    assert launcher.log_tail(log) == "cs-tui train: r failed: ValueError: broken"
    assert launcher.log_tail(tmp_path / "missing.log") == ""


@pytest.mark.parametrize("stdout_too", [False, True])
def test_output_goes_to_the_log_as_asked(tmp_path: Path, stdout_too: bool) -> None:
    launched = launcher.launch(tmp_path, "help", ["--help"], stdout_too=stdout_too)
    assert launched.process.wait(timeout=120) == 0
    assert ("usage: cs-tui" in launched.log_path.read_text()) is stdout_too
