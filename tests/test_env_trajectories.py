"""Fixed seeds play fixed episodes: every number the envs hand out, bit for bit, against stored digests.

A change made for speed (or tidiness) must not move a trajectory: a model, a scenario's verdict or a
published table measured on ``CustomerSupport-v1`` would silently stop meaning what it says. Each case
plays seeded random actions and hashes the exact bytes of what a user gets back: observations, rewards
(and their Python type), terminated and truncated, every info key with its dtype and value, the
recorded turns and the reveal after each conversation. The digests were taken on commit 544fcfb; a
change of the dynamics is a new env version (and new digests), never an edit here alone.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from cs_env import ENV_ID
from cs_env.vector import CustomerSupportVectorEnv

#: (industry, max_turns, pinning every third reset, episodes, seed) -> sha256 of the whole run
SINGLE_ENV_DIGESTS = {
    ("mixed", None, False, 2000, 123): "1ebd66e63181243d60d20ae4d3c2b9bf19035ff52c100e1c2216fc9b364fed93",
    ("bfsi", 4, False, 500, 5): "93ebb27559a41252ca7e3d40304b77bf3220569eab99b77843bcb6e2e54f3e2f",
    ("tech", None, True, 500, 9): "e224d47cf6df1b5fbea5c6c388482e1df1c692a74f572dcb86aef0341efac4b9",
}
VECTOR_ENV_DIGEST = "14c37009b4a901e8b9cb21003bff8bcb6464d606c4d53229846f140c5d24892f"
PINS = {"tier": "vip", "sentiment": "angry", "complexity": 0.7}


def _feed_info(h: Any, info: dict[str, Any]) -> None:
    for key, value in info.items():
        h.update(key.encode())
        if isinstance(value, dict):  # a vector env's final_info
            _feed_info(h, value)
        else:
            h.update(str(type(value)).encode())
            h.update(np.asarray(value).dtype.str.encode())
            h.update(np.asarray(value).tobytes())


def single_env_digest(industry: str, max_turns: int | None, pinned: bool, episodes: int, seed: int) -> str:
    """The digest of ``episodes`` conversations of the registered env, seeded random actions."""
    env = gym.make(ENV_ID, industry=industry, **({} if max_turns is None else {"max_turns": max_turns}))
    h = hashlib.sha256()
    rng = np.random.default_rng(seed)
    for episode in range(episodes):
        options = PINS if pinned and episode % 3 == 0 else None
        obs, info = env.reset(seed=seed if episode == 0 else None, options=options)
        h.update(obs.dtype.str.encode() + obs.tobytes())
        _feed_info(h, info)
        done = False
        while not done:
            obs, reward, terminated, truncated, info = env.step(int(rng.integers(8)))
            h.update(struct.pack("<d??", reward, terminated, truncated) + str(type(reward)).encode())
            h.update(obs.dtype.str.encode() + obs.tobytes())
            _feed_info(h, info)
            done = terminated or truncated
        h.update(repr(env.unwrapped.history).encode())  # type: ignore[attr-defined]
        h.update(repr(env.unwrapped.hidden_traits()).encode())  # type: ignore[attr-defined]
    return h.hexdigest()


def vector_env_digest(num_envs: int = 64, steps: int = 200, seed: int = 3) -> str:
    """The digest of the batched env's ``steps`` steps (autoresets included), seeded random actions."""
    envs = CustomerSupportVectorEnv(num_envs)
    h = hashlib.sha256()
    rng = np.random.default_rng(seed)
    obs, info = envs.reset(seed=seed)
    h.update(np.ascontiguousarray(obs).tobytes())
    _feed_info(h, info)
    for _ in range(steps):
        obs, reward, terminated, truncated, info = envs.step(rng.integers(0, 8, num_envs))
        for array in (obs, reward, terminated, truncated):
            h.update(np.asarray(array).dtype.str.encode() + np.ascontiguousarray(array).tobytes())
        _feed_info(h, info)
    return h.hexdigest()


@pytest.mark.parametrize("case", list(SINGLE_ENV_DIGESTS), ids=lambda case: f"{case[0]}-{case[1]}-{case[2]}")
def test_the_single_env_plays_the_stored_episodes_bit_for_bit(case: tuple[Any, ...]) -> None:
    assert single_env_digest(*case) == SINGLE_ENV_DIGESTS[case]


def test_the_batched_env_plays_the_stored_steps_bit_for_bit() -> None:
    assert vector_env_digest() == VECTOR_ENV_DIGEST
