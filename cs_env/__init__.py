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
from cs_env.env import DEFAULT_MAX_TURNS, CustomerSupportEnv, valid_industries
from cs_env.industries import IndustryDataError

ENV_ID = "cs_env/CustomerSupport-v0"

if ENV_ID not in registry:
    register(
        id=ENV_ID,
        entry_point="cs_env.env:CustomerSupportEnv",
        vector_entry_point="cs_env.vector:CustomerSupportVectorEnv",
        # No registered TimeLimit: the env ends its conversations after max_turns itself. A TimeLimit
        # would set truncated on the last turn even when the conversation ended there (terminated), and
        # gym.make(env.spec) would add one (see CustomerSupportEnv's Arguments).
    )

__all__ = [
    "DEFAULT_MAX_TURNS",
    "ENV_ID",
    "CustomerSupportEnv",
    "IndustryDataError",
    "Outcome",
    "ResponseStrategy",
    "Sentiment",
    "Tier",
    "valid_industries",
]
