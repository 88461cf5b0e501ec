"""One turn of a conversation, and what the agent observes: the rules, as two plain kernels.

- :func:`play_turn` and :func:`observe_one` play one conversation held in Python numbers: the
  single env, where numpy's per-call overhead would cost more than the arithmetic.
- :class:`BatchTurn` plays many held in numpy arrays (float32 for the batched env, float64 for
  :func:`cs_env.evaluate.rollout`, the oracle's lookahead and the lookup table's fit), in few numpy
  calls.

Both read every coefficient from one :class:`~cs_env.dynamics.Dynamics` and the per-customer
constants worked out on arrival (:func:`cs_env.customer.new_customers`), and do the same arithmetic
in the same order: in float64 they agree bit for bit (``tests/test_turn.py`` plays both side by
side), so a rule changed in one kernel and not the other fails a test.

A turn, in words: the customer cooperates as far as their mood lets them; the strategy makes progress
(its potential for this customer, times that cooperation and some luck) and moves satisfaction (the
steady reaction, empathy's calming, the progress made, an offer's effect, the annoyance of a canned
answer that misses or sympathy nobody asked for, a little noise, a bonus at the fix); satisfaction
cannot outrun the progress until the issue is fixed. An escalation hands the case to a specialist
instead, whose outcome is drawn then: a case that needed them is usually fixed (a relief, less so for
an urgent case kept waiting), a needless one is fixed after a queue (an annoyance). Patience drains
with the time the turn took and with any disappointment; the angrier and the less patient the
customer, the likelier they leave. Then the customer's words give fresh readings: a cue of
satisfaction and of patience, hints of complexity and savvy (the observation reads these, never the
hidden values).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cs_env.customer import (
    ABANDONED,
    ESCALATE,
    ESCALATED,
    ONGOING,
    PRODUCT_RECOMMEND,
    QUICK_RESOLUTION,
    RESOLVED,
    TIMEOUT,
    UPSELL,
    CustomerState,
)
from cs_env.domain import N_STRATEGIES
from cs_env.dynamics import Dynamics
from cs_env.reward import (
    EFFICIENCY_FLOOR,
    EFFICIENCY_SPAN,
    EFFICIENT_HANDLE_TIME,
    ESCALATION_PENALTY,
    SATISFACTION_SCALE,
    sale_value_by_tier,
)

#: The observation's length (its entries: ``cs_env.env.OBS_NAMES``).
OBS_SIZE = 18
#: Past this many uses, empathy and solution attempts read as "many" (1.0) in the observation.
USES_SEEN = 4
_SALE_BY_TIER = sale_value_by_tier()
_FLOAT32 = np.dtype(np.float32)
_OFFERS = frozenset((PRODUCT_RECOMMEND, UPSELL))  # the strategies that make an offer


def sentiment_of(sat: float) -> int:
    """Sentiment 0..4 from satisfaction: one level per fifth."""
    level = int(sat * 5.0)
    return level if level < 4 else 4


def play_turn(d: Dynamics, s: CustomerState, a: int, u: Any, max_turns: int) -> tuple[float, float, float, float, int]:
    """Play strategy ``a`` on the one conversation ``s`` in place, using ``TURN_DRAWS`` uniform numbers
    ``u``. Returns the reward components (:mod:`cs_env.reward`) and the :class:`Outcome` code after it.

    Written for the single env's step, where this is most of the time: each draw named once, clips and
    the offer's bookkeeping inline, work only on the branch that needs it. The arithmetic is
    :class:`BatchTurn`'s, operation for operation (``tests/test_turn.py``).
    """
    u_luck, u_mood, u_buy, u_leave, u_reveal, u_fix, u_sat_cue, u_patience_cue, u_complexity, u_savvy = u
    sat = s.sat
    time_cost = d.time_cost[a]

    cooperation = d.cooperation_base + d.cooperation_per_sat * sat
    if cooperation > 1.0:
        cooperation = 1.0
    gain = s.potential[a] * cooperation * (d.luck_low + d.luck_span * u_luck)
    progress = s.progress + gain
    if progress > 1.0:
        progress = 1.0
    resolved = progress >= 1.0

    # an offer is made once; it lands only with a receptive customer and backfires on an upset one
    bought = offer_mood = 0.0
    if a in _OFFERS:
        recommend = a == PRODUCT_RECOMMEND
        already_offered = s.offered_recommend if recommend else s.offered_upsell
        calm_enough = (sat - d.calm_floor) * d.calm_slope
        calm_enough = 0.0 if calm_enough < 0.0 else 1.0 if calm_enough > 1.0 else calm_enough
        receptive = s.receptive_base * calm_enough
        first_offer = 1.0 - already_offered
        bought = first_offer * (u_buy < receptive * d.buy_chance[a])
        upset = d.upset_offer if sat < d.upset_below else 0.0
        offer_mood = first_offer * d.offer_warmth * (receptive - d.warmth_threshold) - (
            already_offered * d.repeat_offer + upset
        )
        if recommend:
            s.offered_recommend = 1.0
        else:
            s.offered_upsell = 1.0
        s.offers_sold += bought
        hint = s.openness + d.reveal_noise * (u_reveal - 0.5)  # how they took the offer shows
        s.openness_hint = 0.0 if hint < 0.0 else 1.0 if hint > 1.0 else hint

    calming = d.calming[a]
    if calming:
        calming = calming * (1.0 - sat) * d.empathy_fade**s.empathy_uses
    empathy = d.is_empathy[a]
    brush_off = d.brush_off if a == QUICK_RESOLUTION and gain < d.brush_off_below else 0.0
    patronizing = d.patronizing if empathy and sat > d.patronizing_above else 0.0
    dsat = s.reaction[a] + calming + d.progress_share * gain + offer_mood - brush_off - patronizing
    dsat = dsat + d.mood_noise * (u_mood - 0.5) + (d.resolved_bonus if resolved else 0.0)
    if a == ESCALATE:  # the specialist's outcome
        handled = u_fix < s.fix_chance
        if handled:
            early = 1.0 - d.relief_fade * s.turn
            dsat = s.relief_base + s.relief_slope * (early if early > 0.0 else 0.0)
        else:
            dsat = d.needless_escalation
        ceiling = 1.0
    elif resolved:
        ceiling = 1.0
    else:
        cap = d.ceiling_base + d.ceiling_per_progress * progress
        ceiling = sat if sat > cap else cap
    new_sat = sat + dsat
    new_sat = 0.0 if new_sat < 0.0 else ceiling if new_sat > ceiling else new_sat

    patience = s.patience - time_cost * s.drain_rate - d.frustration * (-dsat if dsat < 0.0 else 0.0)
    impatience = 1.0 - (0.0 if patience < 0.0 else 1.0 if patience > 1.0 else patience)
    anger = 1.0 - new_sat
    turn = s.turn + 1
    handle_time = s.handle_time + time_cost
    if handle_time > 1.0:
        handle_time = 1.0

    # the outcome and the reward components
    satisfaction = SATISFACTION_SCALE * (new_sat - sat)
    efficiency = kept = lost = 0.0
    if a == ESCALATE:
        outcome = ESCALATED
        kept = s.kept_if_escalated if handled else 0.0
    elif resolved:
        outcome = RESOLVED
        efficiency = 1.0 - handle_time / EFFICIENT_HANDLE_TIME
        efficiency = 0.0 if efficiency < 0.0 else 1.0 if efficiency > 1.0 else efficiency
        efficiency = EFFICIENCY_FLOOR + EFFICIENCY_SPAN * efficiency
        kept = s.tier_value
    elif u_leave < anger * anger * (d.leave_base + d.leave_per_impatience * impatience * impatience):
        outcome = ABANDONED
        lost = s.lost_if_left  # left unhelped
    elif turn >= max_turns:
        outcome = TIMEOUT
        lost = s.lost_if_left  # out of time: a failure too
    else:
        outcome = ONGOING
    business = bought * _SALE_BY_TIER[s.tier_row + a] + kept * new_sat - lost
    business = business if business < 1.0 else 1.0

    s.sat, s.progress, s.patience, s.handle_time, s.turn = new_sat, progress, patience, handle_time, turn
    if empathy:
        s.empathy_uses += 1
    if d.is_solution[a]:
        s.solution_uses += 1
    # what the customer's words show now
    cue = new_sat + d.sat_cue_noise * (u_sat_cue - 0.5)
    cue = 0.0 if cue < 0.0 else 1.0 if cue > 1.0 else cue
    s.last_dsat = cue - s.sat_cue
    s.sat_cue = cue
    hint = patience + d.patience_cue_noise * (u_patience_cue - 0.5)
    s.patience_cue = 0.0 if hint < 0.0 else 1.0 if hint > 1.0 else hint
    hint = s.complexity + d.complexity_hint_noise * (u_complexity - 0.5)
    s.complexity_hint = 0.0 if hint < 0.0 else 1.0 if hint > 1.0 else hint
    hint = s.savvy + d.savvy_hint_noise * (u_savvy - 0.5)
    s.savvy_hint = 0.0 if hint < 0.0 else 1.0 if hint > 1.0 else hint
    s.last_gain = gain
    s.outcome = outcome
    return satisfaction, efficiency, business, ESCALATION_PENALTY if a == ESCALATE else 0.0, outcome


def observe_one(s: CustomerState) -> np.ndarray:
    """The observation of one conversation (see ``CustomerSupportEnv``): 18 float32 numbers."""
    change = 0.5 + 2.0 * s.last_dsat
    gain, empathy, solutions, cue = s.last_gain, s.empathy_uses, s.solution_uses, s.sat_cue
    sentiment = int(cue * 5.0)  # sentiment_of(cue), inline: a call less per step
    return np.fromiter(  # from a tuple of known length: cheaper than np.array, which first probes each item
        (
            s.inquiry,
            sentiment if sentiment < 4 else 4,
            s.urgency,
            s.turn,
            s.tier,
            cue,
            s.handle_time,
            s.progress,
            s.complexity_hint,
            s.savvy_hint,
            s.openness_hint,
            s.patience_cue,
            0.0 if change < 0.0 else 1.0 if change > 1.0 else change,
            gain if gain < 1.0 else 1.0,
            empathy / USES_SEEN if empathy < USES_SEEN else 1.0,
            solutions / USES_SEEN if solutions < USES_SEEN else 1.0,
            (s.offered_recommend + s.offered_upsell) / 2.0,
            s.specialist_hint,
        ),
        _FLOAT32,
        OBS_SIZE,
    )


def receptiveness(d: Dynamics, s: CustomerState) -> np.ndarray:
    """How far each customer of a batch would take to an offer now, 0 to 1."""
    calm_enough = (s.sat - d.calm_floor) * d.calm_slope
    calm_enough = np.minimum(np.maximum(calm_enough, 0.0, out=calm_enough), 1.0, out=calm_enough)
    return s.receptive_base * calm_enough


class BatchTurn:
    """:func:`play_turn` and :func:`observe_one` for a batch of conversations, in ``dtype`` arithmetic.

    Written for few numpy calls and temporaries (at a few thousand conversations the per-call overhead
    is most of the cost): masks and exact integer arithmetic where the scalar kernel branches (the
    outcome's priority, the ceiling), one look-up in a (tier, strategy) table, results written into
    preallocated rows. In float32 (the batched env's) the arithmetic stays in float32 throughout, half
    the memory traffic; the counts and codes a float32 batch holds (tier, urgency, turns, uses) are then
    float32 whole numbers too.
    """

    def __init__(self, dynamics: Dynamics, max_turns: int, dtype: Any = np.float64) -> None:
        self.d, self.max_turns, self.dtype = dynamics, max_turns, np.dtype(dtype)
        d, flt = dynamics, self.dtype

        def table(values: Any, dtype: Any = flt) -> np.ndarray:
            out = np.asarray(values, dtype=dtype)
            out.flags.writeable = False
            return out

        self._time_cost, self._calming = table(d.time_cost), table(d.calming)
        self._is_empathy, self._is_solution = table(d.is_empathy, bool), table(d.is_solution, bool)
        self._buy_chance, self._sale_by_tier = table(d.buy_chance), table(_SALE_BY_TIER)
        # empathy_fade ** k for every count of empathy a turn can start from: at most one per turn played
        self._fades = table(np.float64(d.empathy_fade) ** np.arange(max_turns + 1))
        # the outcome from four flags packed as escalate * 8 + resolved * 4 + left * 2 + out of turns, in
        # play_turn's priority: an escalation hands over even when resolved, a fix keeps the customer
        flags = [(code & 8, code & 4, code & 2, code & 1) for code in range(16)]
        self._outcome = table(
            [
                ESCALATED if e else RESOLVED if r else ABANDONED if left else TIMEOUT if t else ONGOING
                for e, r, left, t in flags
            ],
            np.int64,
        )
        self._n = -1

    def _size(self, n: int) -> None:
        # constants against arrays of n: numpy's fast loops (and row offsets of the (n, 8) fields)
        if n != self._n:
            self._n = n
            self._flat = np.arange(n) * N_STRATEGIES
            self._zeros, self._ones = np.zeros(n, self.dtype), np.ones(n, self.dtype)
            self._uses_seen = np.full(n, float(USES_SEEN), self.dtype)

    def play(
        self, s: CustomerState, a: np.ndarray, u: np.ndarray, components: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Play strategies ``a`` on every conversation of ``s`` in place; ``u`` is (TURN_DRAWS, n).

        Returns the reward components, (4, n) float64 (written into ``components`` when given), and the
        outcome codes.
        """
        d = self.d
        n = len(a)
        self._size(n)
        zeros, ones = self._zeros, self._ones
        if components is None:
            components = np.empty((4, n))
        sat = s.sat
        flat = self._flat + a
        potential = _entries(s.potential, flat, a)
        reaction = _entries(s.reaction, flat, a)
        recommend, upsell, escalate = a == PRODUCT_RECOMMEND, a == UPSELL, a == ESCALATE
        sales = recommend | upsell
        time_cost = self._time_cost.take(a)
        by_tier = s.tier_row + a

        cooperation = np.minimum(ones, d.cooperation_base + d.cooperation_per_sat * sat)
        gain = potential * cooperation * (d.luck_low + d.luck_span * u[0])
        progress = np.minimum(s.progress + gain, ones)
        resolved = progress >= 1.0

        already_offered = recommend * s.offered_recommend + upsell * s.offered_upsell
        receptive = receptiveness(d, s)
        first_offer = sales * (1.0 - already_offered)
        bought = first_offer * (u[2] < receptive * self._buy_chance.take(a))
        offer_mood = first_offer * d.offer_warmth * (receptive - d.warmth_threshold) - sales * (
            already_offered * d.repeat_offer + np.multiply(sat < d.upset_below, d.upset_offer, dtype=self.dtype)
        )

        empathy = self._is_empathy.take(a)
        calming = self._calming.take(a) * (1.0 - sat) * self._fades.take(s.empathy_uses.astype(np.intp), mode="clip")
        brush_off = np.multiply((a == QUICK_RESOLUTION) & (gain < d.brush_off_below), d.brush_off, dtype=self.dtype)
        patronizing = np.multiply(empathy & (sat > d.patronizing_above), d.patronizing, dtype=self.dtype)
        dsat = reaction + calming + d.progress_share * gain + offer_mood - brush_off - patronizing
        dsat = dsat + d.mood_noise * (u[1] - 0.5) + np.multiply(resolved, d.resolved_bonus, dtype=self.dtype)
        handled = u[5] < s.fix_chance
        early = np.maximum(1.0 - d.relief_fade * s.turn, zeros)
        relief = np.where(handled, s.relief_base + s.relief_slope * early, self.dtype.type(d.needless_escalation))
        np.putmask(dsat, escalate, relief)
        # the ceiling: no higher than the progress made, unless fixed or handed over (then 1: the cap
        # is below 1, so the maximum with the flag is the cap or 1)
        ceiling = np.maximum(np.maximum(sat, d.ceiling_base + d.ceiling_per_progress * progress), resolved | escalate)
        new_sat = np.minimum(np.maximum(sat + dsat, zeros), ceiling)

        patience = s.patience - time_cost * s.drain_rate - d.frustration * np.maximum(-dsat, zeros)
        impatience = 1.0 - np.minimum(np.maximum(patience, zeros), ones)
        anger = 1.0 - new_sat
        left = u[3] < anger * anger * (d.leave_base + d.leave_per_impatience * impatience * impatience)
        turn = s.turn + 1
        code = escalate.view(np.uint8) << 3  # (flags as bytes: shifts without a cast)
        code |= resolved.view(np.uint8) << 2
        code |= left.view(np.uint8) << 1
        code |= (turn >= self.max_turns).view(np.uint8)
        outcome = self._outcome.take(code)
        handle_time = np.minimum(s.handle_time + time_cost, ones)

        # the reward components
        fixed = resolved > escalate  # the outcome is RESOLVED
        np.multiply(new_sat - sat, SATISFACTION_SCALE, out=components[0])
        efficiency = 1.0 - handle_time / EFFICIENT_HANDLE_TIME
        efficiency = np.minimum(np.maximum(efficiency, zeros, out=efficiency), ones, out=efficiency)
        np.multiply(fixed, EFFICIENCY_FLOOR + EFFICIENCY_SPAN * efficiency, out=components[1])
        kept = fixed * s.tier_value + (escalate & handled) * s.kept_if_escalated
        unhelped = outcome >= ABANDONED  # left, or out of time
        business = bought * self._sale_by_tier.take(by_tier) + kept * new_sat - unhelped * s.lost_if_left
        np.minimum(business, ones, out=components[2])
        np.multiply(escalate, ESCALATION_PENALTY, out=components[3])

        s.sat, s.progress, s.patience, s.handle_time, s.turn = new_sat, progress, patience, handle_time, turn
        s.empathy_uses = s.empathy_uses + empathy
        s.solution_uses = s.solution_uses + self._is_solution.take(a)
        np.maximum(s.offered_recommend, recommend, out=s.offered_recommend)
        np.maximum(s.offered_upsell, upsell, out=s.offered_upsell)
        np.add(s.offers_sold, bought, out=s.offers_sold)
        np.putmask(s.openness_hint, sales, self._clip01(s.openness + d.reveal_noise * (u[4] - 0.5)))
        cue = self._clip01(new_sat + d.sat_cue_noise * (u[6] - 0.5))
        s.last_dsat = cue - s.sat_cue
        s.sat_cue = cue
        s.patience_cue = self._clip01(patience + d.patience_cue_noise * (u[7] - 0.5))
        s.complexity_hint = self._clip01(s.complexity + d.complexity_hint_noise * (u[8] - 0.5))
        s.savvy_hint = self._clip01(s.savvy + d.savvy_hint_noise * (u[9] - 0.5))
        s.last_gain = gain
        s.outcome = outcome
        return components, outcome

    def _clip01(self, x: np.ndarray) -> np.ndarray:
        """``x`` clipped to [0, 1] in place (a temporary of the turn's)."""
        return np.minimum(np.maximum(x, self._zeros, out=x), self._ones, out=x)

    def observe(self, s: CustomerState) -> np.ndarray:
        """The observations as (n, 18) float32: in float32, the transposed view of rows filled feature by
        feature, column-major as Gymnasium's own ``CartPoleVectorEnv`` hands out its observations (a
        row-major copy would cost a third of the rest of the step); in float64, computed in float64 and
        rounded once, as :func:`observe_one` does."""
        n = len(s.sat)
        self._size(n)
        zeros, ones, seen = self._zeros, self._ones, self._uses_seen
        obs = np.empty((OBS_SIZE, n), dtype=self.dtype)
        obs[0] = s.inquiry
        np.trunc(np.multiply(s.sat_cue, 5.0, out=obs[1]), out=obs[1])  # sentiment: the cue's fifth, at most 4
        np.minimum(obs[1], 4.0, out=obs[1])
        obs[2], obs[3], obs[4], obs[5], obs[6], obs[7] = s.urgency, s.turn, s.tier, s.sat_cue, s.handle_time, s.progress
        obs[8], obs[9], obs[10], obs[11] = s.complexity_hint, s.savvy_hint, s.openness_hint, s.patience_cue
        np.add(np.multiply(s.last_dsat, 2.0, out=obs[12]), 0.5, out=obs[12])
        np.minimum(np.maximum(obs[12], zeros, out=obs[12]), ones, out=obs[12])
        np.minimum(s.last_gain, ones, out=obs[13])
        np.divide(np.minimum(s.empathy_uses, seen, out=obs[14]), float(USES_SEEN), out=obs[14])
        np.divide(np.minimum(s.solution_uses, seen, out=obs[15]), float(USES_SEEN), out=obs[15])
        np.divide(np.add(s.offered_recommend, s.offered_upsell, out=obs[16]), 2.0, out=obs[16])
        obs[17] = s.specialist_hint
        return obs.T if self.dtype == np.float32 else obs.astype(np.float32).T


def _entries(per_strategy: np.ndarray, flat: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Row i's entry ``a[i]`` of an (n, 8) array: one flat take from row offsets computed once (cheaper
    than a two-array fancy index)."""
    if per_strategy.flags.c_contiguous:
        return per_strategy.reshape(-1).take(flat)
    return per_strategy[np.arange(len(a)), a]
