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

from typing import Any

from cs_env.domain import Outcome, ResponseStrategy

RESOLVED, ESCALATED, ESCALATE = int(Outcome.RESOLVED), int(Outcome.ESCALATED), int(ResponseStrategy.ESCALATE)

COMPONENTS = ("satisfaction", "efficiency", "business_impact", "escalation_penalty")
TIER_VALUE = (0.4, 0.7, 1.0)
SALE_VALUE = (0.0, 0.0, 0.0, 0.3, 0.0, 0.0, 0.0, 0.5)  # by strategy
ESCALATION_PENALTY = -0.3
EFFICIENT_HANDLE_TIME = 0.5  # handle time at which efficiency reaches its floor
STEP_REWARD_BOUNDS = (-0.3, 3.5)
EPISODE_RETURN_BOUNDS = (-0.3, 4.3)


def reward_components(
    ops: Any,
    sat_before_best: Any,
    sat_after: Any,
    handle_time: Any,
    tier: Any,
    action: Any,
    bought: Any,
    outcome: Any,
    needs_specialist: Any,
) -> tuple[Any, Any, Any, Any]:
    """``(satisfaction, efficiency, business_impact, escalation_penalty)`` for one turn."""
    satisfaction = 2.0 * ops.maximum(sat_after - sat_before_best, 0.0)
    resolved = outcome == RESOLVED
    efficiency = resolved * (0.1 + 0.4 * ops.clip(1.0 - handle_time / EFFICIENT_HANDLE_TIME, 0.0, 1.0))
    tier_value = ops.pick(TIER_VALUE, tier)
    kept = resolved + (outcome == ESCALATED) * needs_specialist * 0.8
    business = bought * ops.pick(SALE_VALUE, action) * tier_value + kept * tier_value * sat_after
    escalated = action == ESCALATE
    return (
        satisfaction,
        efficiency,
        ops.minimum(business, 1.0),
        escalated * ESCALATION_PENALTY,
    )
