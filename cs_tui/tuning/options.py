"""What a study is asked to do: :class:`TuneOptions`, their checks, the settings every worker of a study
shares, and the names of studies and their trials. Light: no Optuna."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cs_env.files import is_int
from cs_tui.training import runs
from cs_tui.training.options import EVAL_EPISODES, EVAL_EVERY, REFERENCE_EPISODES, load_defaults
from cs_tui.training.registry import (
    MAX_EPISODES,
    MAX_EVAL_EVERY,
    MAX_HEARTBEAT,
    MAX_STARTUP_TRIALS,
    MAX_TIMEOUT,
    check_algorithm,
    check_count,
    check_study_name,
)

if TYPE_CHECKING:
    pass


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
    """A study could not run or be read (no complete trial yet, a storage that fails): one clear message."""


class TuneInputError(TuneError):
    """What the caller asked for is wrong (a bad option, an unknown study, a storage that cannot be
    opened as given): the command line calls it a usage error."""


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
    eval_every: int = EVAL_EVERY
    eval_episodes: int = EVAL_EPISODES
    holdout_episodes: int = HOLDOUT_EPISODES
    reference_episodes: int = REFERENCE_EPISODES
    heartbeat: int = HEARTBEAT_SECONDS
    startup_trials: int = STARTUP_TRIALS
    #: this worker's index among the command's --jobs (seeds the sampler apart)
    worker: int = 0
    search_space: Path | None = None


def default_study_name(algorithm: str, industry: str) -> str:
    return f"{algorithm}-{industry}"


def check_options(options: TuneOptions) -> str:
    """The study's name, after checking what can be checked without a storage (usage errors: exit 2)."""
    from cs_env.env import check_industry

    try:
        check_algorithm(options.algorithm)
    except ValueError as exc:
        raise TuneInputError(str(exc)) from None
    try:
        check_industry(options.industry)
    except ValueError as exc:
        raise TuneInputError(str(exc)) from None
    name = options.study or default_study_name(options.algorithm, options.industry)
    try:
        check_study_name(name)
    except ValueError as exc:
        raise TuneInputError(str(exc)) from None
    if not 0 <= options.seed < MAX_SEED:
        raise TuneInputError(
            f"--seed must lie in 0-{MAX_SEED - 1:,} (trials train on seeds from it on; the held-out "
            f"conversations start at {HOLDOUT_SEED:,}), got {options.seed}",
        )
    if not is_int(options.trials) or options.trials < 1:
        raise TuneInputError(f"--trials must be a positive integer, got {options.trials!r}")
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
        raise TuneInputError(str(exc)) from None
    timeout = options.timeout
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float)
                                or not 0 < timeout <= MAX_TIMEOUT):  # fmt: skip
        raise TuneInputError(f"--timeout must be a number of seconds from 1 to {MAX_TIMEOUT:,}, got {timeout!r:.80}")
    return name


def settings_of(options: TuneOptions) -> dict[str, Any]:
    """What every worker of the study must agree on (kept in the study's user attributes)."""
    timesteps = options.timesteps
    if timesteps is None:
        timesteps = load_defaults()[options.algorithm].timesteps
    return {
        "algorithm": options.algorithm,
        "industry": options.industry,
        "timesteps": int(timesteps),
        "seed": options.seed,
        "eval_every": options.eval_every,
        "eval_episodes": options.eval_episodes,
        "holdout_episodes": options.holdout_episodes,
    }


def trial_run_name(study: str, number: int) -> str:
    return f"{study}-t{number:04d}"
