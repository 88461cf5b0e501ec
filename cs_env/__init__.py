"""cs_env: a customer-support conversation simulator behind the Gymnasium API.

Importing the package registers ``cs_env/CustomerSupport-v0``::

    import gymnasium as gym
    import cs_env  # noqa: F401  (or: gym.make("cs_env:cs_env/CustomerSupport-v0"))

    env = gym.make("cs_env/CustomerSupport-v0", industry="bfsi")

Pure by design: the standard library, numpy and gymnasium only.
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

from cs_env.domain import Outcome, ResponseStrategy, Sentiment, Tier
from cs_env.env import CustomerSupportEnv, valid_industries
from cs_env.industries import IndustryDataError

ENV_ID = "cs_env/CustomerSupport-v0"
DEFAULT_MAX_TURNS = 10

if ENV_ID not in registry:
    register(
        id=ENV_ID,
        entry_point="cs_env.env:CustomerSupportEnv",
        vector_entry_point="cs_env.vector:CustomerSupportVectorEnv",
        # A different max_turns needs the same max_episode_steps passed to gymnasium.make.
        max_episode_steps=DEFAULT_MAX_TURNS,
    )

__all__ = [
    "ENV_ID",
    "CustomerSupportEnv",
    "IndustryDataError",
    "Outcome",
    "ResponseStrategy",
    "Sentiment",
    "Tier",
    "valid_industries",
]
