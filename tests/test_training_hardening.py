"""Training under faults: one trainer per run (a kernel lock), a full disk, a signal in the first
seconds, a trainer that died before its first checkpoint, a run killed after its last one, a resume
from a checkpoint taken mid-rollout."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import run_cli

import cs_tui.files
from cs_env import ENV_ID
from cs_env.industries import default_catalog
from cs_tui.files import atomic_write_json
from cs_tui.training import runs, trainer
from cs_tui.training.options import TrainOptions, load_defaults
from cs_tui.training.run_lock import RunLock, process_token
from cs_tui.training.runs import Run
from cs_tui.training.session import NullReporter

FAST = {"eval_episodes": 200, "reference_episodes": 200, "record_seconds": 0.2}
FAST_FLAGS = ["--eval-episodes", "200", "--reference-episodes", "200"]


def quick(tmp_path: Path, **changes: Any) -> TrainOptions:
    # 16 envs x PPO's 128 steps: rollouts of 2,048 steps
    base: dict[str, Any] = {"timesteps": 1000, "saves": tmp_path, "name": "r", "eval_every": 1000, "n_envs": 16,
                            **FAST}  # fmt: skip
    return TrainOptions(**{**base, **changes})


def hold_lock(path: Path) -> subprocess.Popen[str]:
    """Another process holding the run's lock, as a trainer does; returns once it holds it."""
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from cs_tui.training.run_lock import RunLock; "
         f"RunLock({str(path)!r}).acquire(); print('held', flush=True); time.sleep(3600)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdout is not None and child.stdout.readline().strip() == "held"
    return child


@pytest.mark.heavy
def test_a_second_trainer_of_a_run_is_refused_until_the_first_dies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = trainer.train(quick(tmp_path)).run
    child = hold_lock(run.path)
    try:
        assert run.trainer_pid() == child.pid  # the kernel says who holds it
        code, err = run_cli(capsys, "train", "--resume", str(run.path), "--timesteps", "3000", "--quiet")
        assert code == 2, err
        assert f"is being trained by process {child.pid}" in err and "Traceback" not in err
        assert run.meta["status"] == "finished" and run.meta["timesteps_done"] == 2048  # untouched
    finally:
        child.kill()  # kill -9: the kernel drops the lock, nothing is left stuck
        child.wait()
    assert run.trainer_pid() is None
    code, err = run_cli(capsys, "train", "--resume", str(run.path), "--timesteps", "3000", "--quiet")
    assert code == 0, err
    assert run.meta["status"] == "finished" and run.meta["timesteps_done"] == 4096


def test_a_full_disk_is_a_clear_error_and_leaves_no_empty_run_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(path: Path | str, data: bytes) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(cs_tui.files, "atomic_write_bytes", full)  # (every whole file is written through it)
    code, err = run_cli(capsys, "--saves", str(tmp_path), "train", "--name", "full", "--timesteps", "100")
    assert code == 1 and "No space left on device" in err and "meta.json" in err and "Traceback" not in err
    assert not (tmp_path / "full").exists()  # the name is free for the next try


@pytest.mark.heavy
def test_a_signal_right_after_the_run_is_written_still_leaves_a_resumable_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window of the torch import: the handlers must already be there when meta.json appears."""
    write = atomic_write_json
    sent: list[bool] = []

    def write_then_signal(path: Path | str, obj: Any) -> None:
        write(path, obj)
        if Path(path).name == runs.META_FILE and not sent:
            sent.append(True)
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(runs, "atomic_write_json", write_then_signal)
    result = trainer.train(quick(tmp_path))
    assert result.status == "interrupted" and result.exit_code == 128 + signal.SIGINT
    assert result.run.meta["status"] == "interrupted" and result.run.model_path.is_file()


@pytest.mark.heavy
@pytest.mark.slow
def test_sigterm_during_the_first_seconds_of_cs_tui_train_leaves_a_resumable_run(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "cs_tui", "--saves", str(tmp_path), "train", "--name", "early", "--timesteps", "1000",
         "--quiet", *FAST_FLAGS],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    meta = tmp_path / "early" / runs.META_FILE
    deadline = time.monotonic() + 600
    while not meta.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGTERM)  # while it imports torch
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 128 + signal.SIGTERM and "Traceback" not in err
    run = Run(tmp_path / "early")
    assert run.recorded_status == "interrupted" and run.model_path.is_file()


@pytest.mark.heavy
@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM])
def test_a_signal_after_cs_tui_train_has_finished_leaves_exit_0(tmp_path: Path, signum: int) -> None:
    """The last moments of the process (the summary printed, torch torn down): the run is finished, so
    a hang-up then must neither kill the process (the default action, exit -N) nor say it was stopped."""
    argv = ["cs-tui", "--saves", str(tmp_path), "train", "--name", "late", "--timesteps", "1000", "--quiet",
            *FAST_FLAGS]  # fmt: skip
    script = (
        "import os, sys, time; from cs_tui.cli import main; "
        f"sys.argv = {argv!r}; code = main(); "
        f"os.kill(os.getpid(), {int(signum)}); time.sleep(0.2); sys.exit(code)"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert Run(tmp_path / "late").recorded_status == "finished"


@pytest.mark.heavy
@pytest.mark.parametrize("command", [["train", "--name", "done", "--timesteps", "1000", "--quiet", *FAST_FLAGS],
                                     ["evaluate", "baseline:random", "--episodes", "5"]])  # fmt: skip
def test_a_finished_command_ignores_stops_through_the_interpreters_exit(tmp_path: Path, command: list[str]) -> None:
    """Python gives every signal it handles back its default action while it finalizes, and tearing torch
    down takes seconds on a busy machine: a SIGTERM then killed a process whose run was recorded finished
    (exit -15; the signals campaign, 14 of 60 trials). Once the command is done, stops are ignored (an
    ignored signal stays ignored through finalization)."""
    argv = ["cs-tui", "--saves", str(tmp_path), *command]
    script = (
        "import signal, sys; from cs_tui.cli import main; "
        f"sys.argv = {argv!r}; code = main(); "
        "print(code, [signal.getsignal(s) is signal.SIG_IGN for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)])"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "0 [True, True, True]"


@pytest.mark.heavy
def test_a_run_whose_trainer_died_before_its_first_checkpoint_restarts_on_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = Run(tmp_path / "died")
    run.path.mkdir()
    RunLock(run.path).acquire().release()  # its trainer took the lock, then died (kill -9)
    meta = {
        "schema": 1, "name": "died", "env_id": ENV_ID, "algorithm": "ppo", "industry": "mixed", "max_turns": 10,
        "seed": 0,
        "n_envs": 16, "total_timesteps": 2048, "timesteps_done": 0, "status": "running", "pid": os.getpid(),
        "pid_token": process_token(), "hyperparameters": load_defaults()["ppo"].hyperparameters(),
        "reference": {"random_return": 0.4, "oracle_return": 1.8, "episodes": 200, "seed": 0}, "eval_every": 1000,
        "eval_episodes": 200, "keep_checkpoints": 3, "industry_digest": default_catalog().digest,
    }  # fmt: skip
    atomic_write_json(run.meta_path, meta)
    # the pid is alive (it is this process) but does not hold the lock: the trainer is gone
    assert not run.is_alive() and run.status == "died"
    code, err = run_cli(capsys, "train", "--resume", str(run.path), "--quiet")
    assert code == 0, err
    assert run.meta["status"] == "finished" and run.meta["timesteps_done"] == 2048 and run.model_path.is_file()


@pytest.mark.heavy
def test_a_run_killed_after_its_last_checkpoint_resumes_to_be_marked_finished(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = trainer.train(quick(tmp_path)).run
    record = run.record()
    record.status = "running"  # killed after the last checkpoint, before "finished" was written
    run.write_record(record)
    assert run.status == "died"
    code, err = run_cli(capsys, "train", "--resume", str(run.path), "--quiet")
    assert code == 0, err
    assert run.meta["status"] == "finished" and run.meta["timesteps_done"] == 2048


@pytest.mark.heavy
def test_a_resume_from_a_mid_rollout_checkpoint_stops_at_the_total(tmp_path: Path) -> None:
    class StopAtFirstEval(NullReporter):
        def record(self, record: dict[str, Any]) -> None:
            if record["type"] == "eval":
                os.kill(os.getpid(), signal.SIGINT)

    # the rollouts are 2,048 steps (16 envs × 128); the first evaluation comes at 1,024, mid-rollout
    first = trainer.train(quick(tmp_path, timesteps=4096), reporter=StopAtFirstEval())
    assert first.status == "interrupted"
    done = first.run.meta["timesteps_done"]
    assert done % 2048 != 0
    result = trainer.resume(first.run.path, record_seconds=0.2)
    assert result.status == "finished"
    assert result.run.meta["timesteps_done"] == result.timesteps == 4096  # not a rollout past it


@pytest.mark.heavy
def test_a_resumed_run_keeps_its_record(tmp_path: Path) -> None:
    run = trainer.train(quick(tmp_path, timesteps=2048)).run
    before = run.record()
    # a key a later version wrote, and the tuner's own, survive a resume as well
    atomic_write_json(run.meta_path, {**run.meta, "from_a_later_version": [1], "tune": {"study": "s"}})
    result = trainer.resume(run.path, timesteps=4096, record_seconds=0.2)
    assert result.status == "finished", result.message
    after = run.record()
    kept = ("name", "algorithm", "industry", "max_turns", "seed", "n_envs", "hyperparameters", "industry_digest",
            "created_at", "reference", "eval_every", "eval_episodes", "keep_checkpoints", "warm_start",
            "frame_stack", "curriculum", "command")  # fmt: skip
    assert {k: getattr(after, k) for k in kept} == {k: getattr(before, k) for k in kept}
    assert after.extra == {"from_a_later_version": [1]} and after.tune == {"study": "s"}
    assert (after.total_timesteps, after.timesteps_requested, after.timesteps_done) == (4096, 4096, 4096)
    assert (after.status, after.error, after.pid) == ("finished", None, os.getpid())
    assert after.last_eval is not None and after.last_eval.timesteps == 4096
    assert before.best_eval is not None and after.best_eval is not None
    assert (after.best_eval.mean_return or 0) >= (before.best_eval.mean_return or 0)  # kept, or a better one since
