"""``cs-tui tune``: hyperparameter studies on Optuna, each trial an ordinary run folder.

A study lives in an Optuna storage: by default an SQLite file in the saves folder
(``saves/.studies/studies.db``, several processes on one host share it safely), or any URL Optuna
accepts (``postgresql://…`` to spread one study over many hosts). A worker (:func:`run_worker`) takes
trials until the study holds ``trials`` complete or pruned ones. Each trial:

1. draws its hyperparameters from ``search_space.toml`` (Optuna's TPE sampler);
2. trains them with :func:`cs_tui.training.trainer.train` into ``saves/<study>-t<NNNN>/`` (meta.json,
   metrics stream, models: ``evaluate``, ``test``, the app and ``--resume`` work on it unchanged),
   reporting each evaluation's % of oracle to Optuna and stopping as ``pruned`` when the median pruner
   says so;
3. scores its ``best.zip`` on held-out conversations (seed :data:`HOLDOUT_SEED`, which no trial trains
   or is evaluated on during training): the figure ``cs-tui evaluate RUN --seed 1000000000`` prints.
   That % of oracle is the trial's value.

Faults: every running trial beats a heartbeat into the storage; a trial whose worker died (``kill -9``,
a lost host) goes stale, is marked failed and retried with the same hyperparameters
(``RetryHeartbeatStaleTrialCallback``). SIGINT/SIGTERM/SIGHUP stop a worker: its trial's run folder is
checkpointed and marked interrupted, the trial failed (marked ``interrupted``), and its parameters are
tried again first when the study goes on (re-running the command, or ``u`` in the app), so no trial
waits in the queue meanwhile. Each worker holds a shared lock on ``.studies/.STUDY.workers`` for its
life: the kernel's list of its holders is how the app finds the processes to stop (``x`` in the
tuning view). Optuna is imported inside functions only.
"""

from __future__ import annotations

import fcntl
import os
import socket
import sqlite3
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from cs_tui.training import runs, trainer
from cs_tui.training.registry import (
    MAX_EPISODES,
    MAX_EVAL_EVERY,
    MAX_FAILED_IN_A_ROW,
    MAX_HEARTBEAT,
    MAX_STARTUP_TRIALS,
    MAX_TIMEOUT,
    check_algorithm,
    check_count,
    check_study_name,
)
from cs_tui.training.run_record import EvalRecord
from cs_tui.training.search_space import SEARCH_SPACE_FILE, Parameter, apply, load_search_space

if TYPE_CHECKING:
    import optuna

    from cs_tui.training.stop import StopFlag

STUDIES_DIR = ".studies"
EMBEDDED_DB = "studies.db"
#: The held-out conversations: ``evaluate(seed=HOLDOUT_SEED)``. Trials train on envs seeded
#: ``seed + trial number + i`` and are evaluated during training on seed 0's conversations: both far below.
HOLDOUT_SEED = 1_000_000_000
HOLDOUT_EPISODES = 2000
#: The highest study --seed: trial seeds (seed + number + env index) stay clear of HOLDOUT_SEED.
MAX_SEED = 100_000_000
HEARTBEAT_SECONDS = 10
#: A stale trial is retried at most this many times (then it stays failed).
MAX_RETRY = 3
#: Trials that complete before the median pruner starts pruning.
STARTUP_TRIALS = 5
#: Study settings kept in the storage: a second worker or a re-run must use the same ones.
SETTINGS = ("algorithm", "industry", "timesteps", "seed", "eval_every", "eval_episodes", "holdout_episodes")


class TuneError(Exception):
    """A problem the user can fix (bad study name, unreachable storage, ...): one clear message."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class TuneOptions:
    """A study and how one worker takes part in it."""

    algorithm: str = "ppo"
    industry: str = "mixed"
    trials: int = 20
    study: str | None = None
    storage: str | None = None
    saves: Path = field(default_factory=runs.saves_dir)
    seed: int = 0
    timeout: float | None = None
    #: steps per trial (None: the algorithm's default from hyperparams.toml)
    timesteps: int | None = None
    eval_every: int = trainer.EVAL_EVERY
    eval_episodes: int = trainer.EVAL_EPISODES
    holdout_episodes: int = HOLDOUT_EPISODES
    reference_episodes: int = trainer.REFERENCE_EPISODES
    heartbeat: int = HEARTBEAT_SECONDS
    startup_trials: int = STARTUP_TRIALS
    #: this worker's index among the command's --jobs (seeds the sampler apart)
    worker: int = 0
    search_space: Path | None = None


# -- storage ---------------------------------------------------------------------------------


def embedded_url(saves: Path) -> str:
    """The default storage: an SQLite file in the saves folder."""
    return f"sqlite:///{(saves / STUDIES_DIR / EMBEDDED_DB).resolve()}"


def shown_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages and meta.json)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _quiet_optuna() -> None:
    import optuna

    # the worker prints each trial's outcome itself; Optuna's own warnings repeat it with a traceback
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def open_storage(url: str | None, saves: Path, heartbeat: int = HEARTBEAT_SECONDS) -> Any:
    """Optuna's RDB storage at ``url`` (default: the embedded SQLite file), heartbeats on.

    Raises:
        TuneError: exit status 2 when the URL cannot be used or its server cannot be reached.
    """
    _quiet_optuna()
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    url = url or embedded_url(saves)
    given = url  # messages name the URL as the user wrote it
    engine: dict[str, Any] = {}
    scheme = url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                _use_wal(Path(path))
            except (OSError, sqlite3.Error) as exc:
                raise TuneError(f"cannot open the study storage {path}: {exc}", 2) from None
        # writers wait for each other instead of failing with "database is locked"
        engine = {"connect_args": {"timeout": 60}}
    elif scheme.startswith("postgresql"):
        engine = {"connect_args": {"connect_timeout": 10}}
        if scheme == "postgresql":  # the driver we install (psycopg 3), whatever SQLAlchemy's default
            url = "postgresql+psycopg" + url[len("postgresql") :]
    try:
        return RDBStorage(
            url,
            engine_kwargs=engine,
            heartbeat_interval=heartbeat,
            grace_period=3 * heartbeat,
            heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY),
        )
    except ModuleNotFoundError as exc:
        extra = ' (pip install "cs-tui[postgres]")' if "psycopg" in str(exc) else ""
        raise TuneError(f"cannot open the study storage {shown_url(given)}: {exc}{extra}", 2) from None
    except Exception as exc:  # sqlalchemy's errors for a bad URL, a refused connection, a wrong password
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "DB access module" in first and scheme.startswith("postgresql"):
            first += ' (PostgreSQL needs psycopg: pip install "cs-tui[postgres]")'

        raise TuneError(f"cannot reach the study storage {shown_url(given)}: {first}", 2) from None


def _use_wal(path: Path) -> None:
    # WAL lets readers (the app) and the writing workers go on at once; it is a property of the file
    connection = sqlite3.connect(path, timeout=60)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
    finally:
        connection.close()


class StudyLock:
    """Serialises "is there room for another trial? then start it" among this host's workers of one
    embedded study, so ``--trials N`` gives exactly N. A server storage has no such lock: workers on
    several hosts may start one trial more than N at the very end. ``release`` may be called twice."""

    def __init__(self, options: TuneOptions, name: str) -> None:
        self._handle: Any = None
        if options.storage is None:
            path = options.saves / STUDIES_DIR / f".{name}.lock"
            path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(path, "a")  # noqa: SIM115 (held across calls, closed in release)
            fcntl.flock(self._handle, fcntl.LOCK_EX)

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def workers_path(saves: Path, name: str) -> Path:
    """The file every worker of study ``name`` on this host holds a shared lock on (see :class:`WorkerMark`)."""
    return saves / STUDIES_DIR / f".{name}.workers"


class WorkerMark:
    """A shared ``flock`` on :func:`workers_path`, held for the life of a worker (and of a ``--jobs``
    supervisor). The kernel lists its holders (``/proc/locks``): those, and only those, are the processes
    the app stops for the study; the kernel drops the lock however a worker dies."""

    def __init__(self, saves: Path, name: str) -> None:
        path = workers_path(saves, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        # never through a planted symlink: the mark is ours to create, in our own folder
        self._fd: int | None = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_SH)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def study_workers(saves: Path, name: str) -> list[int]:
    """The pids holding study ``name``'s :class:`WorkerMark` on this host (none: no worker runs here)."""
    return sorted(set(runs.flock_holders(workers_path(saves, name), "READ")))


# -- the study -------------------------------------------------------------------------------


def default_study_name(algorithm: str, industry: str) -> str:
    return f"{algorithm}-{industry}"


def check_options(options: TuneOptions) -> str:
    """The study's name, after checking what can be checked without a storage (usage errors: exit 2)."""
    from cs_env.env import check_industry

    try:
        check_algorithm(options.algorithm)
    except ValueError as exc:
        raise TuneError(str(exc), 2) from None
    try:
        check_industry(options.industry)
    except ValueError as exc:
        raise TuneError(str(exc), 2) from None
    name = options.study or default_study_name(options.algorithm, options.industry)
    try:
        check_study_name(name)
    except ValueError as exc:
        raise TuneError(str(exc), 2) from None
    if not 0 <= options.seed < MAX_SEED:
        raise TuneError(
            f"--seed must lie in 0-{MAX_SEED - 1:,} (trials train on seeds from it on; the held-out "
            f"conversations start at {HOLDOUT_SEED:,}), got {options.seed}",
            2,
        )
    if isinstance(options.trials, bool) or not isinstance(options.trials, int) or options.trials < 1:
        raise TuneError(f"--trials must be a positive integer, got {options.trials!r}", 2)
    # every count within its ceiling before any trial or folder: a study of trials that cannot run is refused
    bounds = [("--eval-every", options.eval_every, 1, MAX_EVAL_EVERY),
               ("--heartbeat", options.heartbeat, 1, MAX_HEARTBEAT),
               ("--eval-episodes", options.eval_episodes, 2, MAX_EPISODES),
               ("--holdout-episodes", options.holdout_episodes, 2, MAX_EPISODES),
               ("--reference-episodes", options.reference_episodes, 2, MAX_EPISODES),
               ("--startup-trials", options.startup_trials, 0, MAX_STARTUP_TRIALS)]  # fmt: skip
    try:
        for flag, value, lowest, highest in bounds:
            check_count(flag, value, lowest, highest)
    except ValueError as exc:
        raise TuneError(str(exc), 2) from None
    timeout = options.timeout
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float)
                                or not 0 < timeout <= MAX_TIMEOUT):  # fmt: skip
        raise TuneError(f"--timeout must be a number of seconds from 1 to {MAX_TIMEOUT:,}, got {timeout!r:.80}", 2)
    return name


def settings_of(options: TuneOptions) -> dict[str, Any]:
    """What every worker of the study must agree on (kept in the study's user attributes)."""
    timesteps = options.timesteps
    if timesteps is None:
        timesteps = trainer.load_defaults()[options.algorithm].timesteps
    return {
        "algorithm": options.algorithm,
        "industry": options.industry,
        "timesteps": int(timesteps),
        "seed": options.seed,
        "eval_every": options.eval_every,
        "eval_episodes": options.eval_episodes,
        "holdout_episodes": options.holdout_episodes,
    }


def open_study(options: TuneOptions, storage: Any, name: str) -> optuna.Study:
    """Create the study or join it; a study made with other settings is refused (exit status 2)."""
    import optuna

    sampler = optuna.samplers.TPESampler(seed=options.seed * 1000 + options.worker + os.getpid(), constant_liar=True)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=options.startup_trials)
    try:
        study = optuna.create_study(
            study_name=name, storage=storage, direction="maximize", sampler=sampler, pruner=pruner, load_if_exists=True
        )
    except Exception as exc:
        raise TuneError(f"cannot open study {name!r}: {exc}", 2) from None
    wanted = settings_of(options)
    have = study.user_attrs.get("settings")
    if have is None:
        study.set_user_attr("settings", wanted)
        study.set_user_attr("created_at", runs.now_iso())
        # the space it draws from (None: the shipped one), so that continuing it (u in the app) draws alike
        space = options.search_space
        study.set_user_attr("search_space", None if space is None else str(Path(space).absolute()))
    elif have != wanted:
        differ = [f"{k} {have.get(k)!r} (not {wanted[k]!r})" for k in SETTINGS if have.get(k) != wanted[k]]
        raise TuneError(
            f"study {name!r} was started with other settings: {', '.join(differ)}; give the same ones to "
            "continue it, or another --study",
            2,
        )
    study.set_user_attr("trials_wanted", max(int(study.user_attrs.get("trials_wanted", 0)), options.trials))
    return study


def counts(study: optuna.Study) -> dict[str, int]:
    """Trials by state name (``complete``, ``pruned``, ``running``, ``waiting``, ``fail``)."""
    found = {"complete": 0, "pruned": 0, "running": 0, "waiting": 0, "fail": 0}
    for trial in study.get_trials(deepcopy=False):
        key = trial.state.name.lower()
        found[key] = found.get(key, 0) + 1
    return found


def trial_run_name(study: str, number: int) -> str:
    return f"{study}-t{number:04d}"


# -- one worker ------------------------------------------------------------------------------


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
        raise TuneError(str(exc), 2) from None
    storage = open_storage(options.storage, options.saves, options.heartbeat)
    study = open_study(options, storage, name)
    settings = study.user_attrs["settings"]
    stop = stop or StopFlag()  # the caller's (a kept one from `cs-tui tune`), or our own
    stop.install()
    try:
        mark = WorkerMark(options.saves, name)  # after install: a stop signal from the app is caught
    except OSError as exc:
        stop.restore()
        raise TuneError(f"cannot mark this worker in {workers_path(options.saves, name)}: {exc}", 2) from None
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

        train_options = trainer.TrainOptions(
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
        except trainer.TrainingError as exc:
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


# -- reading studies (the CLI's --best and table, the app) -----------------------------------


def list_studies(storage: Any) -> list[str]:
    import optuna

    return sorted(s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False))


def load(storage: Any, name: str) -> optuna.Study:
    """An existing study; :class:`TuneError` (exit 2) listing the studies there when it is not."""
    import optuna

    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        names = list_studies(storage)
        raise TuneError(f"no study {name!r} in this storage; studies: {', '.join(names) or 'none yet'}", 2) from None


def trial_rows(study: optuna.Study, space: list[Parameter] | None = None) -> list[dict[str, Any]]:
    """One plain row per trial: number, state, value, params (decoded), run folder, best-so-far."""
    rows = []
    best: float | None = None
    by_key = {p.key: p for p in space or []}
    for trial in study.get_trials(deepcopy=False):
        value = trial.value if trial.state.name == "COMPLETE" else None
        if value is not None:
            best = value if best is None else max(best, value)
        params = {k: (by_key[k].decode(v) if k in by_key else v) for k, v in trial.params.items()}
        intermediate = trial.intermediate_values
        rows.append(
            {
                "number": trial.number,
                "state": trial.state.name.lower(),
                "value": value,
                "last_eval": intermediate[max(intermediate)] if intermediate else None,
                "best_so_far": best,
                "params": params,
                "run": trial.user_attrs.get("run"),
                "retry_of": _retry_of(trial),
                "error": trial.user_attrs.get("error"),
                "interrupted": trial.user_attrs.get("interrupted"),  # why it stopped: a signal, not a fault
                "started": trial.datetime_start.isoformat(timespec="seconds") if trial.datetime_start else None,
                "finished": trial.datetime_complete.isoformat(timespec="seconds") if trial.datetime_complete else None,
            }
        )
    return rows


def _retry_of(trial: Any) -> int | None:
    from optuna.storages import RetryHeartbeatStaleTrialCallback

    if "retry_of" in trial.user_attrs:
        return int(trial.user_attrs["retry_of"])
    return RetryHeartbeatStaleTrialCallback.retried_trial_number(trial)


def best_trial(study: optuna.Study) -> Any | None:
    """The complete trial with the highest value, or None before any completed."""
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE" and t.value is not None]
    return max(complete, key=lambda t: (t.value, -t.number)) if complete else None


def best_hyperparams(study: optuna.Study, space: list[Parameter]) -> tuple[str, int | None, dict[str, Any]]:
    """The best trial's algorithm, n_envs and hyperparameters (``{"model":…, "policy":…}``), the
    defaults filled in: a whole set for ``cs-tui train --hyperparams``."""
    trial = best_trial(study)
    if trial is None:
        raise TuneError(f"study {study.study_name!r} has no complete trial yet", 1)
    settings = study.user_attrs.get("settings", {})
    algorithm = str(settings.get("algorithm", "ppo"))
    defaults = trainer.load_defaults()[algorithm]
    overrides, n_envs = apply(dict(trial.params), space)
    hyperparameters = defaults.hyperparameters()
    for part, values in overrides.items():
        hyperparameters.setdefault(part, {}).update(values)
    return algorithm, n_envs if n_envs is not None else defaults.n_envs, hyperparameters
