"""What can be trained and what a run may be called: one torch-free place that the trainer, the model
loader, the CLI, the tuner and the app's forms all read.

The ceilings of the counts a person types live here too (``MAX_*``, :func:`check_count`).
Kept free of torch, stable-baselines3 and optuna so that ``cs-tui --help`` and the app's forms stay light.
"""

from __future__ import annotations

import re

from cs_env.evaluate import MAX_EPISODES  # noqa: F401  (re-exported: one ceiling of episodes everywhere)
from cs_env.files import is_int

#: The learning algorithms cs-tui trains, saves and loads: stable-baselines3's PPO, A2C and DQN, and
#: sb3-contrib's RecurrentPPO (an LSTM policy that remembers the conversation).
ALGORITHMS = ("ppo", "a2c", "dqn", "recurrent_ppo")
#: The ones that learn from rollouts of ``n_steps`` per env (trained in whole rollouts).
ON_POLICY = ("ppo", "a2c", "recurrent_ppo")
#: The ones with an action distribution behaviour cloning can fit from single observations (DQN's
#: Q-values are not one; an LSTM's depends on the turns before).
IMITABLE = ("ppo", "a2c")

#: A run folder's name (also a study's trial folders): whole names only, so use ``fullmatch``
#: (a ``$`` would let ``"x\n"`` through).
RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
RUN_NAME_RULE = "letters, digits, '.', '_' and '-' (not first), at most 100 characters"
#: A study's name: shorter than a run's, since its trials' folders are named after it.
STUDY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")
STUDY_NAME_RULE = "letters, digits, '.', '_' and '-' (not first), at most 80 characters"

#: A run's total environment steps (``--timesteps``, the forms' timesteps): at least one (SB3 rounds it up
#: to a whole rollout), at most a billion, days of training at this env's few thousand steps a second: a
#: larger figure is a slip of the keyboard, and the monitor shows any allowed total in full at 80 columns.
MIN_TIMESTEPS = 1
MAX_TIMESTEPS = 1_000_000_000
TIMESTEPS_CEILING_WHY = "days of training at this env's few thousand steps a second"
#: Observations a policy sees side by side (``--frame-stack``, the new-run form, a model file's
#: ``frame_stack``): a few turns of history; more only widens the network's input.
MAX_FRAME_STACK = 16
FRAME_STACK_RULE = f"a whole number from 1 to {MAX_FRAME_STACK}"
#: A study's complete or pruned trials (``tune --trials``, the new-study form): each one trains a run folder.
MAX_TRIALS = 1_000
TRIALS_CEILING_WHY = "each trial trains a run folder of its own"


def check_algorithm(algorithm: object) -> str:
    """``algorithm`` as a known name; ``ValueError`` naming the valid ones."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; valid: {', '.join(ALGORITHMS)}")
    return str(algorithm)


def check_timesteps(value: object, flag: str = "--timesteps") -> int:
    """A run's total steps, within :data:`MIN_TIMESTEPS` and :data:`MAX_TIMESTEPS`."""
    return check_count(flag, value, MIN_TIMESTEPS, MAX_TIMESTEPS, TIMESTEPS_CEILING_WHY)


def frame_stack_problem(value: object, algorithm: str) -> str | None:
    """Why ``value`` cannot be ``algorithm``'s frame stack, as words that follow the field's name (None when
    it can): the CLI, the form, the trainer and the model-file check each name the field their way."""
    if not is_int(value) or not 1 <= value <= MAX_FRAME_STACK:
        return f"must be {FRAME_STACK_RULE}, got {value!r:.80}"
    if value > 1 and algorithm == "recurrent_ppo":
        return "must be 1 for recurrent_ppo (its LSTM remembers the conversation)"
    return None


def imitation_problem(algorithm: str) -> str | None:
    """Why a run of ``algorithm`` cannot be warm-started (None when it can), as words that follow the field's
    name: the CLI's ``--warm-start`` and the new-run form read the same rule. Any frame stack can: the
    demonstrations are stacked as the training env stacks them (``cs_tui.training.warm_start``)."""
    if algorithm not in IMITABLE:
        return f"needs an algorithm with a policy to imitate ({', '.join(IMITABLE)}), not {algorithm}"
    return None


def check_run_name(name: str) -> str:
    """``name`` if it is a valid run folder name; ``ValueError`` saying the rule."""
    if not RUN_NAME.fullmatch(name):
        raise ValueError(f"invalid run name {name!r}: use {RUN_NAME_RULE}")
    return name


def check_study_name(name: str) -> str:
    """``name`` if it is a valid study name; ``ValueError`` saying the rule."""
    if not STUDY_NAME.fullmatch(name):
        raise ValueError(f"invalid study name {name!r}: use {STUDY_NAME_RULE}")
    return name


# -- ceilings of the counts a person types (`cs-tui train`, `cs-tui tune`, the app's forms) ---------
# Each is named in the error that refuses a larger value, before any run folder or trial exists.

#: Parallel conversations of one run (``--n-envs``; also the search space's bound).
MAX_N_ENVS = 1024
# MAX_EPISODES (imported above): conversations of one evaluation, of the random and oracle references,
# of a trial's held-out score: ``cs-tui evaluate``'s own ceiling, for this reason:
MAX_EPISODES_WHY = "the oracle's reference keeps every conversation in memory"
#: Steps between two evaluations (``--eval-every``): more than any run trains.
MAX_EVAL_EVERY = 1_000_000_000
#: Checkpoints a run keeps (``--keep-checkpoints``): each is a whole model file.
MAX_KEEP_CHECKPOINTS = 1000
#: Passes of a warm start's behaviour cloning over its demonstrations (``--warm-start-epochs``).
MAX_WARM_START_EPOCHS = 1000
MAX_WARM_START_EPOCHS_WHY = "each pass goes over every demonstrated turn; 100 fit 4,000 conversations"
#: The default: 20 underfitted the belief planner's 4,000 conversations (the clone chose the planner's
#: strategy on 69.7 % of their turns, 78.1 % at 100), and the run it started fell short of the catalog
#: (benchmarks/default_training_log.md).
WARM_START_EPOCHS = 100
#: Worker processes of one ``cs-tui tune`` (``--jobs``): each trains a run of its own.
MAX_JOBS = 64
#: Seconds between a tune worker's heartbeats (``--heartbeat``); a trial silent for 3x this is retried.
MAX_HEARTBEAT = 3600
#: Trials completed before the pruner starts (``--startup-trials``).
MAX_STARTUP_TRIALS = 10_000
#: Seconds after which ``cs-tui tune`` starts no trial (``--timeout``): 30 days.
MAX_TIMEOUT = 30 * 24 * 3600
#: A study whose trials fail this many times in a row (in one worker) stops with the last reason.
MAX_FAILED_IN_A_ROW = 3
#: Characters of a ``--resume`` or ``--warm-start`` value: the longest path Linux opens (PATH_MAX).
MAX_PATH_CHARS = 4096


def check_count(flag: str, value: object, minimum: int, maximum: int, why: str = "") -> int:
    """``value`` if it is a whole number in ``[minimum, maximum]``; ``ValueError`` naming ``flag``, the range
    and what the ceiling protects (``why``) otherwise: the rule for every count the trainer, the tuner and the
    forms take."""
    shown = f"{value:,}" if is_int(value) else repr(value)
    if not is_int(value) or value < minimum:
        raise ValueError(f"{flag} must be a whole number from {minimum:,} to {maximum:,}, got {shown:.80}")
    if value > maximum:
        because = f" ({why})" if why else ""
        raise ValueError(f"{flag} must be at most {maximum:,}{because}, got {shown:.80}")
    return value


def check_path_text(flag: str, text: str) -> str:
    """``text`` if it can name a run, a folder or a file: not empty, at most :data:`MAX_PATH_CHARS`
    characters, no NUL; ``ValueError`` naming ``flag`` and the limit otherwise."""
    if not text:
        raise ValueError(f"{flag} needs a value, got an empty one")
    if len(text) > MAX_PATH_CHARS:
        raise ValueError(f"{flag} is {len(text):,} characters long; a path has at most {MAX_PATH_CHARS:,}")
    if "\0" in text:
        raise ValueError(f"{flag} holds a NUL character, which no path can")
    return text
