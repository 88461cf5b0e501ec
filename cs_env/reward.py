"""The reward: four components, each reported every step in info's ``reward_<component>``.

- **satisfaction** (-2.0 to +2.0 a step): twice the change of the customer's (hidden) satisfaction, up
  and down: a fall costs what a rise paid, so over an episode this component sums to twice the final
  change (``2 * (final - opening satisfaction)``, as potential-based shaping would give): placating a
  customer who then leaves or is let down pays back nothing of what was never earned.
- **efficiency** (+0.1 to +0.5, on resolution only): ``0.1 + 0.4 * (1 - handle time / 0.5)``, at
  least 0.1: full marks for an instant fix, the floor once half the handle-time budget is spent.
- **business_impact** (-1.0 to +1.0): a sale (product recommendation ``0.3``, upsell ``0.5``, times the
  tier's value: the one place the tier counts in a sale), and at the end the customer's value:
  ``tier value * satisfaction`` kept when resolved; when escalated, the specialist's outcome, drawn as
  the episode ends: a case that needed them is fixed with chance 0.85, keeping ``0.8 * tier value *
  satisfaction`` (nothing when not fixed), a needless one is fixed after a queue, keeping ``0.5 * tier
  value * satisfaction``; a customer who leaves unhelped, or whose conversation times out, costs
  goodwill and the value at risk, ``-(0.3 + 0.7 * tier value)``. Tier values: basic 0.4, premium 0.7,
  vip 1.0. Capped at 1 per step.
- **escalation_penalty** (-0.3 when escalating, else 0): escalation costs a specialist's time, even
  when it is the right call.

Bounds: one step's reward lies in [-3.0, 3.5] (a fall of the whole satisfaction scale with a VIP
leaving at worst; a rise of it, the fastest fix and a capped business impact at best); an episode's
return in [-3.0, 4.3] (satisfaction between -2.0 and 2.0 in all, efficiency 0.5 once, business impact
at least -1.0 for the ending and at most 1.0 for it plus 0.3 + 0.5 for two sales, the penalty at most
once, since escalation ends the episode and pays no leaving cost).
"""

from __future__ import annotations

from cs_env.domain import N_STRATEGIES, Tier

COMPONENTS = ("satisfaction", "efficiency", "business_impact", "escalation_penalty")
#: satisfaction: this times the change of satisfaction, up and down
SATISFACTION_SCALE = 2.0
#: efficiency: FLOOR + SPAN * clip(1 - handle time / EFFICIENT_HANDLE_TIME, 0, 1), on resolution
EFFICIENCY_FLOOR = 0.1
EFFICIENCY_SPAN = 0.4
EFFICIENT_HANDLE_TIME = 0.5  # handle time at which efficiency reaches its floor
#: business impact: the customer's value by tier, a sale's by strategy (times the tier's), and the share
#: of the value kept when a specialist fixes a handed-over case that needed them, or one that did not
TIER_VALUE = (0.4, 0.7, 1.0)
SALE_VALUE = (0.0, 0.0, 0.0, 0.3, 0.0, 0.0, 0.0, 0.5)
ESCALATION_KEEPS = 0.8
NEEDLESS_KEEPS = 0.5
#: a customer who leaves unhelped (or times out) costs LEFT_GOODWILL + AT_RISK * tier value
LEFT_GOODWILL = 0.3
AT_RISK = 0.7
ESCALATION_PENALTY = -0.3
STEP_REWARD_BOUNDS = (-3.0, 3.5)
EPISODE_RETURN_BOUNDS = (-3.0, 4.3)


def sale_value_by_tier() -> tuple[float, ...]:
    """A sale's business impact, by ``tier * 8 + strategy``."""
    return tuple(SALE_VALUE[k] * TIER_VALUE[t] for t in range(len(Tier)) for k in range(N_STRATEGIES))
