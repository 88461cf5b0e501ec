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
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cs_tui.files import now_iso
from cs_tui.training import runs
from cs_tui.training.evaluation import reference_for
from cs_tui.training.options import (
    EVAL_EPISODES,
    EVAL_EVERY,
    EVAL_SEED,
    KEEP_CHECKPOINTS,
    REFERENCE_EPISODES,
    TrainingError,
    TrainingInputError,
    TrainOptions,
    check_counts,
    check_frame_stack,
    check_tensorboard,
    check_total_timesteps,
    collection_size,
    load_defaults,
    whole_collections,
)
from cs_tui.training.registry import (
    ALGORITHMS,
    check_path_text,
    check_run_name,
)
from cs_tui.training.run_lock import RunLock, RunLocked, process_token
from cs_tui.training.run_record import SCHEMA, RunError, RunRecord, RunStatus
from cs_tui.training.runs import Run
from cs_tui.training.session import (
    NullReporter,
    Reporter,
    TrainResult,
    build_model,
    run_guarded,
    sb3_seed,
    seed_everything,
)
from cs_tui.training.stop import StopFlag

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm


def train(options: TrainOptions, reporter: Reporter | None = None, stop: StopFlag | None = None) -> TrainResult:
    """Start a new run under ``options.saves`` and train it.

    ``stop``: the caller's stop flag (``cs-tui train`` passes a kept one); by default one of our own,
    installed before anything is written and restored when training ends.

    Raises:
        TrainingError: for problems found before the run folder exists (bad name, name taken, ...).
    """
    from cs_env.env import check_industry, check_max_turns

    reporter = reporter or NullReporter()
    if options.algorithm not in ALGORITHMS:
        raise TrainingInputError(f"unknown algorithm {options.algorithm!r}; valid: {', '.join(ALGORITHMS)}")
    try:
        check_industry(options.industry)
        check_max_turns(options.max_turns)
    except ValueError as exc:
        raise TrainingInputError(str(exc)) from None
    defaults = load_defaults()[options.algorithm]
    timesteps = options.timesteps if options.timesteps is not None else defaults.timesteps
    n_envs = options.n_envs if options.n_envs is not None else defaults.n_envs
    check_total_timesteps(timesteps)
    check_counts(options, n_envs)
    check_tensorboard(options.tensorboard)
    problem = check_frame_stack(options.frame_stack, options.algorithm)
    if problem:
        raise TrainingInputError(problem)
    if options.warm_start is not None:
        from cs_tui.training.warm_start import check_source

        try:
            check_path_text("--warm-start", options.warm_start)
        except ValueError as exc:
            raise TrainingInputError(str(exc)) from None
        problem = check_source(options.warm_start, options.algorithm)
        if problem:
            raise TrainingInputError(problem)
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
            raise TrainingInputError(str(exc)) from None
        name = options.name
        if (root / name).exists():
            finished = (root / name / runs.META_FILE).is_file() and _status_of(Run(root / name)) == RunStatus.FINISHED
            how = "--resume {} --timesteps N (a larger total)" if finished else "--resume {}"
            raise TrainingInputError(
                f"{root / name} already exists{' (a finished run)' if finished else ''}: continue it with "
                f"{how.format(root / name)}, or choose another --name",
            )
    else:
        name = runs.unique_run_name(root, runs.default_run_name(options.algorithm, options.industry))
    run = Run(root / name)
    # the stop signals are caught before anything is written: a signal from here on (the torch import
    # takes seconds) ends in a checkpoint and an interrupted run, never a run left "running"
    stop = stop or StopFlag()
    with contextlib.ExitStack() as cleanup:  # undone in reverse if the run is not born; else run_guarded's
        stop.install()
        cleanup.callback(stop.restore)
        try:
            run.path.mkdir(parents=True)
        except FileExistsError:
            raise TrainingError(f"{run.path} already exists (another run took the name)") from None
        except OSError as exc:
            raise TrainingError(f"cannot create the run folder {run.path}: {exc.strerror or exc}") from None
        unborn = cleanup.enter_context(contextlib.ExitStack())  # dropped once meta.json is written
        unborn.callback(_remove_unborn, run)
        try:
            lock = RunLock(run.path).acquire()
        except OSError as exc:
            raise TrainingInputError(f"cannot lock the run folder {run.path}: {exc}") from None
        cleanup.callback(lock.release)
        record = _new_record(options, name, n_envs, timesteps, requested, hyperparameters)
        try:
            run.write_record(record)
        except OSError as exc:  # a full disk, say: no run was born, so none is left to block the name
            raise TrainingError(f"cannot write {run.meta_path}: {exc.strerror or exc}") from None
        unborn.pop_all()  # the run is born: its folder stays, whatever happens next
        owned = cleanup.pop_all()  # training lets go of the lock and the stop flag

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
                model,
                options.warm_start,
                industry=options.industry,
                max_turns=options.max_turns,
                seed=options.seed,
                frame_stack=options.frame_stack,
                epochs=options.warm_start_epochs,
            )
            run.write_record(record)
        return model, options

    return run_guarded(run, record, reporter, setup, resumed=False, stop=stop, cleanup=owned)


def _new_record(
    options: TrainOptions, name: str, n_envs: int, timesteps: int, requested: int, hyperparameters: dict[str, Any]
) -> RunRecord:
    """The record a new run starts with (``meta.json`` as :func:`train` first writes it)."""
    from cs_env.env import ENV_ID
    from cs_env.industries import default_catalog
    from cs_tui.training.warm_start import warm_start_source

    return RunRecord(
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
        raise TrainingInputError(f"cannot resume: {exc}") from None
    try:
        run = runs.resolve_run(path, saves)
    except RunError as exc:  # a name that is no run: bad input, as `cs-tui evaluate nosuchrun` is
        raise TrainingInputError(f"cannot resume: {exc}; {_resumable_runs(saves)}") from None
    problem = runs.written_files_problem(run.path)  # before the lock: .lock itself may be the planted link
    if problem:
        raise TrainingInputError(f"cannot resume: {problem}")
    stop = stop or StopFlag()
    with contextlib.ExitStack() as cleanup:  # undone if resuming fails before training; else run_guarded's
        stop.install()
        cleanup.callback(stop.restore)
        try:  # one trainer per run: taken before the run is read, so two resumes cannot both pass the checks
            lock = RunLock(run.path).acquire()
        except RunLocked as exc:
            raise TrainingInputError(f"cannot resume: {exc}") from None
        except OSError as exc:
            raise TrainingInputError(f"cannot resume: cannot lock {run.path}: {exc.strerror or exc}") from None
        cleanup.callback(lock.release)
        return _resume_locked(run, saves, timesteps, tensorboard, reporter, checkpoints, record_seconds, stop, cleanup)


def _resume_locked(
    run: Run,
    saves: Path | None,
    timesteps: int | None,
    tensorboard: str | None,
    reporter: Reporter,
    checkpoints: bool,
    record_seconds: float,
    stop: StopFlag,
    cleanup: contextlib.ExitStack,
) -> TrainResult:
    """:func:`resume` once the run's lock is held (``cleanup`` lets go of it and of ``stop``)."""
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
        raise TrainingInputError(f"cannot resume: {run.meta_path}: {problem}")
    n_envs = record.n_envs
    if n_envs is None or record.algorithm not in ALGORITHMS:
        lacks = "n_envs" if n_envs is None else f"a valid algorithm (one of {', '.join(ALGORITHMS)})"
        raise TrainingError(f"cannot resume: {run.meta_path} lacks {lacks}")
    # (another trainer of this run would hold the lock we hold: none is training it)
    # a run that died before its first checkpoint has no model: it starts again from step 0 with its settings
    restart = not os.path.lexists(run.model_path)  # (a link that leads nowhere is refused, not "no model")
    check_total_timesteps(timesteps)
    check_tensorboard(tensorboard)
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
        raise TrainingInputError(
            f"cannot resume: {run.name} has already done {done:,} steps{asked}; "
            f"--timesteps is the run's new total (not the steps to add): pass --timesteps {done + 1} or more",
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
        raise TrainingInputError(f"cannot resume: {exc}") from None
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

    return run_guarded(run, record, reporter, setup, resumed=True, stop=stop, cleanup=cleanup.pop_all())
