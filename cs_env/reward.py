"""The reward: four components, each reported every step in ``info["reward_components"]``.

- **satisfaction** (0 to +2.0): twice the rise of satisfaction above the best it has been in this
  conversation. Paying for new highs only (not for every turn the customer is content, as the
  prototype did) means stalling, or letting satisfaction dip to win it back, earns nothing: over a
  whole episode this component sums to at most ``2 * (1 - opening satisfaction)``.
- **efficiency** (+0.1 to +0.5, on resolution only): ``0.1 + 0.4 * (1 - handle time / 0.5)``, at
  least 0.1: full marks for an instant fix, the floor once half the handle-time budget is spent.
- **business_impact** (0 to +1.0): a sale (product recommendation ``0.3``, upsell ``0.5``, times the
  tier's value), and at the end the customer's value kept: ``tier value * satisfaction`` when resolved,
  ``0.8 * tier value * satisfaction`` when a needed escalation hands them to a specialist, nothing when
  they leave, time out or are escalated needlessly. Tier values: basic 0.4, premium 0.7, vip 1.0.
  Capped at 1 per step.
- **escalation_penalty** (-0.3 when escalating, else 0): escalation costs a specialist's time, even
  when it is the right call.

Bounds: one step's reward lies in [-0.3, 3.5]; an episode's return in [-0.3, 4.3] (satisfaction at
most 2.0 in all, efficiency 0.5 once, business impact at most 1.0 for the ending plus 0.3 + 0.5 for
two sales, the penalty at most once since escalation ends the episode).
"""

from __future__ import annotations

from cs_env.domain import N_STRATEGIES, Tier

COMPONENTS = ("satisfaction", "efficiency", "business_impact", "escalation_penalty")
#: satisfaction: this times the rise above the best so far
SATISFACTION_SCALE = 2.0
#: efficiency: FLOOR + SPAN * clip(1 - handle time / EFFICIENT_HANDLE_TIME, 0, 1), on resolution
EFFICIENCY_FLOOR = 0.1
EFFICIENCY_SPAN = 0.4
EFFICIENT_HANDLE_TIME = 0.5  # handle time at which efficiency reaches its floor
#: business impact: the customer's value by tier, a sale's by strategy (times the tier's), and the share
#: of the value kept when a needed escalation hands the customer to a specialist
TIER_VALUE = (0.4, 0.7, 1.0)
SALE_VALUE = (0.0, 0.0, 0.0, 0.3, 0.0, 0.0, 0.0, 0.5)
ESCALATION_KEEPS = 0.8
ESCALATION_PENALTY = -0.3
STEP_REWARD_BOUNDS = (-0.3, 3.5)
EPISODE_RETURN_BOUNDS = (-0.3, 4.3)


def sale_value_by_tier() -> tuple[float, ...]:
    """A sale's business impact, by ``tier * 8 + strategy``."""
    return tuple(SALE_VALUE[k] * TIER_VALUE[t] for t in range(len(Tier)) for k in range(N_STRATEGIES))
