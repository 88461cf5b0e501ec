"""The training env: stable-baselines3 ``VecEnv`` over the customer-support simulator.

``make_training_env`` is what the trainer calls. stable-baselines3 (and so torch) is imported inside
functions only: importing this module stays cheap for the app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stable_baselines3.common.vec_env import VecEnv

KINDS = ("auto", "batched", "dummy")


def make_training_env(industry: str, n_envs: int, seed: int, max_turns: int = 10, kind: str = "auto") -> VecEnv:
    """An SB3 ``VecEnv`` of ``n_envs`` conversations, seeded so env i starts from seed ``seed + i``.

    Args:
        industry: an industry of the catalog, or ``mixed``.
        n_envs: number of parallel conversations.
        seed: base seed (env i uses ``seed + i``, as SB3's ``VecEnv.seed`` does).
        max_turns: turns before a conversation times out.
        kind: ``dummy`` (SB3 ``DummyVecEnv`` of ``Monitor``-wrapped single envs), ``batched``, or ``auto``.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown vec env kind {kind!r}; valid: {', '.join(KINDS)}")
    if isinstance(n_envs, bool) or not isinstance(n_envs, int) or n_envs < 1:
        raise ValueError(f"n_envs must be a positive integer, got {n_envs!r}")
    return _make_dummy(industry, n_envs, seed, max_turns)


def _make_dummy(industry: str, n_envs: int, seed: int, max_turns: int) -> VecEnv:
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    from cs_env.env import CustomerSupportEnv, check_industry, check_max_turns

    check_industry(industry)
    check_max_turns(max_turns)

    def make_one(i: int) -> Monitor:
        env = CustomerSupportEnv(industry=industry, max_turns=max_turns)
        env.action_space.seed(seed + i)
        return Monitor(env)

    venv = DummyVecEnv([lambda i=i: make_one(i) for i in range(n_envs)])  # type: ignore[misc]
    venv.seed(seed)
    return venv
