"""One process training one run (:class:`Session`): seeding, building the model, the records, evaluations
and checkpoints it writes, and :func:`run_guarded`, which trains with stop signals caught and every
failure recorded in the run, then lets go of what the caller handed it (one ``ExitStack``).
torch and stable-baselines3 are imported inside functions only."""

from __future__ import annotations

import contextlib
import random
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from cs_tui.files import atomic_write_bytes
from cs_tui.training import runs
from cs_tui.training.evaluation import EVAL_SCALARS, evaluate_model
from cs_tui.training.options import TrainingError, TrainingInputError, TrainOptions, collection_size
from cs_tui.training.run_record import EvalRecord, RunRecord, RunStatus
from cs_tui.training.runs import Run
from cs_tui.training.stop import StopFlag

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm
    from stable_baselines3.common.vec_env import VecEnv


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
            "industry_digest": record.industry_digest or catalog_digest(),
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


def run_guarded(
    run: Run,
    record: RunRecord,
    reporter: Reporter,
    setup: Callable[[Any], tuple[BaseAlgorithm, TrainOptions]],
    resumed: bool,
    stop: StopFlag,
    cleanup: contextlib.ExitStack,
) -> TrainResult:
    """Set up and train with stop signals caught; any failure is recorded in the run before returning.

    ``stop`` was installed and the run's lock taken by the caller before it wrote anything to the run;
    ``cleanup`` lets go of both (and whatever else the caller handed over) here, however training ends.
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
        code = 2 if isinstance(exc, TrainingInputError) else 1  # (TrainResult's code is the command's)
        result = TrainResult(run, RunStatus.FAILED, record.timesteps_done, str(exc), code)
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        _record_failure(run, record, message, traceback.format_exc())
        result = TrainResult(run, RunStatus.FAILED, record.timesteps_done, message, 1)
    finally:
        cleanup.close()  # the lock, the stop flag: whatever the caller set up for this run
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


def catalog_digest() -> str:
    from cs_env.industries import default_catalog

    return default_catalog().digest
