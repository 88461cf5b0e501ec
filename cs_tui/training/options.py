"""What a training run is asked to do: :class:`TrainOptions`, the defaults per algorithm from
``hyperparams.toml`` (which the app's forms read too), the checks of a request before any folder is made,
and the errors a trainer raises. Light: no torch, no stable-baselines3."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cs_env.files import toml_file
from cs_tui.training import runs
from cs_tui.training.registry import (
    ALGORITHMS,
    MAX_EPISODES,
    MAX_EVAL_EVERY,
    MAX_KEEP_CHECKPOINTS,
    MAX_N_ENVS,
    MAX_WARM_START_EPOCHS,
    ON_POLICY,
    WARM_START_EPOCHS,
    check_count,
    check_timesteps,
    frame_stack_problem,
)
from cs_tui.training.run_record import EvalRecord
from cs_tui.training.runs import Run

if TYPE_CHECKING:
    pass


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
    """Training could not start or go on (a folder that cannot be written, a model that cannot be read):
    shown as one clear message."""


class TrainingInputError(TrainingError):
    """What the caller asked for is wrong (a bad or taken name, a count past its ceiling, a run that cannot
    be resumed as asked): the command line calls it a usage error."""


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
    #: passes of the warm start's behaviour cloning over its demonstrations (``--warm-start-epochs``)
    warm_start_epochs: int = WARM_START_EPOCHS
    #: observations the policy sees side by side (``--frame-stack``; 1: the current one alone)
    frame_stack: int = 1
    #: meet rare cases more often early in training (``--curriculum``; cs_tui.training.curriculum)
    curriculum: bool = False


def check_tensorboard(directory: str | None) -> None:
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
    problem = frame_stack_problem(frame_stack, algorithm)
    return None if problem is None else f"--frame-stack {problem}"


def check_counts(options: TrainOptions, n_envs: object) -> None:
    """Every count of a new run within its ceiling (:mod:`cs_tui.training.registry`), before any folder exists:
    a usage error (exit status 2) naming the flag and both bounds."""
    for flag, value, lowest, highest in (
        ("--n-envs", n_envs, 1, MAX_N_ENVS),
        ("--eval-every", options.eval_every, 1, MAX_EVAL_EVERY),
        ("--eval-episodes", options.eval_episodes, 2, MAX_EPISODES),
        ("--reference-episodes", options.reference_episodes, 2, MAX_EPISODES),
        ("--keep-checkpoints", options.keep_checkpoints, 0, MAX_KEEP_CHECKPOINTS),
        ("--warm-start-epochs", options.warm_start_epochs, 1, MAX_WARM_START_EPOCHS),
    ):
        try:
            check_count(flag, value, lowest, highest)
        except ValueError as exc:
            raise TrainingInputError(str(exc)) from None


def check_total_timesteps(value: int | None) -> None:
    """``--timesteps`` within the registry's floor and ceiling (None: the default), else a usage error."""
    if value is not None:
        try:
            check_timesteps(value)
        except ValueError as exc:
            raise TrainingInputError(str(exc)) from None
