"""The customer model's turn and observation, fused for the batched env.

:func:`cs_env.customer.advance` and :func:`~cs_env.customer.observe` are the rules, written once for one
conversation and for many. At a few thousand conversations each numpy call costs more in overhead than
in arithmetic, so the batched env runs this version of them instead: the same arithmetic on the same
float32 values in the same order, in fewer calls. It gets there by

- reading per-customer constants worked out once when a customer arrives (:class:`Derived`) instead of
  every turn (the offer's receptiveness before the mood, the tier's value, the relief an escalation
  brings);
- one look-up in a (tier, strategy) table where the rules take two strategy constants and a tier;
- exact integer and mask arithmetic where the rules nest ``where`` (the outcome's priority, the
  satisfaction ceiling), and writing into preallocated rows instead of new arrays.

It is checked to give bit for bit what ``advance(ARRAY32, ...)`` and ``observe(ARRAY32, ...)`` give
(``tests/test_vector_env.py``), so a change to the rules that is not made here too fails a test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cs_env.customer import (
    ABANDONED,
    APOLOGETIC,
    BUY_BASE,
    BUY_PER_TIER,
    CALMING,
    EMPATHETIC,
    ESCALATE,
    ESCALATED,
    IS_SOLUTION,
    ONGOING,
    PRODUCT_RECOMMEND,
    QUICK_RESOLUTION,
    RESOLVED,
    TIME_COST,
    TIMEOUT,
    UPSELL,
    CustomerState,
    Tables,
)
from cs_env.domain import N_STRATEGIES, Tier
from cs_env.env import OBS_SIZE
from cs_env.reward import EFFICIENT_HANDLE_TIME, ESCALATION_PENALTY, SALE_VALUE, TIER_VALUE

F32 = np.float32
_N_TIERS = len(Tier)


def _table(values: Any, dtype: Any = F32) -> np.ndarray:
    table = np.asarray(values, dtype=dtype)
    table.flags.writeable = False
    return table


_TIME_COST = _table(TIME_COST)
_CALMING = _table(CALMING)
_IS_EMPATHY = _table([k in (EMPATHETIC, APOLOGETIC) for k in range(N_STRATEGIES)], bool)
_IS_SOLUTION = _table(IS_SOLUTION, bool)
_TIER_VALUE = _table(TIER_VALUE)
# by tier * 8 + strategy, in float32 as the rules compute them: an offer's chance with a fully receptive
# customer (BUY_BASE + BUY_PER_TIER * tier), and a sale's value (SALE_VALUE * the tier's value)
_tier = np.repeat(np.arange(_N_TIERS, dtype=F32), N_STRATEGIES)
_strategy = np.tile(np.arange(N_STRATEGIES), _N_TIERS)
_BUY_RATE = _table(_table(BUY_BASE)[_strategy] + _table(BUY_PER_TIER)[_strategy] * _tier)
_SALE_TIER_VALUE = _table(_table(SALE_VALUE)[_strategy] * _TIER_VALUE[_tier.astype(np.intp)])
# the outcome from four flags packed as escalate * 8 + resolved * 4 + left * 2 + out of turns, in the
# rules' priority: an escalation hands over even when resolved, a fix keeps the customer from leaving
_OUTCOME = _table(
    [
        ESCALATED if code & 8 else RESOLVED if code & 4 else ABANDONED if code & 2 else TIMEOUT if code & 1 else ONGOING
        for code in range(16)
    ],
    np.int64,
)


@dataclass
class Derived:
    """Per-customer constants of the turn's rules, worked out when the customer arrives."""

    receptive_base: np.ndarray  # openness * the inquiry's sales fit (before the mood of the moment)
    tier_value: np.ndarray
    kept_escalated: np.ndarray  # the value kept when a needed escalation hands the customer over
    relief_base: np.ndarray  # an escalation's satisfaction change: base + slope * how early it comes
    relief_slope: np.ndarray
    tier_row: np.ndarray  # tier * 8, the row of the (tier, strategy) tables

    @classmethod
    def of(cls, tables: Tables, s: CustomerState) -> Derived:
        needed = s.needs_specialist > 0
        tier_value = _TIER_VALUE.take(s.tier.astype(np.intp))
        return cls(
            receptive_base=s.openness * tables.sales_fit.take(s.inquiry),
            tier_value=tier_value,
            kept_escalated=s.needs_specialist * 0.8 * tier_value,
            relief_base=np.where(needed, F32(0.2), F32(-0.15)),
            relief_slope=np.where(needed, 0.05 * s.urgency, F32(0.0)),
            tier_row=s.tier.astype(np.intp) * N_STRATEGIES,
        )

    def fields(self) -> list[np.ndarray]:
        return list(vars(self).values())


class FusedTurn:
    """:func:`~cs_env.customer.advance` and :func:`~cs_env.customer.observe` for ``n`` conversations."""

    def __init__(self, n: int, max_turns: int) -> None:
        self.n, self.max_turns = n, max_turns
        self._flat = np.arange(n) * N_STRATEGIES  # row offsets of the (n, 8) per-strategy fields
        self._zeros, self._ones = np.zeros(n, F32), np.ones(n, F32)  # against arrays: numpy's fast loops
        self._fours = np.full(n, 4.0, F32)
        # 0.5 ** k for every count of empathy a turn can start from: at most one per turn played, and no
        # conversation has played more than max_turns when a turn starts (one that ended still plays the
        # discarded turn of its next-step restart, from at most max_turns): a plain take, no clipping
        self._half_powers = np.ldexp(F32(1.0), -np.arange(max_turns + 1)).astype(F32)

    def turn(self, s: CustomerState, d: Derived, a: np.ndarray, u: np.ndarray, components: np.ndarray) -> np.ndarray:
        """Play one turn of every conversation in place; the reward components go into the rows of
        ``components`` (float64), and the outcome codes are returned."""
        zeros, ones = self._zeros, self._ones
        sat = s.sat
        flat = self._flat + a
        potential = s.potential.reshape(-1).take(flat)
        reaction = s.reaction.reshape(-1).take(flat)
        recommend, upsell, escalate = a == PRODUCT_RECOMMEND, a == UPSELL, a == ESCALATE
        sales = recommend | upsell
        empathy = _IS_EMPATHY.take(a)
        time_cost = _TIME_COST.take(a)
        by_tier = d.tier_row + a

        cooperation = np.minimum(ones, 0.35 + 1.6 * sat)
        gain = potential * cooperation * (0.75 + 0.5 * u[0])
        progress = np.minimum(s.progress + gain, ones)
        resolved = progress >= 1.0

        already_offered = recommend * s.offered_recommend + upsell * s.offered_upsell
        calm_enough = (sat - 0.3) * 2.0  # how far the mood lets an offer land, clipped to [0, 1]
        calm_enough = np.minimum(np.maximum(calm_enough, zeros, out=calm_enough), ones, out=calm_enough)
        receptive = d.receptive_base * calm_enough
        first_offer = sales * (1.0 - already_offered)
        bought = first_offer * (u[2] < receptive * _BUY_RATE.take(by_tier))
        offer_mood = first_offer * 0.25 * (receptive - 0.2) - sales * (
            already_offered * 0.08 + np.multiply(sat < 0.4, 0.18, dtype=F32)
        )

        calming = _CALMING.take(a) * (1.0 - sat) * self._half_powers.take(s.empathy_uses.astype(np.intp))
        brush_off = np.multiply((a == QUICK_RESOLUTION) & (gain < 0.15), 0.1, dtype=F32)
        patronizing = np.multiply(empathy & (sat > 0.6), 0.05, dtype=F32)
        dsat = reaction + calming + 0.45 * gain + offer_mood - brush_off - patronizing
        dsat = dsat + 0.06 * (u[1] - 0.5) + np.multiply(resolved, 0.2, dtype=F32)
        early = np.maximum(1.0 - 0.4 * s.turn, zeros)
        np.putmask(dsat, escalate, d.relief_base + d.relief_slope * early)
        # the ceiling: no higher than the progress made, unless fixed or handed over (then 1: the cap
        # is at most 0.9, so the maximum with the flag is the cap or 1)
        ceiling = np.maximum(np.maximum(sat, 0.45 + 0.45 * progress), resolved | escalate)
        new_sat = np.minimum(np.maximum(sat + dsat, zeros), ceiling)

        patience = s.patience - time_cost * s.drain_rate - 0.5 * np.maximum(-dsat, zeros)
        leave_chance = 0.3 - 2.5 * patience
        leave_chance = np.minimum(np.maximum(leave_chance, zeros, out=leave_chance), ones, out=leave_chance)
        left = u[3] < leave_chance * (1.3 - new_sat)
        turn = s.turn + 1.0
        code = escalate.view(np.uint8) << 3  # (flags as bytes: shifts without a cast)
        code |= resolved.view(np.uint8) << 2
        code |= left.view(np.uint8) << 1
        code |= (turn >= self.max_turns).view(np.uint8)
        outcome = _OUTCOME.take(code)
        handle_time = np.minimum(s.handle_time + time_cost, ones)

        # reward components (cs_env.reward)
        fixed = resolved > escalate  # the outcome is RESOLVED
        np.multiply(np.maximum(new_sat - s.best_sat, zeros), 2.0, out=components[0])
        efficiency = 1.0 - handle_time / EFFICIENT_HANDLE_TIME
        efficiency = np.minimum(np.maximum(efficiency, zeros, out=efficiency), ones, out=efficiency)
        np.multiply(fixed, 0.1 + 0.4 * efficiency, out=components[1])
        kept = fixed * d.tier_value + escalate * d.kept_escalated
        business = bought * _SALE_TIER_VALUE.take(by_tier) + kept * new_sat
        np.minimum(business, ones, out=components[2])
        np.multiply(escalate, ESCALATION_PENALTY, out=components[3])

        s.best_sat = np.maximum(s.best_sat, new_sat)
        s.sat, s.progress, s.patience, s.handle_time, s.turn = new_sat, progress, patience, handle_time, turn
        s.empathy_uses = s.empathy_uses + empathy
        s.solution_uses = s.solution_uses + _IS_SOLUTION.take(a)
        np.maximum(s.offered_recommend, recommend, out=s.offered_recommend)
        np.maximum(s.offered_upsell, upsell, out=s.offered_upsell)
        revealed = s.openness + 0.1 * (u[4] - 0.5)
        np.putmask(s.openness_hint, sales, np.minimum(np.maximum(revealed, zeros, out=revealed), ones, out=revealed))
        s.last_dsat = new_sat - sat
        s.last_gain = gain
        s.outcome = outcome
        return outcome

    def observe(self, s: CustomerState) -> np.ndarray:
        """The observations as (envs, features): the transposed view of rows filled feature by feature,
        column-major as Gymnasium's own ``CartPoleVectorEnv`` hands out its observations (a row-major
        copy would cost a third of the rest of the step)."""
        zeros, ones, fours = self._zeros, self._ones, self._fours
        obs = np.empty((OBS_SIZE, self.n), dtype=F32)
        obs[0] = s.inquiry
        np.trunc(np.multiply(s.sat, 5.0, out=obs[1]), out=obs[1])  # sentiment: the fifth, at most 4
        np.minimum(obs[1], fours, out=obs[1])
        obs[2], obs[3], obs[4], obs[5], obs[6], obs[7] = s.urgency, s.turn, s.tier, s.sat, s.handle_time, s.progress
        obs[8], obs[9], obs[10] = s.complexity_hint, s.savvy_hint, s.openness_hint
        np.minimum(np.maximum(s.patience, zeros, out=obs[11]), ones, out=obs[11])
        np.add(np.multiply(s.last_dsat, 2.0, out=obs[12]), 0.5, out=obs[12])
        np.minimum(np.maximum(obs[12], zeros, out=obs[12]), ones, out=obs[12])
        np.minimum(s.last_gain, ones, out=obs[13])
        np.divide(np.minimum(s.empathy_uses, fours, out=obs[14]), 4.0, out=obs[14])
        np.divide(np.minimum(s.solution_uses, fours, out=obs[15]), 4.0, out=obs[15])
        np.divide(np.add(s.offered_recommend, s.offered_upsell, out=obs[16]), 2.0, out=obs[16])
        return obs.T
