"""Warm starts: behaviour cloning from demonstrations before reinforcement learning.

``cs-tui train --warm-start SOURCE`` fits the new model's policy to a set of demonstrations by
cross-entropy before PPO or A2C takes over, so that rare right actions (escalating a specialist's case)
are in the policy from the start instead of having to be found by chance. ``SOURCE`` is

* ``baseline:NAME`` (``oracle``, ``heuristic``, any baseline but random): ``WARM_START_EPISODES``
  conversations played by the baseline on the run's industry;
* ``playbook:FILE``: ``WARM_START_EPISODES`` conversations played by the playbook file's rules
  (:mod:`cs_env.playbook`), so a team's written playbook is where the agent starts;
* a folder of recorded conversations, such as the play pane's ``saves/episodes/``: each recording's
  human turns, replayed through the env from its seed and env arguments to recover what the player saw
  (a recording holds no observations, only the customer and the actions). A person's 20 conversations
  are enough to start from: a small set is fitted for at least ``WARM_START_MIN_UPDATES`` updates.

A run with ``--frame-stack K`` clones the same turns, each shown as the training env shows it: the last K
observations of its conversation side by side, oldest first, zeros before the first turn (SB3's
``VecFrameStack``, :func:`stack_conversation`), so the clone can learn what a source's later turns owe to
the earlier ones. The run's ``meta.json`` records the source and how well the policy imitates it, overall
and at each turn of the conversations.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cs_tui.training.memory import TURN
from cs_tui.training.registry import WARM_START_EPOCHS, imitation_problem

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm

PLAYBOOK_PREFIX = "playbook:"
WARM_START_EPISODES = 4000
WARM_START_BATCH = 256
WARM_START_LR = 1e-3
#: the fewest gradient updates a warm start makes: 100 epochs of 20 conversations are 100 updates
WARM_START_MIN_UPDATES = 500
#: a demonstration seed apart from the evaluations' (0) and the held-out figures' (1)
WARM_START_SEED = 7


def _baseline_sources() -> list[str]:
    from cs_env.policies import baselines

    return [f"baseline:{name}" for name in baselines() if name != "random"]


def check_source(source: str, algorithm: str) -> str | None:
    """Why ``source`` cannot warm-start ``algorithm`` (None when it can)."""
    problem = imitation_problem(algorithm)
    if problem:
        return f"--warm-start {problem}"
    valid = _baseline_sources()
    if source in valid:
        return None
    choices = (
        f"valid sources: {', '.join(valid)}, playbook:FILE.toml, or a folder of recorded conversations "
        "(the play pane's saves/episodes)"
    )
    if source.startswith(PLAYBOOK_PREFIX):
        from cs_env.playbook import PlaybookError, load

        try:
            load(source.removeprefix(PLAYBOOK_PREFIX))
        except PlaybookError as error:
            return f"--warm-start {source}: {error}"
        return None
    if source.startswith("baseline:"):
        return f"unknown --warm-start source {source!r}; {choices}"
    if not Path(source).exists():
        return f"--warm-start {source}: no such folder; {choices}"
    try:
        recorded_demonstrations(Path(source))
    except ValueError as error:
        return f"--warm-start {source}: {error}"
    return None


def warm_start_source(source: str) -> str:
    """How ``meta.json`` names ``source``: a baseline as given, a folder by its absolute path."""
    if source.startswith(PLAYBOOK_PREFIX):
        return PLAYBOOK_PREFIX + str(Path(source.removeprefix(PLAYBOOK_PREFIX)).resolve())
    return source if source.startswith("baseline:") else str(Path(source).resolve())


def stack_conversation(observations: np.ndarray, k: int) -> np.ndarray:
    """Conversations' observations ``(..., turns, n)`` as a policy reading ``k`` of them sees each turn: the
    last ``k`` side by side, oldest first, zeros before the first turn (what SB3's ``VecFrameStack`` feeds the
    policy in training, and :func:`cs_tui.training.memory.frame_stack_memory` when it acts), ``(..., turns, k * n)``."""
    *lead, turns, size = observations.shape
    padded = np.concatenate(
        [np.zeros((*lead, k - 1, size), dtype=np.float32), observations.astype(np.float32)], axis=-2
    )
    windows = np.lib.stride_tricks.sliding_window_view(padded, k, axis=-2)  # (..., turns, n, k)
    return np.swapaxes(windows, -1, -2).reshape(*lead, turns, k * size)


def recorded_demonstrations(folder: Path, frame_stack: int = 1) -> tuple[np.ndarray, np.ndarray, int]:
    """``(observations, actions, recordings)`` of the human turns recorded in ``folder``'s ``*.json`` files,
    each observation with the ``frame_stack - 1`` before it in its conversation (:func:`stack_conversation`).

    ``ValueError`` naming the problem (not a folder, no recordings, a recording that cannot be replayed).
    """
    from cs_env.env import CustomerSupportEnv
    from cs_tui.play_session import RecordError, read_recording

    if not folder.is_dir():
        raise ValueError("not a folder of recorded conversations")
    paths = sorted(folder.glob("*.json"))
    observations: list[np.ndarray] = []
    actions: list[int] = []
    for path in paths:
        recording = read_recording(path)  # RecordError is a ValueError naming the file
        try:
            env = CustomerSupportEnv(industry=recording.industry, max_turns=recording.max_turns)
            obs, _ = env.reset(seed=recording.seed, options=recording.options)
        except (ValueError, TypeError) as error:
            raise RecordError(f"{path.name}: cannot replay this recording ({error})") from error
        _, human = recording.parts[0]
        seen: list[np.ndarray] = []
        for action in human:
            seen.append(np.asarray(obs, dtype=np.float32))
            actions.append(action)
            obs, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                break
        if seen:
            observations.append(stack_conversation(np.stack(seen), frame_stack))
    if not actions:
        raise ValueError(f"no recorded conversations with a turn in it ({folder}/*.json)")
    return np.concatenate(observations), np.asarray(actions, dtype=np.int64), len(paths)


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


def demonstrations(
    source: str, industry: str, max_turns: int, episodes: int, frame_stack: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """``(observations, actions)`` of ``episodes`` conversations played by the baseline or playbook ``source``,
    in the order played (turn by turn), each observation with the ``frame_stack - 1`` before it in its
    conversation (:func:`stack_conversation`)."""
    from cs_env.evaluate import rollout
    from cs_env.playbook import load
    from cs_env.policies import baselines

    if source.startswith(PLAYBOOK_PREFIX):
        policy = load(source.removeprefix(PLAYBOOK_PREFIX), max_turns=max_turns)
    else:
        policy = baselines(industry, max_turns, WARM_START_SEED)[source.removeprefix("baseline:")]
    recorder = _Recorder(policy)
    played = rollout(recorder, industry=industry, episodes=episodes, seed=WARM_START_SEED, max_turns=max_turns)
    actions = np.concatenate(recorder.actions)
    if frame_stack == 1:
        return np.concatenate(recorder.observations), actions
    # every conversation still going is at the same turn, in episode order: turn t's rows are the episodes
    # that played more than t turns
    lengths = np.asarray(played.episode_strategy_counts).sum(axis=1)
    size = recorder.observations[0].shape[1]
    grid = np.zeros((episodes, len(recorder.observations), size), dtype=np.float32)
    for turn, rows in enumerate(recorder.observations):
        grid[np.flatnonzero(lengths > turn), turn] = rows
    stacked = stack_conversation(grid, frame_stack)
    return np.concatenate([stacked[lengths > turn, turn] for turn in range(len(recorder.observations))]), actions


def behaviour_clone(
    model: BaseAlgorithm,
    source: str,
    *,
    industry: str,
    max_turns: int,
    seed: int,
    frame_stack: int = 1,
    episodes: int = WARM_START_EPISODES,
    epochs: int = WARM_START_EPOCHS,
) -> dict[str, Any]:
    """Fit ``model``'s policy (reading ``frame_stack`` observations) to ``source``'s strategies; returns what
    ``meta.json`` records."""
    import torch

    about: dict[str, Any]
    if source in _baseline_sources() or source.startswith(PLAYBOOK_PREFIX):
        observations, actions = demonstrations(source, industry, max_turns, episodes, frame_stack)
        about = {"source": warm_start_source(source), "episodes": episodes}
    else:
        observations, actions, recordings = recorded_demonstrations(Path(source), frame_stack)
        about = {"source": warm_start_source(source), "recordings": recordings}
    policy: Any = model.policy
    optimizer = torch.optim.Adam(policy.parameters(), lr=WARM_START_LR)
    obs_t = torch.as_tensor(observations)
    act_t = torch.as_tensor(actions)
    batches = math.ceil(len(obs_t) / WARM_START_BATCH)
    epochs = max(epochs, math.ceil(WARM_START_MIN_UPDATES / batches))
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
    agreed = (chosen == act_t).numpy()
    latest = (frame_stack - 1) * (observations.shape[1] // frame_stack)  # where the newest frame starts
    turns = observations[:, latest + TURN].astype(np.int64)
    return {
        **about,
        "steps": len(actions),
        "epochs": epochs,
        "agreement": float(agreed.mean()),
        #: at each turn of the conversations (0 first): what the later turns owe to memory shows here
        "agreement_by_turn": [float(agreed[turns == turn].mean()) for turn in range(int(turns.max()) + 1)],
    }
