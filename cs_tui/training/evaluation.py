"""Evaluating a model during training: the random and oracle references (cached under ``saves/.cache``) and
the evaluation of the model as it is, on the same customers every time. torch is imported inside functions."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cs_tui.files import FileFormatError, atomic_write_json, read_json
from cs_tui.training.run_record import EvalRecord

if TYPE_CHECKING:
    from stable_baselines3.common.base_class import BaseAlgorithm


def reference_for(industry: str, max_turns: int, episodes: int, seed: int, saves: Path | None) -> dict[str, Any]:
    """Random's and the oracle's mean returns (0 % and 100 % of oracle), cached per industry data and oracle."""
    from cs_env.evaluate import reference_returns
    from cs_env.industries import default_catalog
    from cs_env.policies import ORACLE_ID

    digest = default_catalog().digest
    cache = None
    if saves is not None:
        name = f"reference-{industry}-{max_turns}-{episodes}-{seed}-{digest[:16]}-{ORACLE_ID}.json"
        cache = saves / ".cache" / name
        try:
            cached = read_json(cache)
            if {"random_return", "oracle_return"} <= set(cached):
                return cached
        except FileFormatError:  # none yet, or unreadable: computed afresh
            pass
    random_return, oracle_return = reference_returns(industry, episodes, seed, max_turns)
    reference = {"random_return": random_return, "oracle_return": oracle_return, "episodes": episodes, "seed": seed}
    if cache is not None:
        with contextlib.suppress(OSError):  # a cache only
            atomic_write_json(cache, reference)
    return reference


#: The evaluation figures also logged to TensorBoard (``--tensorboard``).
EVAL_SCALARS = (
    "mean_return",
    "pct_of_oracle",
    "satisfaction",
    "resolution_rate",
    "escalation_rate",
    "abandonment_rate",
    "mean_turns",
)


def evaluate_model(
    model: BaseAlgorithm, *, industry: str, max_turns: int, episodes: int, seed: int, reference: dict[str, Any]
) -> EvalRecord:
    """The deterministic policy's business metrics and % of oracle on ``episodes`` fixed conversations:
    ``cs_env.evaluate``'s own figures (the names ``cs-tui evaluate`` prints), % of oracle against the run's
    reference, and when."""
    import numpy as np

    from cs_env.evaluate import metrics, normalized_score, rollout

    def policy(obs: np.ndarray) -> np.ndarray:
        action, _ = model.predict(obs, deterministic=True)
        return np.asarray(action)

    memory = sb3_memory(model)
    acting = policy if memory is None else _with_episodes(memory)
    m = metrics(rollout(acting, industry=industry, episodes=episodes, seed=seed, max_turns=max_turns))
    m.pct_of_oracle = 100 * normalized_score(m.mean_return, reference["random_return"], reference["oracle_return"])
    return EvalRecord(timesteps=int(model.num_timesteps), metrics=m.as_dict(), time=time.time())


def sb3_memory(model: BaseAlgorithm) -> Any:
    """A :class:`~cs_tui.training.memory.Memory` acting with ``model``'s greedy actions, for a model that
    remembers the conversation (an LSTM, stacked frames); None for one that does not."""
    import numpy as np

    from cs_env.env import OBS_SIZE
    from cs_tui.training.memory import frame_stack_memory, lstm_memory

    stack = int((model.observation_space.shape or (OBS_SIZE,))[-1]) // OBS_SIZE
    if stack > 1:
        return frame_stack_memory(lambda obs: model.predict(obs, deterministic=True)[0], OBS_SIZE, stack)
    lstm = getattr(model.policy, "lstm_actor", None)
    if lstm is None:
        return None

    def step(obs: np.ndarray, h: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        actions, after = model.predict(obs, state=(h, c), episode_start=np.zeros(len(obs)), deterministic=True)
        assert after is not None  # a recurrent policy hands its states back
        return actions, after[0], after[1]

    return lstm_memory(step, lstm.num_layers, lstm.hidden_size, OBS_SIZE)


def _with_episodes(memory: Any) -> Any:
    """``memory`` as a policy :func:`cs_env.evaluate.rollout` calls with ``episodes=``."""

    def policy(obs: Any, episodes: Any = None) -> Any:
        return memory(obs, episodes)

    policy.needs_episodes = True  # type: ignore[attr-defined]
    return policy
