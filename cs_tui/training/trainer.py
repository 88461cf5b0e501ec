"""Train PPO, A2C or DQN on the customer-support env into a run folder (``saves/<run>/``).

:func:`train` starts a run, :func:`resume` continues one. Both write the folder described in
:mod:`cs_tui.training.runs`: ``meta.json`` (status running → finished / interrupted / failed),
``metrics.jsonl`` (``train`` records about every second, ``eval`` records every ``eval_every`` steps,
``status`` records), ``model.zip`` and the last few ``checkpoints/`` at each evaluation, ``best.zip``
on a new best, and for DQN ``replay_buffer.npz``. SIGINT, SIGTERM and SIGHUP stop training at the next
step with a checkpoint written.

Defaults per algorithm come from ``hyperparams.toml`` beside this file. torch and stable-baselines3
are imported inside functions only: importing this module stays cheap (the app reads its constants).
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cs_env.files import toml_file
from cs_tui.files import FileFormatError, atomic_write_bytes, atomic_write_json, now_iso, read_json
from cs_tui.training import runs
from cs_tui.training.registry import (
    ALGORITHMS,
    MAX_EPISODES,
    MAX_EVAL_EVERY,
    MAX_KEEP_CHECKPOINTS,
    MAX_N_ENVS,
    ON_POLICY,
    check_count,
    check_path_text,
    check_run_name,
    check_timesteps,
)
from cs_tui.training.run_lock import RunLock, RunLocked, process_token
from cs_tui.training.run_record import SCHEMA, EvalRecord, RunError, RunRecord, RunStatus
from cs_tui.training.runs import Run
from cs_tui.training.stop import StopFlag

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm
    from stable_baselines3.common.vec_env import VecEnv

HYPERPARAMS_FILE = Path(__file__).with_name("hyperparams.toml")
#: Steps between evaluations (each also writes a checkpoint): at most this much is lost to kill -9.
EVAL_EVERY = 10_000
EVAL_EPISODES = 2000
#: Episodes of the random and oracle references (computed once per run, cached under saves/.cache).
REFERENCE_EPISODES = 2000
#: The evaluation episodes are the same for every evaluation of every run (and the references).
EVAL_SEED = 0
KEEP_CHECKPOINTS = 3


class TrainingError(Exception):
    """A problem the user can fix (bad run folder, name taken, ...): shown as one clear message."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# -- defaults --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlgorithmDefaults:
    """One algorithm's section of ``hyperparams.toml``."""

    n_envs: int
    timesteps: int
    model: dict[str, Any]
    policy: dict[str, Any]

    def hyperparameters(self) -> dict[str, Any]:
        """The JSON form stored in ``meta.json``: ``{"model": {...}, "policy": {...}}``."""
        return {"model": dict(self.model), "policy": dict(self.policy)}


def load_defaults(path: Path = HYPERPARAMS_FILE) -> dict[str, AlgorithmDefaults]:
    """Every algorithm's defaults from the data file; ``ValueError`` naming the file for a bad one."""
    data = toml_file(path)
    found = {}
    for algorithm in ALGORITHMS:
        section = data.get(algorithm)
        if not isinstance(section, dict):
            raise ValueError(f"{path}: no [{algorithm}] section")
        try:
            found[algorithm] = AlgorithmDefaults(
                n_envs=int(section["n_envs"]),
                timesteps=int(section["timesteps"]),
                model=dict(section.get("model", {})),
                policy=dict(section.get("policy", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: [{algorithm}] needs n_envs and timesteps as integers ({exc})") from None
    return found


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, numpy's global generator and torch from one number."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed % 2**64)  # a resumed run seeds seed + steps done, which may pass 2**63 - 1


def sb3_seed(seed: int) -> int:
    """The seed handed to SB3, whose ``set_random_seed`` takes only 0 to 2**32 - 1 (numpy's legacy seed).

    Seeds in that range pass unchanged, so a run's parameters do not depend on whether its seed is large.
    The envs still start from the full seed (``make_training_env``).
    """
    return seed % 2**32


# -- options and results ---------------------------------------------------------------------


@dataclass
class TrainOptions:
    """Everything a new run needs; ``None`` means the algorithm's default from ``hyperparams.toml``."""

    algorithm: str = "ppo"
    industry: str = "mixed"
    timesteps: int | None = None
    seed: int = 0
    n_envs: int | None = None
    name: str | None = None
    saves: Path = field(default_factory=runs.saves_dir)
    tensorboard: str | None = None
    max_turns: int = 10
    eval_every: int = EVAL_EVERY
    eval_episodes: int = EVAL_EPISODES
    reference_episodes: int = REFERENCE_EPISODES
    keep_checkpoints: int = KEEP_CHECKPOINTS
    record_seconds: float = 1.0
    #: overrides of the defaults: {"model": {...}, "policy": {...}} (sweeps, tests)
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: write checkpoints/ (the shipped default agent keeps its folder small without them)
    checkpoints: bool = True
    #: ``cs-tui tune``: called with each evaluation's record during training; True stops the run as pruned
    prune: Callable[[EvalRecord], bool] | None = None
    #: ``cs-tui tune``: the study and trial this run is, recorded in ``meta.json`` under "tune"
    tune: dict[str, Any] | None = None
    #: ``cs-tui tune``: scores the run's best model on held-out conversations once training reached its total,
    #: before the run is recorded finished (a worker killed meanwhile leaves a run that does not say
    #: finished); its figures are kept in ``meta.json`` under "tune" → "holdout_eval"
    holdout: Callable[[Run], dict[str, Any]] | None = None
    #: ``baseline:NAME`` or a folder of recordings to imitate before reinforcement learning (cs_tui.training.warm_start)
    warm_start: str | None = None
    #: observations the policy sees side by side (``--frame-stack``; 1: the current one alone)
    frame_stack: int = 1
    #: meet rare cases more often early in training (``--curriculum``; cs_tui.training.curriculum)
    curriculum: bool = False


@dataclass
class TrainResult:
    """How a run ended; ``exit_code`` is what ``cs-tui train`` returns."""

    run: Run
    status: str
    timesteps: int
    message: str
    exit_code: int
    best_eval: EvalRecord | None = None
    wall_seconds: float = 0.0


class Reporter(Protocol):
    """What the command line shows while training (a progress bar, JSON lines, or nothing)."""

    def started(self, run: Run, record: RunRecord, resumed: bool) -> None: ...

    def record(self, record: dict[str, Any]) -> None: ...

    def finished(self, result: TrainResult) -> None: ...


class NullReporter:
    """Shows nothing."""

    def started(self, run: Run, record: RunRecord, resumed: bool) -> None:
        pass

    def record(self, record: dict[str, Any]) -> None:
        pass

    def finished(self, result: TrainResult) -> None:
        pass


# -- building blocks -------------------------------------------------------------------------


def build_model(
    algorithm: str, env: VecEnv, hyperparameters: dict[str, Any], seed: int, tensorboard: str | None
) -> BaseAlgorithm:
    """A fresh SB3 (or sb3-contrib) model with an MLP (or LSTM) policy from the JSON ``hyperparameters``."""
    from cs_tui.training.model_file.format import POLICIES
    from cs_tui.training.safe_load import model_class, policy_kwargs_from_json

    kwargs = dict(hyperparameters.get("model", {}))
    if "train_freq" in kwargs and isinstance(kwargs["train_freq"], list):
        kwargs["train_freq"] = tuple(kwargs["train_freq"])
    return model_class(algorithm)(
        POLICIES[algorithm],
        env,
        policy_kwargs=policy_kwargs_from_json(hyperparameters.get("policy", {})),
        seed=sb3_seed(seed),
        device="cpu",
        verbose=0,
        tensorboard_log=tensorboard,
        **kwargs,
    )


def reference_for(industry: str, max_turns: int, episodes: int, seed: int, saves: Path | None) -> dict[str, Any]:
    """Random's and the oracle's mean returns (0 % and 100 % of oracle), cached per industry data and oracle."""
    from cs_env.evaluate import reference_returns
    from cs_env.industries import default_catalog
    from cs_env.policies import ORACLE_ID

    digest = default_catalog().digest
    cache = None
    if saves is not None:
        name = f"reference-{industry}-{max_turns}-{episodes}-{seed}-{digest[:16]}-{ORACLE_ID}.json"
        cache = saves / ".cache" / name
        try:
            cached = read_json(cache)
            if {"random_return", "oracle_return"} <= set(cached):
                return cached
        except FileFormatError:  # none yet, or unreadable: computed afresh
            pass
    random_return, oracle_return = reference_returns(industry, episodes, seed, max_turns)
    reference = {"random_return": random_return, "oracle_return": oracle_return, "episodes": episodes, "seed": seed}
    if cache is not None:
        with contextlib.suppress(OSError):  # a cache only
            atomic_write_json(cache, reference)
    return reference


#: The evaluation figures also logged to TensorBoard (``--tensorboard``).
EVAL_SCALARS = (
    "mean_return",
    "pct_of_oracle",
    "satisfaction",
    "resolution_rate",
    "escalation_rate",
    "abandonment_rate",
    "mean_turns",
)


def evaluate_model(
    model: BaseAlgorithm, *, industry: str, max_turns: int, episodes: int, seed: int, reference: dict[str, Any]
) -> EvalRecord:
    """The deterministic policy's business metrics and % of oracle on ``episodes`` fixed conversations:
    ``cs_env.evaluate``'s own figures (the names ``cs-tui evaluate`` prints), % of oracle against the run's
    reference, and when."""
    import numpy as np

    from cs_env.evaluate import metrics, normalized_score, rollout

    def policy(obs: np.ndarray) -> np.ndarray:
        action, _ = model.predict(obs, deterministic=True)
        return np.asarray(action)

    memory = sb3_memory(model)
    acting = policy if memory is None else _with_episodes(memory)
    m = metrics(rollout(acting, industry=industry, episodes=episodes, seed=seed, max_turns=max_turns))
    m.pct_of_oracle = 100 * normalized_score(m.mean_return, reference["random_return"], reference["oracle_return"])
    return EvalRecord(timesteps=int(model.num_timesteps), metrics=m.as_dict(), time=time.time())


def sb3_memory(model: BaseAlgorithm) -> Any:
    """A :class:`~cs_tui.training.memory.Memory` acting with ``model``'s greedy actions, for a model that
    remembers the conversation (an LSTM, stacked frames); None for one that does not."""
    import numpy as np

    from cs_env.env import OBS_SIZE
    from cs_tui.training.memory import frame_stack_memory, lstm_memory

    stack = int((model.observation_space.shape or (OBS_SIZE,))[-1]) // OBS_SIZE
    if stack > 1:
        return frame_stack_memory(lambda obs: model.predict(obs, deterministic=True)[0], OBS_SIZE, stack)
    lstm = getattr(model.policy, "lstm_actor", None)
    if lstm is None:
        return None

    def step(obs: np.ndarray, h: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        actions, after = model.predict(obs, state=(h, c), episode_start=np.zeros(len(obs)), deterministic=True)
        assert after is not None  # a recurrent policy hands its states back
        return actions, after[0], after[1]

    return lstm_memory(step, lstm.num_layers, lstm.hidden_size, OBS_SIZE)


def _with_episodes(memory: Any) -> Any:
    """``memory`` as a policy :func:`cs_env.evaluate.rollout` calls with ``episodes=``."""

    def policy(obs: Any, episodes: Any = None) -> Any:
        return memory(obs, episodes)

    policy.needs_episodes = True  # type: ignore[attr-defined]
    return policy


# -- a training session ----------------------------------------------------------------------


class Session:
    """One process training one run: writes records, evaluations and checkpoints into the folder."""

    def __init__(
        self, run: Run, record: RunRecord, model: BaseAlgorithm, reporter: Reporter, options: TrainOptions
    ) -> None:
        self.run = run
        self.record = record
        self.model = model
        self.reporter = reporter
        self.options = options
        self.last_checkpoint_steps = -1
        self.last_eval_steps = -1

    def save(self) -> None:
        """Write the run's record to ``meta.json``."""
        self.run.write_record(self.record)

    def emit(self, record: dict[str, Any]) -> None:
        """Append a record to ``metrics.jsonl`` and show it."""
        self.run.append_metric(record)
        self.reporter.record(record)

    def status(self, status: str, message: str) -> None:
        self.emit(
            {"type": "status", "time": time.time(), "timesteps": int(self.model.num_timesteps), "status": status,
             "message": message}
        )  # fmt: skip

    def model_meta(self) -> dict[str, Any]:
        """What a model file says about itself (beyond what ``save_model`` derives from the model)."""
        record = self.record
        return {
            "industry": record.industry,
            "max_turns": record.max_turns,
            "seed": record.seed,
            "n_envs": self.model.n_envs,
            "name": record.name,
            # a run written before the digest was recorded (or restarted from such a meta) gets today's
            "industry_digest": record.industry_digest or _catalog_digest(),
            "run": record.name,
            "hyperparameters": record.hyperparameters,
            "trained_by": "cs-tui train",
        }

    def evaluate(self, steps: int) -> EvalRecord:
        """Evaluate, record, keep ``best.zip`` on a new best, then checkpoint."""
        from cs_tui.training.model_file.writer import save_model

        reference = self.record.reference
        assert reference is not None  # set up before training starts
        evaluation = evaluate_model(
            self.model,
            industry=self.record.industry,
            max_turns=self.record.max_turns,
            episodes=self.options.eval_episodes,
            seed=reference["seed"],
            reference=reference,
        )
        best = self.record.best_eval
        new, old = evaluation.mean_return, None if best is None else best.mean_return
        evaluation.is_best = best is None or (new is not None and (old is None or new > old))
        if evaluation.is_best:
            save_model(self.model, self.run.best_path, {**self.model_meta(), "eval": evaluation.to_json()})
        self.emit(evaluation.to_json())
        if self.options.tensorboard:  # TensorBoard shows the business figures too, not only SB3's losses
            for key in EVAL_SCALARS:
                self.model.logger.record(f"eval/{key}", evaluation.metrics[key])
            self.model.logger.dump(steps)
        self.last_eval_steps = steps
        self.record.last_eval = evaluation
        if evaluation.is_best:
            self.record.best_eval = evaluation
        self.checkpoint()
        return evaluation

    def checkpoint(self) -> None:
        """``model.zip`` (and a file under ``checkpoints/``, the last K kept), then ``meta.json``."""
        from cs_tui.training.model_file.writer import save_model

        steps = int(self.model.num_timesteps)
        if steps != self.last_checkpoint_steps:
            save_model(self.model, self.run.model_path, self.model_meta())
            if self.options.checkpoints and self.options.keep_checkpoints > 0:
                target = self.run.checkpoints_dir / f"step_{steps:010d}.zip"
                runs.make_run_folder(self.run.checkpoints_dir)  # never a link planted there
                atomic_write_bytes(target, self.run.model_path.read_bytes())
                for old in self.run.checkpoints()[: -self.options.keep_checkpoints]:
                    old.unlink(missing_ok=True)
            if self.record.algorithm == "dqn":
                from cs_tui.training.model_file.replay_buffer import save_replay_buffer

                save_replay_buffer(self.model, self.run.replay_buffer_path)
            self.last_checkpoint_steps = steps
        self.record.timesteps_done = steps
        self.save()

    def _episodes_by(self, steps: int) -> int:
        """Training episodes finished by ``steps``: the last ``"train"`` record at or before it says."""
        records = self.run.all_metrics()
        counts = [r["episodes"] for r in records if r.get("type") == "train" and r.get("timesteps", 0) <= steps]
        return int(counts[-1]) if counts else 0

    def learn(self, stop: Any, resumed: bool) -> TrainResult:
        """Train up to ``total_timesteps``; returns how it ended (never raises for a stop signal)."""
        from cs_tui.training.callbacks import RunCallback

        started = time.monotonic()
        total = self.record.total_timesteps
        done = int(self.model.num_timesteps)
        size = collection_size(self.record.algorithm, self.model.n_envs, self.record.hyperparameters)
        callback = RunCallback(
            # resumed from a checkpoint taken mid-rollout: whole rollouts from there would pass the total
            stop_at=total if (total - done) % size else None,
            total_timesteps=total,
            on_record=self.emit,
            on_eval=self.evaluate,
            stop=stop,
            eval_every=self.options.eval_every,
            record_seconds=self.options.record_seconds,
            prune=self.options.prune,
        )
        if resumed:  # the episode count goes on from the checkpoint, as the step count does
            callback.stats.episodes = self._episodes_by(int(self.model.num_timesteps))
        remaining = total - int(self.model.num_timesteps)
        if remaining > 0 and not stop.requested:
            self.model.learn(
                total_timesteps=remaining,
                callback=callback,
                reset_num_timesteps=not resumed,
                tb_log_name=self.run.name,
                progress_bar=False,
            )
            callback.emit_record(final=True)  # the run's last speed and actions, however soon after the last record
        steps = int(self.model.num_timesteps)
        if callback.pruned and not stop.requested:
            return self._pruned(steps, total, started)
        if stop.requested:
            self.checkpoint()
            message = (
                f"stopped by {stop.signal_name} at {steps:,} of {total:,} steps; "
                f"continue with: cs-tui train --resume {self.run.path}"
            )
            self.finish(RunStatus.INTERRUPTED, message)
            code = 128 + int(stop.signum or 0)
            status = RunStatus.INTERRUPTED
        else:
            if self.last_eval_steps != steps:
                self.evaluate(steps)
            self.checkpoint()
            if self.options.holdout is not None:
                self.score_holdout(self.options.holdout)
            message = f"finished {steps:,} steps; best {_pct(self.record.best_eval):.1f}% of oracle"
            self.finish(RunStatus.FINISHED, message)
            code, status = 0, RunStatus.FINISHED
        return TrainResult(
            run=self.run,
            status=status,
            timesteps=steps,
            message=message,
            exit_code=code,
            best_eval=self.record.best_eval,
            wall_seconds=time.monotonic() - started,
        )

    def score_holdout(self, holdout: Callable[[Run], dict[str, Any]]) -> None:
        """Score the trained run on held-out conversations (``cs-tui tune``) while it still reads running;
        a failure fails the run with its reason."""
        self.status(RunStatus.RUNNING, "training done; scoring the best model on held-out conversations")
        try:
            figures = holdout(self.run)
        except Exception as exc:  # a model that cannot be scored fails the trial: its run says why
            raise TrainingError(f"held-out evaluation failed: {exc}") from None
        self.record.tune = {**(self.record.tune or {}), "holdout_eval": figures}

    def _pruned(self, steps: int, total: int, started: float) -> TrainResult:
        """Stopped early by ``cs-tui tune``'s pruner: checkpointed, recorded as pruned (exit status 0)."""
        self.checkpoint()
        message = (
            f"pruned at {steps:,} of {total:,} steps ({_pct(self.record.last_eval):.1f}% of oracle "
            "is below the other trials' median there)"
        )
        self.finish(RunStatus.PRUNED, message)
        return TrainResult(
            run=self.run, status=RunStatus.PRUNED, timesteps=steps, message=message, exit_code=0,
            best_eval=self.record.best_eval, wall_seconds=time.monotonic() - started,
        )  # fmt: skip

    def finish(self, status: RunStatus, message: str) -> None:
        """Record how training ended, in meta.json and as the stream's last ``"status"`` record."""
        self.record.status, self.record.error = status, None
        self.save()
        self.status(status, message)


def _pct(evaluation: EvalRecord | None) -> float:
    """An evaluation's % of oracle for a message (NaN, shown "nan", where there is none)."""
    pct = None if evaluation is None else evaluation.pct_of_oracle
    return float("nan") if pct is None else pct


def _check_tensorboard(directory: str | None) -> None:
    if directory is None:
        return
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        raise TrainingError(
            "--tensorboard needs the tensorboard package, which is not installed (pip install tensorboard)"
        )


#: the libraries' own rollout lengths, where the hyperparameters name none
SB3_N_STEPS = {"ppo": 2048, "a2c": 5, "recurrent_ppo": 128}


def collection_size(algorithm: str, n_envs: int, hyperparameters: dict[str, Any]) -> int:
    """Steps stable-baselines3 collects between two checks of the step budget: a run's total is a
    whole number of these (PPO and A2C: a rollout of ``n_steps`` per env; DQN: ``train_freq`` steps per
    env, or one step per env when it counts episodes)."""
    model = hyperparameters.get("model", {})
    if algorithm in ON_POLICY:
        return int(model.get("n_steps", SB3_N_STEPS[algorithm])) * n_envs
    freq = model.get("train_freq", 4)
    if isinstance(freq, list | tuple):
        freq = freq[0] if len(freq) < 2 or str(freq[1]) == "step" else 1
    return int(freq) * n_envs


def whole_collections(timesteps: int, size: int) -> int:
    """``timesteps`` rounded up to a whole number of collections of ``size`` steps: what SB3 will
    train when asked for ``timesteps`` (it finishes the collection it is in)."""
    return -(-timesteps // size) * size


def planned_timesteps(algorithm: str, timesteps: int) -> int:
    """What ``cs-tui train --algorithm ALGORITHM --timesteps N`` with the default settings will train."""
    defaults = load_defaults()[algorithm]
    return whole_collections(timesteps, collection_size(algorithm, defaults.n_envs, defaults.hyperparameters()))


def check_frame_stack(frame_stack: object, algorithm: str) -> str | None:
    """Why ``frame_stack`` cannot be used with ``algorithm`` (None when it can)."""
    from cs_tui.training.model_file.format import MAX_FRAME_STACK

    if isinstance(frame_stack, bool) or not isinstance(frame_stack, int) or not 1 <= frame_stack <= MAX_FRAME_STACK:
        return f"--frame-stack must be a whole number from 1 to {MAX_FRAME_STACK}, got {frame_stack!r}"
    if frame_stack > 1 and algorithm == "recurrent_ppo":
        return "--frame-stack is for ppo, a2c and dqn: recurrent_ppo's LSTM already remembers the conversation"
    return None


def _check_counts(options: TrainOptions, n_envs: object) -> None:
    """Every count of a new run within its ceiling (:mod:`cs_tui.training.registry`), before any folder exists:
    a usage error (exit status 2) naming the flag and both bounds."""
    for flag, value, lowest, highest in (
        ("--n-envs", n_envs, 1, MAX_N_ENVS),
        ("--eval-every", options.eval_every, 1, MAX_EVAL_EVERY),
        ("--eval-episodes", options.eval_episodes, 2, MAX_EPISODES),
        ("--reference-episodes", options.reference_episodes, 2, MAX_EPISODES),
        ("--keep-checkpoints", options.keep_checkpoints, 0, MAX_KEEP_CHECKPOINTS),
    ):
        try:
            check_count(flag, value, lowest, highest)
        except ValueError as exc:
            raise TrainingError(str(exc), 2) from None


def _check_timesteps(value: int | None) -> None:
    """``--timesteps`` within the registry's floor and ceiling (None: the default), else a usage error."""
    if value is not None:
        try:
            check_timesteps(value)
        except ValueError as exc:
            raise TrainingError(str(exc), exit_code=2) from None


def _run_guarded(
    run: Run,
    record: RunRecord,
    reporter: Reporter,
    setup: Callable[[Any], tuple[BaseAlgorithm, TrainOptions]],
    resumed: bool,
    stop: StopFlag,
    lock: RunLock,
) -> TrainResult:
    """Set up and train with stop signals caught; any failure is recorded in the run before returning.

    ``stop`` was installed and ``lock`` taken by the caller before it wrote anything to the run; both
    are let go here, however training ends.
    """
    started = time.monotonic()
    session: Session | None = None
    try:
        import torch

        torch.set_num_threads(1)  # small MLPs: threads cost more than they bring, and the CPU is shared
        reporter.started(run, record, resumed)
        model, options = setup(stop)
        session = Session(run, record, model, reporter, options)
        verb = "resumed" if resumed else "started"
        session.status(RunStatus.RUNNING, f"{verb} at {int(model.num_timesteps):,} steps")
        result = session.learn(stop, resumed)
    except TrainingError as exc:
        _record_failure(run, record, str(exc), None)
        result = TrainResult(run, RunStatus.FAILED, record.timesteps_done, str(exc), exc.exit_code)
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        _record_failure(run, record, message, traceback.format_exc())
        result = TrainResult(run, RunStatus.FAILED, record.timesteps_done, message, 1)
    finally:
        stop.restore()
        lock.release()
    if result.status != RunStatus.FAILED and stop.requested and session is None:
        code = 128 + int(stop.signum or 0)
        result = TrainResult(run, RunStatus.INTERRUPTED, 0, "stopped before training began", code)
    result.wall_seconds = time.monotonic() - started
    reporter.finished(result)
    return result


def _record_failure(run: Run, record: RunRecord, message: str, trace: str | None) -> None:
    try:
        record.status, record.error, record.traceback = RunStatus.FAILED, message, trace
        run.write_record(record)
        runs.append_jsonl(
            run.metrics_path,
            {"type": "status", "time": time.time(), "timesteps": record.timesteps_done,
             "status": RunStatus.FAILED, "message": message},
        )  # fmt: skip
    except OSError:
        pass  # the folder itself is unwritable: the message still reaches the terminal


# -- the two entry points --------------------------------------------------------------------


def train(options: TrainOptions, reporter: Reporter | None = None, stop: StopFlag | None = None) -> TrainResult:
    """Start a new run under ``options.saves`` and train it.

    ``stop``: the caller's stop flag (``cs-tui train`` passes a kept one); by default one of our own,
    installed before anything is written and restored when training ends.

    Raises:
        TrainingError: for problems found before the run folder exists (bad name, name taken, ...).
    """
    from cs_env.env import ENV_ID, check_industry, check_max_turns
    from cs_env.industries import default_catalog

    reporter = reporter or NullReporter()
    if options.algorithm not in ALGORITHMS:
        raise TrainingError(f"unknown algorithm {options.algorithm!r}; valid: {', '.join(ALGORITHMS)}", 2)
    try:
        check_industry(options.industry)
        check_max_turns(options.max_turns)
    except ValueError as exc:
        raise TrainingError(str(exc), 2) from None
    defaults = load_defaults()[options.algorithm]
    timesteps = options.timesteps if options.timesteps is not None else defaults.timesteps
    n_envs = options.n_envs if options.n_envs is not None else defaults.n_envs
    _check_timesteps(timesteps)
    _check_counts(options, n_envs)
    _check_tensorboard(options.tensorboard)
    problem = check_frame_stack(options.frame_stack, options.algorithm)
    if problem:
        raise TrainingError(problem, 2)
    if options.warm_start is not None:
        from cs_tui.training.warm_start import check_source, warm_start_source

        try:
            check_path_text("--warm-start", options.warm_start)
        except ValueError as exc:
            raise TrainingError(str(exc), 2) from None
        problem = check_source(options.warm_start, options.algorithm, options.frame_stack)
        if problem:
            raise TrainingError(problem, 2)
    hyperparameters = defaults.hyperparameters()
    for part, values in options.overrides.items():
        hyperparameters.setdefault(part, {}).update(values)
    requested = timesteps  # SB3 trains whole rollouts: the run plans (and shows) the total it will reach
    timesteps = whole_collections(timesteps, collection_size(options.algorithm, n_envs, hyperparameters))

    root = options.saves
    if options.name is not None:
        try:
            check_run_name(options.name)
        except ValueError as exc:
            raise TrainingError(str(exc), 2) from None
        name = options.name
        if (root / name).exists():
            finished = (root / name / runs.META_FILE).is_file() and _status_of(Run(root / name)) == RunStatus.FINISHED
            how = "--resume {} --timesteps N (a larger total)" if finished else "--resume {}"
            raise TrainingError(
                f"{root / name} already exists{' (a finished run)' if finished else ''}: continue it with "
                f"{how.format(root / name)}, or choose another --name",
                2,
            )
    else:
        name = runs.unique_run_name(root, runs.default_run_name(options.algorithm, options.industry))
    run = Run(root / name)
    # the stop signals are caught before anything is written: a signal from here on (the torch import
    # takes seconds) ends in a checkpoint and an interrupted run, never a run left "running"
    stop = stop or StopFlag()
    stop.install()
    try:
        run.path.mkdir(parents=True)
    except FileExistsError:
        stop.restore()
        raise TrainingError(f"{run.path} already exists (another run took the name)") from None
    except OSError as exc:
        stop.restore()
        raise TrainingError(f"cannot create the run folder {run.path}: {exc.strerror or exc}") from None
    try:
        lock = RunLock(run.path).acquire()
    except OSError as exc:
        stop.restore()
        _remove_unborn(run)
        raise TrainingError(f"cannot lock the run folder {run.path}: {exc}", 2) from None
    record = RunRecord(
        schema=SCHEMA,
        name=name,
        algorithm=options.algorithm,
        industry=options.industry,
        max_turns=options.max_turns,
        seed=options.seed,
        n_envs=n_envs,
        total_timesteps=timesteps,
        timesteps_requested=requested,
        timesteps_done=0,
        hyperparameters=hyperparameters,
        industry_digest=default_catalog().digest,
        env_id=ENV_ID,
        versions=runs.versions(),
        created_at=now_iso(),
        status=RunStatus.RUNNING,
        pid=os.getpid(),
        pid_token=process_token(),
        eval_every=options.eval_every,
        eval_episodes=options.eval_episodes,
        keep_checkpoints=options.keep_checkpoints if options.checkpoints else 0,
        tensorboard=options.tensorboard,
        # the source now (the reporter names it), the whole record once the policy is cloned
        warm_start=None if options.warm_start is None else {"source": warm_start_source(options.warm_start)},
        frame_stack=options.frame_stack,
        curriculum=options.curriculum,
        command=list(sys.argv),
        tune=options.tune,
    )
    try:
        run.write_record(record)
    except OSError as exc:  # a full disk, say: no run was born, so none is left to block the name
        stop.restore()
        lock.release()
        _remove_unborn(run)
        raise TrainingError(f"cannot write {run.meta_path}: {exc.strerror or exc}") from None

    def setup(stop: Any) -> tuple[BaseAlgorithm, TrainOptions]:
        from cs_tui.training.vecenv import make_training_env

        record.reference = reference_for(
            options.industry, options.max_turns, options.reference_episodes, EVAL_SEED, root
        )
        run.write_record(record)
        seed_everything(options.seed)
        env = make_training_env(
            options.industry,
            n_envs,
            options.seed,
            options.max_turns,
            frame_stack=options.frame_stack,
            curriculum=(timesteps, 0) if options.curriculum else None,
        )
        model = build_model(options.algorithm, env, hyperparameters, options.seed, options.tensorboard)
        if options.warm_start is not None:
            from cs_tui.training.warm_start import behaviour_clone

            record.warm_start = behaviour_clone(
                model, options.warm_start, industry=options.industry, max_turns=options.max_turns, seed=options.seed
            )
            run.write_record(record)
        return model, options

    return _run_guarded(run, record, reporter, setup, resumed=False, stop=stop, lock=lock)


def _remove_unborn(run: Run) -> None:
    """Remove a run folder that never got its meta.json (only the lock and temp files can be in it)."""
    import shutil

    with contextlib.suppress(OSError):
        if not run.meta_path.exists():
            shutil.rmtree(run.path)


def _status_of(run: Run) -> str:
    try:
        return run.status
    except RunError:
        return "unknown"


def _resumable_runs(saves: Path | None) -> str:
    """``"runs under saves/: a, b"``: the runs a ``--resume`` could name (a run folder's path works too)."""
    root = saves if saves is not None else runs.saves_dir()
    names = [run.name for run in runs.list_runs(root)]
    return f"runs under {root}: {runs.short_list(names)} (or give a run folder's path)"


def resume(
    path: Path | str,
    *,
    saves: Path | None = None,
    timesteps: int | None = None,
    tensorboard: str | None = None,
    reporter: Reporter | None = None,
    checkpoints: bool = True,
    record_seconds: float = 1.0,
    stop: StopFlag | None = None,
) -> TrainResult:
    """Continue the run in ``path`` from its latest model, the step count carried on.

    ``path`` is the run's folder, or its name under ``saves``. ``timesteps`` is the run's new planned
    total (default: the total it was started with).

    Raises:
        TrainingError: the folder is not a resumable run (missing, unreadable, still training, done).
    """
    reporter = reporter or NullReporter()
    try:
        check_path_text("--resume", str(path))
    except ValueError as exc:
        raise TrainingError(f"cannot resume: {exc}", 2) from None
    try:
        run = runs.resolve_run(path, saves)
    except RunError as exc:  # a name that is no run: bad input, as `cs-tui evaluate nosuchrun` is
        raise TrainingError(f"cannot resume: {exc}; {_resumable_runs(saves)}", 2) from None
    problem = runs.written_files_problem(run.path)  # before the lock: .lock itself may be the planted link
    if problem:
        raise TrainingError(f"cannot resume: {problem}", 2)
    stop = stop or StopFlag()
    stop.install()
    try:  # one trainer per run: taken before the run is read, so two resumes cannot both pass the checks
        lock = RunLock(run.path).acquire()
    except RunLocked as exc:
        stop.restore()
        raise TrainingError(f"cannot resume: {exc}", 2) from None
    except OSError as exc:
        stop.restore()
        raise TrainingError(f"cannot resume: cannot lock {run.path}: {exc.strerror or exc}", 2) from None
    try:
        return _resume_locked(run, saves, timesteps, tensorboard, reporter, checkpoints, record_seconds, stop, lock)
    except BaseException:
        stop.restore()
        lock.release()
        raise


def _resume_locked(
    run: Run,
    saves: Path | None,
    timesteps: int | None,
    tensorboard: str | None,
    reporter: Reporter,
    checkpoints: bool,
    record_seconds: float,
    stop: StopFlag,
    lock: RunLock,
) -> TrainResult:
    """:func:`resume` once the run's lock is held."""
    from cs_env.env import version_problem
    from cs_tui.training.model_file import read_model_meta
    from cs_tui.training.model_file.format import ModelLoadError
    from cs_tui.training.safe_load import load_model_with_meta

    try:
        record = run.record()
    except RunError as exc:
        raise TrainingError(f"cannot resume: {exc}") from None
    problem = version_problem(record.env_id)
    if problem:  # its model and settings were found for another world
        raise TrainingError(f"cannot resume: {run.meta_path}: {problem}", 2)
    n_envs = record.n_envs
    if n_envs is None or record.algorithm not in ALGORITHMS:
        lacks = "n_envs" if n_envs is None else f"a valid algorithm (one of {', '.join(ALGORITHMS)})"
        raise TrainingError(f"cannot resume: {run.meta_path} lacks {lacks}")
    # (another trainer of this run would hold the lock we hold: none is training it)
    # a run that died before its first checkpoint has no model: it starts again from step 0 with its settings
    restart = not os.path.lexists(run.model_path)  # (a link that leads nowhere is refused, not "no model")
    _check_timesteps(timesteps)
    _check_tensorboard(tensorboard)
    requested = timesteps if timesteps is not None else record.total_timesteps
    total = whole_collections(requested, collection_size(record.algorithm, n_envs, record.hyperparameters))
    try:  # checked before the run is touched: a mistake here must not mark a good run failed
        done = 0 if restart else int(read_model_meta(run.model_path)["model"]["num_timesteps"])
    except ModelLoadError as exc:
        raise TrainingError(f"cannot resume: {exc}") from None
    # a run killed after its last checkpoint but before it was marked finished resumes to finish;
    # --timesteps is the new total, not steps to add: a total below the steps done is refused
    if done >= total and (record.status == RunStatus.FINISHED or (timesteps is not None and done > total)):
        asked = "" if timesteps is None else f" and --timesteps {timesteps:,} is not more"
        raise TrainingError(
            f"cannot resume: {run.name} has already done {done:,} steps{asked}; "
            f"--timesteps is the run's new total (not the steps to add): pass --timesteps {done + 1} or more",
            2,
        )
    done_before = done  # (setup's own count comes from the loaded model)
    options = TrainOptions(
        algorithm=record.algorithm,
        industry=record.industry,
        timesteps=total,
        seed=record.seed,
        n_envs=n_envs,
        name=run.name,
        saves=run.path.parent,
        tensorboard=tensorboard,
        max_turns=record.max_turns,
        # (runs from before these were recorded: the values they were trained with)
        eval_every=EVAL_EVERY if record.eval_every is None else record.eval_every,
        eval_episodes=EVAL_EPISODES if record.eval_episodes is None else record.eval_episodes,
        keep_checkpoints=KEEP_CHECKPOINTS if record.keep_checkpoints is None else record.keep_checkpoints,
        checkpoints=checkpoints,
        record_seconds=record_seconds,
        frame_stack=record.frame_stack,
        curriculum=record.curriculum,
    )
    problem = check_frame_stack(options.frame_stack, options.algorithm)
    if problem:
        raise TrainingError(f"cannot resume: {run.meta_path}: {problem}")
    try:
        runs.repair_jsonl(run.metrics_path)
    except OSError as exc:  # (a file swapped for a link or a FIFO since the check above)
        raise TrainingError(f"cannot resume: {exc}", 2) from None
    runs.remove_temp_files(run.path)  # left by a kill -9 mid-write; we hold the lock, so none is being written
    record.status, record.error, record.traceback = RunStatus.RUNNING, None, None
    record.pid, record.pid_token, record.versions = os.getpid(), process_token(), runs.versions()
    record.total_timesteps, record.timesteps_requested, record.tensorboard = total, requested, tensorboard

    def setup(stop: Any) -> tuple[BaseAlgorithm, TrainOptions]:
        from cs_tui.training.vecenv import make_training_env

        seed = options.seed
        env = make_training_env(
            options.industry,
            n_envs,
            seed,
            options.max_turns,
            frame_stack=options.frame_stack,
            curriculum=(total, done_before) if options.curriculum else None,
        )
        if restart:
            seed_everything(seed)
            model = build_model(record.algorithm, env, record.hyperparameters, seed, tensorboard)
        else:
            try:
                model, _ = load_model_with_meta(run.model_path, env=env)
            except ModelLoadError as exc:
                raise TrainingError(f"cannot resume: {exc}") from None
        done = int(model.num_timesteps)
        # a resumed run draws fresh random numbers rather than replaying the first segment's
        seed_everything(seed + done)
        model.set_random_seed(sb3_seed(seed + done))
        model.tensorboard_log = tensorboard
        if record.algorithm == "dqn":
            if run.replay_buffer_path.is_file():
                from cs_tui.training.model_file.replay_buffer import load_replay_buffer

                try:
                    load_replay_buffer(model, run.replay_buffer_path)
                except ValueError as exc:
                    raise TrainingError(str(exc)) from None
            elif not restart:
                print(f"warning: {run.replay_buffer_path} is missing; DQN resumes with an empty replay buffer",
                      file=sys.stderr)  # fmt: skip
        if record.reference is None:
            record.reference = reference_for(
                options.industry, options.max_turns, REFERENCE_EPISODES, EVAL_SEED, run.path.parent
            )
        record.timesteps_done = done
        run.write_record(record)
        return model, options

    return _run_guarded(run, record, reporter, setup, resumed=True, stop=stop, lock=lock)


def _catalog_digest() -> str:
    from cs_env.industries import default_catalog

    return default_catalog().digest
