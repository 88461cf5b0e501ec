"""Warm starts: behaviour cloning from a baseline's conversations before reinforcement learning.

``cs-tui train --warm-start baseline:oracle`` (or ``baseline:heuristic``, any baseline but random) plays
``WARM_START_EPISODES`` conversations with the baseline on the run's industry, records every
observation and the strategy chosen, and fits the new model's policy to them by cross-entropy before
PPO or A2C takes over. Rare right actions (escalating a specialist's case) are then in the policy from
the start instead of having to be found by chance. The run's ``meta.json`` records the source and how
well the policy imitates it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from cs_tui.training.registry import IMITABLE

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm

WARM_START_EPISODES = 4000
WARM_START_EPOCHS = 20
WARM_START_BATCH = 256
WARM_START_LR = 1e-3
#: a demonstration seed apart from the evaluations' (0) and the held-out figures' (1)
WARM_START_SEED = 7


def check_source(source: str, algorithm: str) -> str | None:
    """Why ``source`` cannot warm-start ``algorithm`` (None when it can)."""
    from cs_env.policies import baselines

    if algorithm not in IMITABLE:
        return f"--warm-start needs an algorithm with a policy to imitate ({', '.join(IMITABLE)}), not {algorithm}"
    valid = [f"baseline:{name}" for name in baselines() if name != "random"]
    if source not in valid:
        return f"unknown --warm-start source {source!r}; valid sources: {', '.join(valid)}"
    return None


class _Recorder:
    """Wraps a baseline and keeps every observation it was shown and the strategy it chose."""

    def __init__(self, policy: Any) -> None:
        self.policy = policy
        self.needs_state = bool(getattr(policy, "needs_state", False))
        self.observations: list[np.ndarray] = []
        self.actions: list[np.ndarray] = []

    def __call__(self, obs: np.ndarray, state: Any = None) -> np.ndarray:
        action = np.asarray(self.policy(obs, state=state) if self.needs_state else self.policy(obs), dtype=np.int64)
        self.observations.append(np.asarray(obs, dtype=np.float32))
        self.actions.append(action)
        return action


def demonstrations(source: str, industry: str, max_turns: int, episodes: int) -> tuple[np.ndarray, np.ndarray]:
    """``(observations, actions)`` of ``episodes`` conversations played by the baseline ``source``."""
    from cs_env.evaluate import rollout
    from cs_env.policies import baselines

    name = source.removeprefix("baseline:")
    recorder = _Recorder(baselines(industry, max_turns, WARM_START_SEED)[name])
    rollout(recorder, industry=industry, episodes=episodes, seed=WARM_START_SEED, max_turns=max_turns)
    return np.concatenate(recorder.observations), np.concatenate(recorder.actions)


def behaviour_clone(
    model: BaseAlgorithm,
    source: str,
    *,
    industry: str,
    max_turns: int,
    seed: int,
    episodes: int = WARM_START_EPISODES,
    epochs: int = WARM_START_EPOCHS,
) -> dict[str, Any]:
    """Fit ``model``'s policy to ``source``'s strategies; returns what ``meta.json`` records."""
    import torch

    observations, actions = demonstrations(source, industry, max_turns, episodes)
    policy: Any = model.policy
    optimizer = torch.optim.Adam(policy.parameters(), lr=WARM_START_LR)
    obs_t = torch.as_tensor(observations)
    act_t = torch.as_tensor(actions)
    generator = torch.Generator().manual_seed(seed)
    policy.set_training_mode(True)
    for _ in range(epochs):
        order = torch.randperm(len(obs_t), generator=generator)
        for start in range(0, len(order), WARM_START_BATCH):
            batch = order[start : start + WARM_START_BATCH]
            loss = -policy.get_distribution(obs_t[batch]).log_prob(act_t[batch]).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    policy.set_training_mode(False)
    with torch.no_grad():
        chosen = policy.get_distribution(obs_t).distribution.probs.argmax(dim=1)
    return {
        "source": source,
        "episodes": episodes,
        "steps": len(actions),
        "epochs": epochs,
        "agreement": float((chosen == act_t).float().mean()),
    }
