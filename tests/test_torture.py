"""The torture campaigns' short versions (``benchmarks/torture.py`` runs the full ones, with figures).

Each runs a few seeded trials of its campaign through the same code as the benchmark; a failure names
the seed that replays it: ``.venv/bin/python benchmarks/torture.py CAMPAIGN --seed S --count 1 -v``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from campaigns import app_keys, corrupt_files, env_inputs, hostile_runs, kill9, signals, storage
from campaigns.common import run_trials

pytestmark = pytest.mark.heavy  # campaigns: `./dev test --quick` leaves them out


def holds(name: str, trial: Callable[..., str | None], seed: int, count: int, **kwargs: Any) -> None:
    result = run_trials(name, lambda s, w: trial(s, w, **kwargs), seed, count)
    details = "\n".join(f"seed {s}: {problem}" for s, problem in result.failures)
    assert result.held == result.tried == count, f"{result.line()}\n{details}"


def test_env_wrong_inputs_and_hostile_data_files_are_clear_value_errors() -> None:
    holds("env", env_inputs.trial, seed=0, count=4)  # 400 wrong inputs, 8 mutated data files


def test_corrupt_model_files_meta_and_metrics_are_refused_by_the_cli_and_the_app(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(corrupt_files, "BOMB_SIZES", [64 << 20])  # the full campaign's 700 MB bombs take a while
    holds("corrupt", corrupt_files.trial, seed=0, count=1, mutations=12)


def test_hostile_run_folders_counts_and_tensors_are_refused_without_blocking_or_writing_outside() -> None:
    holds("hostile", hostile_runs.trial, seed=0, count=1)  # 3 plants, a metrics stream, 4 inputs, a model


@pytest.mark.slow
def test_kill_9_at_random_moments_leaves_a_run_that_loads_and_resumes() -> None:
    holds("kill9", kill9.trial, seed=0, count=2)


@pytest.mark.slow
def test_each_signal_at_a_random_moment_stops_training_resumably() -> None:
    holds("signals", signals.trial, seed=0, count=3)  # SIGHUP, SIGTERM, SIGINT


@pytest.mark.slow
def test_hostile_storage_gives_clear_errors_and_leaves_nothing_partial() -> None:
    holds("storage", storage.trial, seed=0, count=4)  # names, read-only, full disk, one name twice


@pytest.mark.slow
def test_random_keys_and_resizes_never_crash_the_app_and_q_still_quits() -> None:
    holds("app", app_keys.trial, seed=0, count=1, keys=400, resizes=6)
