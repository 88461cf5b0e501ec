"""Starting and stopping the processes the app runs: ``cs-tui train`` and ``cs-tui tune``, each in its own session.

A run or a study started from the app is its own process (``python -m cs_tui ...`` in a new session), so
closing the app or losing the SSH connection does not stop it; its output goes to
``saves/.logs/NAME.log``. Stopping a run signals only the process the kernel says holds the run's lock
(a pid written in ``meta.json`` can name any process by now), or the app's own child while it is still
starting. No widgets here: the screens call these functions and show what they return.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from cs_tui.training.run_record import RunError, RunStatus
from cs_tui.training.runs import Run

LOG_DIR = ".logs"  # under saves/: hidden, so run listings skip it


@dataclass
class Launched:
    """A process the app started (to report a failure before the run folder exists)."""

    process: subprocess.Popen[bytes]
    log_path: Path
    started: float
    reported: bool = False


def log_path(saves: Path, name: str) -> Path:
    """Where the process named ``name`` writes its output."""
    return saves.absolute() / LOG_DIR / f"{name}.log"


def launch(saves: Path, name: str, argv: list[str], *, stdout_too: bool = False) -> Launched:
    """``python -m cs_tui ARGV`` in a new session, stderr (and with ``stdout_too`` stdout) appended to
    :func:`log_path`; ``OSError`` if it cannot start."""
    path = log_path(saves, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as log:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            [sys.executable, "-m", "cs_tui", *argv],
            stdin=subprocess.DEVNULL,
            stdout=log if stdout_too else subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,  # its own session: no SIGHUP when the terminal or SSH goes away
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    return Launched(process, path, time.monotonic())


def log_tail(path: Path, lines: int = 1) -> str:
    """The last non-empty line(s) of a log file (the error of a traceback or of argparse) ('' if unreadable).

    ``cs-tui train``'s pointer to meta.json (``(details in …)``) is no reason: it is skipped.
    """
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    kept = [line for line in text.splitlines() if line.strip() and not line.strip().startswith("(details in ")]
    return "\n".join(kept[-lines:])


def failure_reason(run: Run, log: Path) -> str:
    """Why a process started for ``run`` failed: the error its meta.json records, else its log's last line."""
    try:
        error = run.meta.get("error") if run.recorded_status == RunStatus.FAILED else None
    except RunError:
        error = None
    return str(error) if error else log_tail(log)


def exit_failure(launched: Launched, run: Run) -> tuple[int, str] | None:
    """``(exit status, reason)`` once a launched training process has exited with an error, reported once;
    None while it runs, when it ended well, or when it was stopped (a stop exits 143 after recording the
    run interrupted). Polling also reaps the process, so no zombie lingers."""
    code = launched.process.poll()
    if code is None or launched.reported:
        return None
    launched.reported = True
    try:
        recorded = run.recorded_status
    except RunError:
        recorded = "missing"
    if code == 0 or recorded in (RunStatus.FINISHED, RunStatus.INTERRUPTED):
        return None
    return code, failure_reason(run, launched.log_path) or f"exit status {code}"


class Stop(StrEnum):
    """What :func:`stop_run` did."""

    SIGNALLED = "signalled"  # the trainer holding the run's lock got SIGTERM
    TERMINATED = "terminated"  # the app's own child, still starting (no lock yet), was terminated
    NOT_OURS = "not ours"  # the run reads running but no process holds its lock: nothing proven to signal
    NOT_RUNNING = "not running"


def stop_study(saves: Path, study: str, launched: Launched | None = None) -> int:
    """Ask study ``study``'s processes on this host to stop (SIGTERM: each worker checkpoints its trial's
    run, marks it interrupted and exits); how many were signalled. Only the processes the kernel says
    hold the study's worker mark (:class:`~cs_tui.tuning.storage.WorkerMark`), or the app's own
    ``cs-tui tune`` child while it is still starting (no mark yet).

    Raises:
        OSError: a signal could not be sent (other than to a process that has just exited).
    """
    from cs_tui.tuning.storage import study_workers  # (no Optuna: that module imports it inside functions)

    signalled = 0
    for pid in study_workers(saves, study):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:  # ended between the kernel's list and the signal
            continue
        signalled += 1
    if not signalled and launched is not None and launched.process.poll() is None:
        launched.process.terminate()
        signalled = 1
    return signalled


def stop_run(run: Run, launched: Launched | None = None) -> Stop:
    """Ask ``run``'s trainer to stop (SIGTERM: it checkpoints and marks the run interrupted).

    Raises:
        OSError: the signal could not be sent.
    """
    pid = run.trainer_pid()
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        return Stop.SIGNALLED
    if launched is not None and launched.process.poll() is None:
        launched.process.terminate()
        return Stop.TERMINATED
    try:
        recorded = run.recorded_status
    except RunError:
        recorded = None
    return Stop.NOT_OURS if recorded == RunStatus.RUNNING else Stop.NOT_RUNNING
