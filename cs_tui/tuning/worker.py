"""One tuning worker: it takes trials until the study is done, trains each into a run folder, prunes on
the evaluations and scores the best model on held-out conversations. Optuna is imported inside
functions only."""

from __future__ import annotations

import os
import socket
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cs_tui.training import runs, trainer
from cs_tui.training.options import TrainingError, TrainOptions
from cs_tui.training.registry import (
    MAX_FAILED_IN_A_ROW,
)
from cs_tui.training.run_record import EvalRecord
from cs_tui.training.search_space import SEARCH_SPACE_FILE, Parameter, apply, load_search_space
from cs_tui.tuning.options import HOLDOUT_SEED, TuneInputError, TuneOptions, check_options, trial_run_name
from cs_tui.tuning.results import counts
from cs_tui.tuning.storage import StudyLock, WorkerMark, open_storage, open_study, shown_url, workers_path

if TYPE_CHECKING:
    import optuna

    from cs_tui.training.stop import StopFlag


class Interrupted(Exception):
    """The worker was asked to stop (a signal) while training a trial; ``exit_code`` is 128 + its number."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class TrialFailed(Exception):
    """The trial's training failed (recorded in its run folder); the study goes on."""


@dataclass
class WorkerResult:
    """How a worker ended; ``exit_code`` is what ``cs-tui tune`` returns."""

    study: str
    trials_run: int
    status: str  # done | timeout | interrupted | failed (trials failed in a row)
    message: str
    exit_code: int


Event = Callable[[dict[str, Any]], None]


def holdout_eval(run: runs.Run, industry: str, episodes: int, saves: Path) -> dict[str, Any]:
    """``cs-tui evaluate RUN --episodes N --seed HOLDOUT_SEED``'s figures for the run's best model."""
    from cs_env.evaluate import evaluate
    from cs_tui.agents import load_agent

    max_turns = run.record().max_turns
    agent = load_agent(str(run.path), industry=industry, max_turns=max_turns, saves=saves, seed=HOLDOUT_SEED)
    report = evaluate(agent, industry=industry, episodes=episodes, seed=HOLDOUT_SEED, max_turns=max_turns)
    return {
        "pct_of_oracle": report.pct_of_oracle,
        "mean_return": report.overall.mean_return,
        "ci95": report.overall.ci95,
        "episodes": episodes,
        "seed": HOLDOUT_SEED,
        "command": f"cs-tui evaluate {run.name} --episodes {episodes} --seed {HOLDOUT_SEED}",
    }


def run_worker(options: TuneOptions, on_event: Event | None = None, stop: StopFlag | None = None) -> WorkerResult:
    """Take trials of the study until it holds ``options.trials`` complete or pruned ones (or the
    timeout passes, or a signal asks to stop). Raises :class:`TuneError` for bad options or storage."""
    import optuna

    from cs_tui.training.stop import StopFlag

    emit = on_event or (lambda event: None)
    name = check_options(options)
    try:
        space = load_search_space(options.search_space or SEARCH_SPACE_FILE)[options.algorithm]
    except ValueError as exc:
        raise TuneInputError(str(exc)) from None
    storage = open_storage(options.storage, options.saves, options.heartbeat)
    study = open_study(options, storage, name)
    settings = study.user_attrs["settings"]
    stop = stop or StopFlag()  # the caller's (a kept one from `cs-tui tune`), or our own
    stop.install()
    try:
        mark = WorkerMark(options.saves, name)  # after install: a stop signal from the app is caught
    except OSError as exc:
        stop.restore()
        raise TuneInputError(f"cannot mark this worker in {workers_path(options.saves, name)}: {exc}") from None
    started = time.monotonic()
    taken = 0
    status, message = "done", ""
    interrupted_code = 0
    failed_in_a_row: list[str] = []  # the reasons of this worker's last trials, while each failed
    try:
        while True:
            if stop.requested:
                status, message = "interrupted", f"stopped by {stop.signal_name}"
                break
            if options.timeout is not None and time.monotonic() - started >= options.timeout:
                status, message = "timeout", f"--timeout {options.timeout:g} s reached"
                break
            lock = StudyLock(options, name)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    optuna.storages.fail_stale_trials(study)  # a dead worker's trial: failed, queued again
                have = counts(study)
            except BaseException:
                lock.release()
                raise
            done = have["complete"] + have["pruned"]
            if stop.requested:  # (asked while waiting for the lock)
                lock.release()
                continue
            if done >= options.trials:
                lock.release()
                message = f"the study holds {done} complete or pruned trials (asked for {options.trials})"
                break
            if done + have["running"] >= options.trials:
                lock.release()
                # the last trials are running elsewhere: wait, to take over any whose worker dies
                _sleep(min(options.heartbeat, 2.0), stop)
                continue
            _retry_an_interrupted_trial(study)  # its parameters first, before new ones are drawn
            # the objective releases the lock once its trial exists (and counts as running)
            objective = _objective(options, name, settings, space, emit, lock.release, failed_in_a_row, stop)
            try:
                study.optimize(objective, n_trials=1, catch=(TrialFailed,))
            except Interrupted as exc:
                status, message, interrupted_code = "interrupted", str(exc), exc.exit_code
                break
            except optuna.exceptions.UpdateFinishedTrialError:
                # our heartbeat came late (a starved machine) and another worker already failed the
                # trial and queued it again: the retry counts, this run does not; go on
                late = "another worker failed this trial (its heartbeat was late) and queued it again"
                emit({"type": "trial", "event": "lost", "study": name, "worker": options.worker, "message": late})
            finally:
                lock.release()
            taken += 1
            if len(failed_in_a_row) >= MAX_FAILED_IN_A_ROW:
                # trials that fail alike (a bad setting, a full disk) would fail forever: stop and say why
                status, message = "failed", _failed_streak(failed_in_a_row)
                break
    finally:
        mark.release()
        stop.restore()
    code = {"interrupted": interrupted_code or 128 + int(stop.signum or 0), "failed": 1}.get(status, 0)
    result = WorkerResult(name, taken, status, message, code)
    emit({"type": "worker", "study": name, "status": status, "trials_run": taken, "message": message,
          "worker": options.worker})  # fmt: skip
    return result


def _failed_streak(reasons: list[str]) -> str:
    """Why a worker stopped after trials failed in a row: their one reason, or the last of several."""
    if len(set(reasons)) == 1:
        return f"{len(reasons)} trials in a row failed: {reasons[-1]}"
    return f"{len(reasons)} trials in a row failed; the last: {reasons[-1]}"


def _retry_an_interrupted_trial(study: optuna.Study) -> None:
    """Queue the parameters of one stopped trial (failed, marked ``interrupted``) not yet tried again."""
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get("retry_of") for t in trials}
    for trial in trials:
        if trial.state.name == "FAIL" and trial.user_attrs.get("interrupted") and trial.number not in retried:
            study.enqueue_trial(dict(trial.params), user_attrs={"retry_of": trial.number})
            return


def _sleep(seconds: float, stop: Any) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end and not stop.requested:
        time.sleep(0.1)


def _objective(
    options: TuneOptions,
    study_name: str,
    settings: dict[str, Any],
    space: list[Parameter],
    emit: Event,
    release_lock: Callable[[], None],
    failed_in_a_row: list[str],
    stop: StopFlag,
) -> Callable[[optuna.Trial], float]:
    """The trial function; each failure's reason is appended to ``failed_in_a_row``, a success clears it."""
    import optuna

    def objective(trial: optuna.Trial) -> float:
        release_lock()
        params = {p.key: p.suggest(trial) for p in space}
        if stop.requested:  # stopped as the trial began: no run folder; its parameters are tried again later
            trial.set_user_attr("interrupted", f"stopped by {stop.signal_name} before training began")
            raise Interrupted(f"stopped by {stop.signal_name}", 128 + int(stop.signum or 0))
        overrides, n_envs = apply(dict(trial.params), space)
        run_name = runs.unique_run_name(options.saves, trial_run_name(study_name, trial.number))
        trial.set_user_attr("run", run_name)
        trial.set_user_attr("host", socket.gethostname())
        trial.set_user_attr("pid", os.getpid())
        seed = int(settings["seed"]) + trial.number
        emit({"type": "trial", "event": "started", "study": study_name, "trial": trial.number, "run": run_name,
              "params": params, "worker": options.worker})  # fmt: skip

        scored: dict[str, Any] = {}

        def holdout(run: runs.Run) -> dict[str, Any]:
            scored.update(holdout_eval(run, settings["industry"], int(settings["holdout_episodes"]), options.saves))
            return scored

        def prune(evaluation: EvalRecord) -> bool:
            trial.report(float("nan") if evaluation.pct_of_oracle is None else evaluation.pct_of_oracle,
                         evaluation.timesteps)  # fmt: skip
            return trial.should_prune()

        train_options = TrainOptions(
            algorithm=settings["algorithm"],
            industry=settings["industry"],
            timesteps=int(settings["timesteps"]),
            seed=seed,
            n_envs=n_envs,
            name=run_name,
            saves=options.saves,
            eval_every=int(settings["eval_every"]),
            eval_episodes=int(settings["eval_episodes"]),
            reference_episodes=options.reference_episodes,
            overrides=overrides,
            prune=prune,
            holdout=holdout,
            tune={"study": study_name, "trial": trial.number, "storage": shown_url(options.storage or "embedded"),
                  "params": params},
        )  # fmt: skip
        try:  # the worker's stop flag: a signal from now on stops this trial, however early it comes
            result = trainer.train(train_options, stop=stop)
        except TrainingError as exc:
            trial.set_user_attr("error", str(exc))
            emit({"type": "trial", "event": "failed", "study": study_name, "trial": trial.number, "run": run_name,
                  "message": str(exc), "worker": options.worker})  # fmt: skip
            failed_in_a_row.append(str(exc))
            raise TrialFailed(str(exc)) from None
        event = {"type": "trial", "study": study_name, "trial": trial.number, "run": run_name,
                 "worker": options.worker, "message": result.message}  # fmt: skip
        if result.status == "interrupted":
            # the trial is failed, its parameters tried again when the study goes on (not queued now: a
            # queued trial would read "waiting" while no worker runs)
            trial.set_user_attr("interrupted", result.message)
            emit({**event, "event": "interrupted"})
            raise Interrupted(result.message, result.exit_code)
        if result.status == "failed":  # (the held-out scoring's failure included: the run says so too)
            trial.set_user_attr("error", result.message)
            emit({**event, "event": "failed"})
            failed_in_a_row.append(result.message)
            raise TrialFailed(result.message)
        if result.status == "pruned":
            failed_in_a_row.clear()
            emit({**event, "event": "pruned", "value": result.best_eval and result.best_eval.pct_of_oracle})
            raise optuna.TrialPruned(result.message)
        held_out = scored  # scored by the trainer before it recorded the run finished
        trial.set_user_attr("holdout", held_out)
        failed_in_a_row.clear()
        emit({**event, "event": "complete", "value": held_out["pct_of_oracle"]})
        return float(held_out["pct_of_oracle"])

    return objective
