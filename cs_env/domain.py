"""The vocabulary of a support conversation: strategies, sentiments, tiers, outcomes.

Every other module speaks in these names, so the numbers behind them live in one place.
"""

from __future__ import annotations

from enum import IntEnum


class ResponseStrategy(IntEnum):
    """The eight ways an agent can answer a turn (the env's actions)."""

    EMPATHETIC = 0
    TECHNICAL = 1
    ESCALATE = 2
    PRODUCT_RECOMMEND = 3
    APOLOGETIC = 4
    EDUCATIONAL = 5
    QUICK_RESOLUTION = 6
    UPSELL = 7


class Sentiment(IntEnum):
    """How the customer feels, binned from satisfaction in fifths."""

    ANGRY = 0
    FRUSTRATED = 1
    NEUTRAL = 2
    SATISFIED = 3
    DELIGHTED = 4


class Tier(IntEnum):
    """The customer's value tier."""

    BASIC = 0
    PREMIUM = 1
    VIP = 2


class Outcome(IntEnum):
    """How a conversation ended; ``ONGOING`` while it has not."""

    ONGOING = 0
    RESOLVED = 1
    ESCALATED = 2
    ABANDONED = 3
    TIMEOUT = 4


STRATEGY_NAMES: tuple[str, ...] = tuple(s.name.lower() for s in ResponseStrategy)
SENTIMENT_NAMES: tuple[str, ...] = tuple(s.name.lower() for s in Sentiment)
TIER_NAMES: tuple[str, ...] = tuple(t.name.lower() for t in Tier)
#: the name of each :class:`Outcome`, which ``info["outcome"]`` gives as its code (an int64 on every step,
#: 0 ``"ongoing"`` while the conversation goes on: never None, which clients that batch infos into arrays,
#: such as Tianshou's buffer, would read as NaN).
OUTCOME_NAMES: tuple[str, ...] = tuple(o.name.lower() for o in Outcome)
ONGOING_NAME = OUTCOME_NAMES[Outcome.ONGOING]
#: The outcomes that end a conversation.
FINAL_OUTCOME_NAMES: tuple[str, ...] = OUTCOME_NAMES[1:]
N_STRATEGIES = len(ResponseStrategy)
