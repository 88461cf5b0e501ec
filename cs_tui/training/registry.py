"""What can be trained and what a run may be called: one torch-free place that the trainer, the model
loader, the CLI, the tuner and the app's forms all read.

Kept free of torch, stable-baselines3 and optuna so that ``cs-tui --help`` and the app's forms stay light.
"""

from __future__ import annotations

import re

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


def check_algorithm(algorithm: object) -> str:
    """``algorithm`` as a known name; ``ValueError`` naming the valid ones."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; valid: {', '.join(ALGORITHMS)}")
    return str(algorithm)


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
