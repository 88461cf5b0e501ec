"""cs_env: a customer-support conversation simulator behind the Gymnasium API.

Importing the package registers ``cs_env/CustomerSupport-v1``::

    import gymnasium as gym
    import cs_env  # noqa: F401  (or: gym.make("cs_env:cs_env/CustomerSupport-v1"))

    env = gym.make("cs_env/CustomerSupport-v1", industry="bfsi")

``cs_env/CustomerSupport-v0`` stays registered only to say what changed: making it raises Gymnasium's
``DeprecatedEnv`` naming v1 (:data:`cs_env.env.V0_RETIRED`).

Pure by design: the standard library, numpy and gymnasium only.
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

from cs_env.domain import OUTCOME_NAMES, SENTIMENT_NAMES, TIER_NAMES, Outcome, ResponseStrategy, Sentiment, Tier
from cs_env.env import DEFAULT_MAX_TURNS, ENV_ID, V0_ID, CustomerSupportEnv, valid_industries
from cs_env.industries import IndustryDataError

if ENV_ID not in registry:
    register(
        id=ENV_ID,
        entry_point="cs_env.env:CustomerSupportEnv",
        vector_entry_point="cs_env.vector:CustomerSupportVectorEnv",
        # No registered TimeLimit: the env ends its conversations after max_turns itself. A TimeLimit
        # would set truncated on the last turn even when the conversation ended there (terminated), and
        # gym.make(env.spec) would add one (see CustomerSupportEnv's Arguments).
    )
if V0_ID not in registry:
    register(id=V0_ID, entry_point="cs_env.env:retired_v0")  # raises DeprecatedEnv, naming v1 and what changed

__all__ = [
    "DEFAULT_MAX_TURNS",
    "ENV_ID",
    "OUTCOME_NAMES",
    "SENTIMENT_NAMES",
    "TIER_NAMES",
    "V0_ID",
    "CustomerSupportEnv",
    "IndustryDataError",
    "Outcome",
    "ResponseStrategy",
    "Sentiment",
    "Tier",
    "valid_industries",
]
