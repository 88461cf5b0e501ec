"""The stable-baselines3 callback where training meets the run folder and the screen.

:class:`RunCallback` watches every step: it gathers finished episodes (returns, outcomes,
satisfaction), strategy usage and SB3's losses, and every second or so hands a ``"train"`` record to
the trainer; every ``eval_every`` steps it asks the trainer to evaluate and checkpoint; and it returns
``False`` (SB3's way to stop) as soon as a stop was requested by a signal. The algorithm never knows
about files or screens.

This module imports stable-baselines3 at the top: only the trainer imports it, inside functions.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from cs_env.domain import FINAL_OUTCOME_NAMES, N_STRATEGIES, OUTCOME_NAMES, STRATEGY_NAMES
from cs_tui.training.run_record import EvalRecord
from cs_tui.training.stop import StopFlag

#: Episodes behind a "train" record's mean return and rates (the recent window).
WINDOW = 500


class EpisodeStats:
    """Finished episodes and actions since the last record, and a recent window for smooth rates."""

    def __init__(self, window: int = WINDOW) -> None:
        self.episodes = 0
        self.new_returns: list[float] = []
        self.returns: deque[float] = deque(maxlen=window)
        self.outcomes: deque[str] = deque(maxlen=window)
        self.satisfaction: deque[float] = deque(maxlen=window)
        self.actions = np.zeros(N_STRATEGIES, dtype=np.int64)
        #: the actions of the last record's period (the final record adds them to its own short tail)
        self.previous_actions = np.zeros(N_STRATEGIES, dtype=np.int64)

    def add_step(self, actions: Any, infos: list[dict[str, Any]]) -> None:
        if actions is not None:
            flat = np.asarray(actions).reshape(-1).astype(np.int64)
            self.actions += np.bincount(flat[(flat >= 0) & (flat < N_STRATEGIES)], minlength=N_STRATEGIES)
        for info in infos:
            episode = info.get("episode")
            if episode is None:
                continue
            self.episodes += 1
            ret = float(episode["r"])
            self.new_returns.append(ret)
            self.returns.append(ret)
            self.outcomes.append(OUTCOME_NAMES[int(info["outcome"])] if "outcome" in info else "None")
            if "hidden_satisfaction" in info:  # (the truth: these statistics are analysis, not the policy's)
                self.satisfaction.append(float(info["hidden_satisfaction"]))

    def summary(self, final: bool = False) -> dict[str, Any]:
        """The episode part of a ``"train"`` record; starts a new "since the last record" period.

        ``final``: the strategy usage also counts the previous record's actions, so the last record of a
        run (written when training ends, however soon after the one before) carries the run's last actions.
        """
        n = len(self.outcomes)
        rates = {name: (sum(o == name for o in self.outcomes) / n if n else None) for name in FINAL_OUTCOME_NAMES}
        actions = self.actions + self.previous_actions if final else self.actions
        total = int(actions.sum())
        usage = {name: (float(c) / total if total else 0.0) for name, c in zip(STRATEGY_NAMES, actions, strict=True)}
        out = {
            "episodes": self.episodes,
            "episode_returns": [round(r, 4) for r in self.new_returns],
            "mean_return": float(np.mean(self.returns)) if self.returns else None,
            "satisfaction": float(np.mean(self.satisfaction)) if self.satisfaction else None,
            "resolution_rate": rates["resolved"],
            "escalation_rate": rates["escalated"],
            "abandonment_rate": rates["abandoned"],
            "strategy_usage": usage,
        }
        self.new_returns = []
        self.previous_actions = actions.copy()
        self.actions[:] = 0
        return out


class RunCallback(BaseCallback):
    """Reports progress, triggers evaluations and checkpoints, and stops on request.

    Args:
        total_timesteps: the run's planned total (``progress`` = timesteps / total).
        on_record: receives each ``"train"`` record (the trainer writes and displays it).
        on_eval: called with the step count every ``eval_every`` steps (evaluate, keep best, checkpoint).
        stop: a :class:`StopFlag`; when set, the next step returns ``False``.
        eval_every: steps between evaluations (0: never during training).
        record_seconds: wall time between ``"train"`` records.
        stop_at: stop as soon as this many steps are done, even mid-rollout (a run resumed from a
            checkpoint taken mid-rollout would otherwise overshoot its total by up to a rollout).
        prune: optional; given each evaluation's record (what ``on_eval`` returns), True stops training
            as pruned (``cs-tui tune`` reports the evaluation to Optuna here and asks its pruner).
    """

    def __init__(
        self,
        *,
        total_timesteps: int,
        on_record: Callable[[dict[str, Any]], None],
        on_eval: Callable[[int], object],
        stop: StopFlag,
        eval_every: int,
        record_seconds: float = 1.0,
        stop_at: int | None = None,
        prune: Callable[[EvalRecord], bool] | None = None,
    ) -> None:
        super().__init__(verbose=0)
        self.total_timesteps = total_timesteps
        self.stop_at = stop_at
        self.on_record = on_record
        self.on_eval = on_eval
        self.stop = stop
        self.eval_every = eval_every
        self.record_seconds = record_seconds
        self.prune = prune
        #: set when ``prune`` said stop: the trainer records the run as pruned
        self.pruned = False
        self.stats = EpisodeStats()
        self.losses: dict[str, float] = {}
        self._next_eval = 0
        self._last_record_time = 0.0
        self._last_record_steps = 0
        self._start_time = 0.0
        self._start_steps = 0

    def _on_training_start(self) -> None:
        self._start_time = self._last_record_time = time.monotonic()
        self._start_steps = self._last_record_steps = self.model.num_timesteps
        self._next_eval = self._after(self.model.num_timesteps, self.eval_every)

    @staticmethod
    def _after(steps: int, every: int) -> int:
        return (steps // every + 1) * every if every > 0 else 1 << 62

    def _on_step(self) -> bool:
        self.stats.add_step(self.locals.get("actions"), self.locals.get("infos", []))
        steps = self.model.num_timesteps
        now = time.monotonic()
        if now - self._last_record_time >= self.record_seconds:
            self.emit_record(now)
        if steps >= self._next_eval:
            self._next_eval = self._after(steps, self.eval_every)
            started = time.monotonic()
            record = self.on_eval(steps)
            # an evaluation is no training: fps and ETA count training time only, so the speed shown
            # at the end (after the last evaluation) is the training speed, not an average over both
            paused = time.monotonic() - started
            self._last_record_time += paused
            self._start_time += paused
            if self.prune is not None and isinstance(record, EvalRecord) and self.prune(record):
                self.pruned = True
        if self.stop_at is not None and steps >= self.stop_at:
            return False
        return not self.stop.requested and not self.pruned

    def _collect_losses(self) -> None:
        # SB3 keeps the latest values of train/* until its logger dumps them; keep our own copy
        for key, value in self.model.logger.name_to_value.items():
            if key.startswith("train/") and key != "train/n_updates" and isinstance(value, int | float):
                self.losses[key.removeprefix("train/")] = float(value)

    def emit_record(self, now: float | None = None, *, final: bool = False) -> None:
        """Build a ``"train"`` record from what happened since the last one and pass it on.

        ``final``: the record written as training ends (finished, stopped or pruned), maybe a moment after
        the one before: its fps is the whole session's training speed (evaluations left out), and its
        strategy usage spans the previous record's period too, so it carries the run's real speed and
        last actions, never a rate of a few steps over a millisecond (or over a moment that was all
        gradient update) nor no actions at all.
        """
        now = time.monotonic() if now is None else now
        self._collect_losses()
        steps = self.model.num_timesteps
        elapsed = max(now - self._start_time, 1e-9)
        overall_fps = (steps - self._start_steps) / elapsed
        fps = overall_fps if final else (steps - self._last_record_steps) / max(now - self._last_record_time, 1e-9)
        remaining = max(self.total_timesteps - steps, 0)
        record = {
            "type": "train",
            "time": time.time(),
            "timesteps": steps,
            "fps": round(fps, 1),
            "progress": min(steps / self.total_timesteps, 1.0) if self.total_timesteps else 1.0,
            "eta_seconds": round(remaining / overall_fps, 1) if overall_fps > 0 else None,
            **self.stats.summary(final=final),
            "losses": dict(self.losses),
        }
        self._last_record_time, self._last_record_steps = now, steps
        self.on_record(record)
