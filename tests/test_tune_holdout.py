"""A trial's run folder says what happened to its held-out scoring: a worker killed while scoring leaves
a run that reads died (resumable), not finished; a scoring that fails leaves a failed run with the reason
(issue 30 item 14)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from test_tune import TINY_SPACE, tune_args

import cs_tui.tuning.worker
from cs_tui.training import runs
from cs_tui.tuning.options import TuneOptions
from cs_tui.tuning.worker import run_worker


@pytest.fixture
def space(tmp_path: Path) -> Path:
    path = tmp_path / "space.toml"
    path.write_text(TINY_SPACE)
    return path


SCORING = "training done; scoring the best model on held-out conversations"


def last_status(run: runs.Run) -> dict[str, Any]:
    return [r for r in run.all_metrics() if r["type"] == "status"][-1]


def test_a_worker_killed_while_scoring_leaves_its_run_saying_so(tmp_path: Path, space: Path) -> None:
    saves = tmp_path / "saves"
    # a long held-out score (20,000 conversations): seconds, so the kill lands while it runs
    command = [*tune_args(saves, space, "k", 1), "--holdout-episodes", "20000"]
    worker = subprocess.Popen([sys.executable, "-m", "cs_tui", *command], stderr=subprocess.PIPE, text=True)
    run = runs.Run(saves / "k-t0000")
    deadline = time.monotonic() + 300
    try:
        while not (run.metrics_path.is_file() and any(r.get("message") == SCORING for r in run.all_metrics())):
            assert worker.poll() is None and time.monotonic() < deadline, "the worker never got to the scoring"
            time.sleep(0.05)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    assert run.recorded_status == "running" and run.status == "died"  # not "finished": it never got there
    assert last_status(run)["message"] == SCORING  # what it was doing when it died
    assert "holdout_eval" not in (run.meta.get("tune") or {})


def test_a_held_out_scoring_that_fails_leaves_a_failed_run_with_the_reason(
    tmp_path: Path,
    space: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def unreadable(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise ValueError("best.zip: the model's outputs are not finite numbers")

    monkeypatch.setattr(cs_tui.tuning.worker, "holdout_eval", unreadable)
    small = {"eval_every": 256, "eval_episodes": 30, "holdout_episodes": 30, "reference_episodes": 30}
    options = TuneOptions(trials=1, saves=tmp_path, study="f", timesteps=512, heartbeat=2, search_space=space,
                                **small)  # fmt: skip
    result = run_worker(options)
    assert result.status == "failed" and "held-out evaluation failed" in result.message
    meta = json.loads((tmp_path / "f-t0000" / "meta.json").read_text())
    assert meta["status"] == "failed"
    assert meta["error"] == "held-out evaluation failed: best.zip: the model's outputs are not finite numbers"
