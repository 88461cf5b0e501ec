"""The customer model: hidden traits, and how each response strategy moves them.

This is the one set of rules behind every env. The same functions run on one conversation held in
Python floats (the single env, where per-call numpy overhead would dominate) and on thousands held in
numpy arrays (the batched env, the oracle's lookahead): the arithmetic is written once, and the few
operations that differ (choosing, clipping, table look-ups) come from an ``ops`` object, either
:data:`SCALAR` or :data:`ARRAY`.

A conversation's hidden state, per customer:

- ``sat``: satisfaction in [0, 1]; the sentiment the agent sees is its fifth (0 angry .. 4 delighted).
- ``progress``: how far the issue is toward resolution; at 1 it is resolved.
- ``complexity``, ``savvy`` (technical literacy), ``openness`` (to a sales offer): fixed traits.
- ``patience``: drains with handle time (faster for urgent customers) and with every disappointment;
  once it runs low the customer may leave.
- ``needs_specialist``: 1 when only escalation can solve it (urgent fraud, a furious VIP with a complex
  issue, ...); frontline strategies then barely move ``progress``.

What the agent can read of them (the context vector, see ``CustomerSupportEnv``): progress so far,
noisy hints of complexity, savvy and openness (the openness hint sharpens once an offer was made),
patience left, and how the last turn moved satisfaction and progress.
"""

from __future__ import annotations

import bisect
import functools
import operator
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from cs_env.domain import Outcome, ResponseStrategy
from cs_env.industries import Catalog
from cs_env.reward import reward_components

S = ResponseStrategy
# Plain ints for the hot path: enum member look-ups cost more than the arithmetic around them.
EMPATHETIC, TECHNICAL, ESCALATE, PRODUCT_RECOMMEND, APOLOGETIC, EDUCATIONAL, QUICK_RESOLUTION, UPSELL = map(
    int, ResponseStrategy
)
ONGOING, RESOLVED, ESCALATED, ABANDONED, TIMEOUT = map(int, Outcome)

#: Share of the handle-time budget each strategy takes (indexed by strategy).
TIME_COST = (0.06, 0.12, 0.04, 0.07, 0.05, 0.13, 0.05, 0.07)
#: Chance an offer lands with a fully receptive customer: (base, per tier step), per strategy.
BUY_BASE = (0.0, 0.0, 0.0, 0.75, 0.0, 0.0, 0.0, 0.45)
BUY_PER_TIER = (0.0, 0.0, 0.0, 0.10, 0.0, 0.0, 0.0, 0.20)
#: Which strategies make an offer, show empathy, or attempt a solution (indexed by strategy).
IS_OFFER = tuple(k in (PRODUCT_RECOMMEND, UPSELL) for k in range(len(TIME_COST)))
IS_EMPATHY = tuple(k in (EMPATHETIC, APOLOGETIC) for k in range(len(TIME_COST)))
IS_SOLUTION = tuple(k in (TECHNICAL, EDUCATIONAL, QUICK_RESOLUTION) for k in range(len(TIME_COST)))
#: How much satisfaction empathy can restore (times the gap to 1, halved with each repeat).
CALMING = (0.22, 0.0, 0.0, 0.0, 0.18, 0.0, 0.0, 0.0)
TRAIT_SPREAD = 0.3
#: Uniform draws one turn consumes, and one new customer.
TURN_DRAWS = 5
CUSTOMER_DRAWS = 18


class _ScalarOps:
    """Operations on one conversation held in Python numbers."""

    @staticmethod
    def where(cond: Any, a: Any, b: Any) -> Any:
        return a if cond else b

    @staticmethod
    def clip(x: Any, lo: float, hi: float) -> Any:
        return lo if x < lo else hi if x > hi else x

    minimum = staticmethod(min)
    maximum = staticmethod(max)

    @staticmethod
    def take(table: Any, row: Any, col: Any) -> Any:
        return table[row][col]

    # the simple operations are the builtins themselves: one C call each on the single env's hot path
    pick = staticmethod(operator.getitem)  # pick(constants, index) = constants[index]

    @staticmethod
    def pick_rows(index: Any, *per_strategy: Any) -> tuple[Any, ...]:
        # each per-strategy list's entry for strategy index
        return tuple(row[index] for row in per_strategy)

    rows = staticmethod(operator.getitem)  # rows(table, index) = table[index]
    scale = staticmethod(operator.mul)  # scale(flag, value) = flag * value
    half_power = staticmethod(functools.partial(pow, 0.5))  # half_power(k) = 0.5**k
    to_int = staticmethod(int)

    @staticmethod
    def per_strategy(rule: Any, *per_strategy: Any) -> Any:
        # one value per strategy: the rule applied to each strategy's entries
        return [rule(*entries) for entries in zip(*per_strategy, strict=True)]

    @staticmethod
    def categorical(cdf: Any, u: float) -> int:
        # cdf is one row: the first category whose cumulative share exceeds u
        return min(bisect.bisect_right(cdf, u), len(cdf) - 1)

    @staticmethod
    def categorical_in(cdf_table: Any, row: Any, u: float) -> int:
        return _ScalarOps.categorical(cdf_table[row], u)

    @staticmethod
    def fresh(x: Any) -> Any:
        return x


class _ArrayOps:
    """The same operations, elementwise over numpy arrays.

    Written for few numpy calls and temporaries: at a few thousand conversations the per-call overhead
    is most of the cost. With ``dtype=float64`` (:data:`ARRAY`) each gives bit-for-bit the values of the
    obvious numpy expression. With ``float32`` (:data:`ARRAY32`, the batched env's) the arithmetic stays in
    float32 throughout, half the memory traffic: the values then agree with float64's to float32 rounding,
    and the codes drawn as numbers (tier, urgency, sentiment) come as float32 whole numbers, which keeps
    arithmetic on them in float32 too (numpy turns an integer array times a Python float into float64).
    """

    def __init__(self, dtype: Any = np.float64) -> None:
        self.dtype = np.dtype(dtype)
        self._codes = np.dtype(np.int64) if self.dtype == np.float64 else self.dtype
        # 0.5**k for k = 0..1099: it underflows to 0.0 long before the end in either precision
        self._half_powers = np.ldexp(self.dtype.type(1.0), -np.arange(1100)).astype(self.dtype)
        self._half_powers.flags.writeable = False
        self._constants: dict[tuple[Any, ...], np.ndarray] = {}  # pick's tables, by their constants

    where = staticmethod(np.where)
    minimum = staticmethod(np.minimum)
    maximum = staticmethod(np.maximum)

    @staticmethod
    def clip(x: Any, lo: Any, hi: Any) -> Any:
        # np.clip's Python wrapper costs more than the two ufuncs it ends in (same values without NaNs)
        out = np.maximum(x, lo)
        return np.minimum(out, hi, out=out) if isinstance(out, np.ndarray) else np.minimum(out, hi)

    @staticmethod
    def take(table: Any, row: Any, col: Any) -> Any:
        return table[row, col]

    def pick(self, constants: tuple[Any, ...], index: Any) -> Any:
        table = self._constants.get(constants)
        if table is None:  # numbers in this ops' float type; flags (bools) stay bools
            table = np.asarray(constants, dtype=None if isinstance(constants[0], bool) else self.dtype)
            self._constants[constants] = table
        if isinstance(index, np.ndarray) and index.dtype.kind == "f":  # a code held as a float32 whole number
            index = index.astype(np.intp)
        return table.take(index)

    @staticmethod
    def pick_rows(index: Any, *per_strategy: Any) -> tuple[Any, ...]:
        # row i's entry index[i] of each (n, strategies) array: one flat take each, from offsets computed
        # once (cheaper than a two-array fancy index)
        n, k = per_strategy[0].shape
        flat = _row_offsets(n, k) + index
        return tuple(x.reshape(-1).take(flat) if x.flags.c_contiguous else x[np.arange(n), index] for x in per_strategy)

    def per_strategy(self, rule: Any, *per_strategy: Any) -> Any:
        # the rule runs once on (strategies, n) arrays, not once per strategy: a few large numpy calls;
        # elementwise it does the same arithmetic in the same order. The result is (n, strategies).
        return rule(*(_strategy_major(x, self.dtype) for x in per_strategy)).T

    def half_power(self, k: Any) -> Any:
        # exactly 0.5**k for integer k >= 0 (k is a count, maybe held as a float32 whole number): a table
        # look-up is several times cheaper than ldexp; past the table's end 0.5**k is 0.0, as is the
        # table's last entry
        if k.dtype.kind == "f":
            k = k.astype(np.intp)
        return self._half_powers.take(k, mode="clip")

    def scale(self, flag: Any, value: float) -> Any:
        # flag * value in this ops' float type (a bool array times a Python float would be float64)
        return np.multiply(flag, value, dtype=self.dtype)

    def categorical(self, cdf: Any, u: Any) -> Any:
        # one cdf for all elements, or one row per element
        if cdf.ndim == 1:
            # min(searchsorted(cdf, u, side="right"), len - 1), the same counts (cdf is non-decreasing):
            # one (len - 1, n) comparison and a sum are a few times cheaper than a binary search per
            # element, and summed as bytes (the flags' own memory) a few times cheaper again
            below = cdf[:-1, None] <= u
            if len(cdf) > 256:
                return below.sum(axis=0)
            return below.view(np.uint8).sum(axis=0, dtype=np.uint8).astype(np.int64)
        # column by column: cheaper than an (n, k) comparison matrix
        return self._count_below((cdf[:, j] for j in range(cdf.shape[1] - 1)), u)

    def categorical_in(self, cdf_table: Any, row: Any, u: Any) -> Any:
        # categorical(cdf_table[row], u) without gathering (n, k) rows: one small take per column
        return self._count_below((cdf_table[:, j].take(row) for j in range(cdf_table.shape[1] - 1)), u)

    def _count_below(self, columns: Any, u: Any) -> Any:
        # how many of the columns are <= u, in this ops' code type: counted as bytes in the flags' own
        # memory (no cast per column; at most 255 columns), converted once
        total = np.zeros(np.shape(u), np.uint8)
        for column in columns:
            total += (column <= u).view(np.uint8)
        return total.astype(self._codes)

    @staticmethod
    def rows(table: Any, index: Any) -> Any:
        # table[index], gathered strategy-major (the layout per_strategy works in) and handed back as its
        # (n, k) transposed view, so per_strategy needs no copy
        return table.T.take(index, axis=1).T

    @staticmethod
    def to_int(x: Any) -> Any:
        return np.asarray(x).astype(np.int64)

    @staticmethod
    def fresh(x: Any) -> Any:
        return x.copy()


SCALAR = _ScalarOps()
ARRAY = _ArrayOps()
#: The batched env's ops: float32 arithmetic (statistically the same model, half the memory traffic).
ARRAY32 = _ArrayOps(np.float32)


@functools.lru_cache(maxsize=64)
def _constant_array(constants: tuple[Any, ...], dtype: Any = np.float64) -> np.ndarray:
    return np.asarray(constants, dtype=dtype)


def _strategy_major(values: Any, dtype: Any) -> np.ndarray:
    """Per-strategy values as an array whose first axis is the strategy.

    ``values`` is an (n, strategies) array (a table row per element), or a sequence with one entry per
    strategy: numbers (a constant column, shape (strategies, 1)) or arrays of n.
    """
    if isinstance(values, np.ndarray):
        return np.ascontiguousarray(values.T)
    if isinstance(values, tuple) and not any(isinstance(v, np.ndarray) for v in values):
        return _constant_array(values, dtype)[:, None]
    n = next(len(v) for v in values if isinstance(v, np.ndarray))
    out = np.empty((len(values), n), dtype=dtype)
    for row, value in zip(out, values, strict=True):
        row[...] = value
    return out


@functools.lru_cache(maxsize=16)
def _row_offsets(n: int, k: int) -> np.ndarray:
    offsets = np.arange(n) * k
    offsets.flags.writeable = False
    return offsets


@dataclass
class Tables:
    """The industry data compiled into lookup tables (arrays, or nested lists for :data:`SCALAR`)."""

    inquiry_cdf: Any  # (n_inquiries,) cumulative chance of each inquiry in this env
    tier_cdf: Any  # (n_inquiries, 3) per inquiry: its industry's tier shares, cumulative
    urgency_cdf: Any  # (n_inquiries, 5)
    sentiment_cdf: Any  # (n_inquiries, 5)
    complexity: Any  # (n_inquiries,) trait means
    savvy: Any
    openness: Any
    patience: Any
    specialist: Any
    sales_fit: Any
    progress: Any  # (n_inquiries, 8)
    mood: Any  # (n_inquiries, 8)
    industry_of: Any  # (n_inquiries,) index into the catalog's industries

    @classmethod
    def build(cls, catalog: Catalog, industry: str) -> Tables:
        """Tables for an env of ``industry`` (a catalog name, or ``mixed``: industries equally likely)."""
        inquiries = catalog.inquiries
        names = catalog.industry_names
        chosen = names if industry == "mixed" else (industry,)
        weight = np.array([i.share / len(chosen) if i.industry in chosen else 0.0 for i in inquiries])
        tiers = {ind.name: ind.tier_shares for ind in catalog.industries}

        def column(attr: str) -> np.ndarray:
            return np.array([getattr(i, attr) for i in inquiries], dtype=np.float64)

        return cls(
            inquiry_cdf=np.cumsum(weight / weight.sum()),
            tier_cdf=np.cumsum([tiers[i.industry] for i in inquiries], axis=1),
            urgency_cdf=np.cumsum([i.urgency for i in inquiries], axis=1),
            sentiment_cdf=np.cumsum([i.sentiment for i in inquiries], axis=1),
            complexity=column("complexity"),
            savvy=column("savvy"),
            openness=column("openness"),
            patience=column("patience"),
            specialist=column("specialist"),
            sales_fit=column("sales_fit"),
            progress=np.array([i.progress for i in inquiries]),
            mood=np.array([i.mood for i in inquiries]),
            industry_of=np.array([names.index(i.industry) for i in inquiries]),
        )

    def as_lists(self) -> Tables:
        """The same tables as nested Python lists, for :data:`SCALAR` (fast per-element access)."""
        return Tables(**{f.name: getattr(self, f.name).tolist() for f in fields(self)})


class CustomerState:
    """One conversation's full state (Python numbers), or many (numpy arrays of equal length)."""

    __slots__ = (
        "best_sat",
        "complexity",
        "complexity_hint",
        "drain_rate",
        "empathy_uses",
        "handle_time",
        "industry",
        "inquiry",
        "last_dsat",
        "last_gain",
        "needs_specialist",
        "offered_recommend",
        "offered_upsell",
        "openness",
        "openness_hint",
        "outcome",
        "patience",
        "potential",
        "progress",
        "reaction",
        "sat",
        "savvy",
        "savvy_hint",
        "solution_uses",
        "tier",
        "turn",
        "urgency",
    )
    inquiry: Any
    industry: Any
    tier: Any
    urgency: Any
    sat: Any
    best_sat: Any
    progress: Any
    complexity: Any
    savvy: Any
    openness: Any
    patience: Any
    needs_specialist: Any
    handle_time: Any
    turn: Any
    empathy_uses: Any
    solution_uses: Any
    offered_recommend: Any
    offered_upsell: Any
    last_dsat: Any
    last_gain: Any
    complexity_hint: Any
    savvy_hint: Any
    openness_hint: Any
    outcome: Any
    drain_rate: Any  # patience a turn uses up per unit of its time cost
    # per strategy, fixed per episode (shape (n, 8) when batched): see _profile
    potential: Any
    reaction: Any

    def copy(self) -> CustomerState:
        new = CustomerState.__new__(CustomerState)
        for name in self.__slots__:
            value = getattr(self, name)
            setattr(new, name, value.copy() if isinstance(value, np.ndarray) else value)
        return new

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def stack(cls, states: list[CustomerState]) -> CustomerState:
        """Many scalar states as one batched state."""
        new = cls.__new__(cls)
        for name in cls.__slots__:
            setattr(new, name, np.array([getattr(s, name) for s in states]))
        return new

    def unstack(self) -> list[CustomerState]:
        """A batched state as one scalar state per row (Python numbers, lists per strategy)."""
        columns = [getattr(self, name).tolist() for name in self.__slots__]
        states = []
        for row in zip(*columns, strict=True):
            state = CustomerState.__new__(CustomerState)
            for name, value in zip(self.__slots__, row, strict=True):
                setattr(state, name, value)
            states.append(state)
        return states

    def select(self, index: Any) -> CustomerState:
        """Rows ``index`` of a batched state (an int gives a scalar state)."""
        new = CustomerState.__new__(CustomerState)
        for name in self.__slots__:
            value = getattr(self, name)[index]
            setattr(new, name, value.item() if isinstance(value, np.generic) else value)
        return new

    def assign(self, mask: Any, other: CustomerState) -> None:
        """Overwrite the rows where ``mask`` is true with ``other``'s rows (batched states)."""
        for name in self.__slots__:
            getattr(self, name)[mask] = getattr(other, name)


def sentiment_of(ops: Any, sat: Any) -> Any:
    """Sentiment 0..4 from satisfaction: one level per fifth."""
    return ops.minimum(ops.to_int(sat * 5.0), 4)


def new_customers(ops: Any, tables: Tables, u: Any, pins: dict[str, Any] | None = None) -> CustomerState:
    """Draw customers from ``CUSTOMER_DRAWS`` uniform numbers each (rows of ``u``).

    ``pins`` fixes parts of the starting situation (scenarios): ``inquiry``, ``tier``, ``urgency``,
    ``sentiment`` (codes) and the traits ``complexity``, ``savvy``, ``openness``, ``patience``,
    ``needs_specialist``; the rest is drawn as usual, conditioned on what is pinned.
    """
    pin = pins or {}
    s = CustomerState.__new__(CustomerState)
    inquiry = pin.get("inquiry", ops.categorical(tables.inquiry_cdf, u[0]))
    tier = pin.get("tier", ops.categorical_in(tables.tier_cdf, inquiry, u[1]))
    urgency = pin.get("urgency", ops.categorical_in(tables.urgency_cdf, inquiry, u[2]))
    sentiment = pin.get("sentiment", ops.categorical_in(tables.sentiment_cdf, inquiry, u[3]))
    s.inquiry, s.tier, s.urgency = inquiry, tier, urgency
    s.industry = tables.industry_of[inquiry]
    s.sat = (sentiment + 0.1 + 0.8 * u[4]) / 5.0  # inside its sentiment's fifth
    s.complexity = pin.get("complexity", ops.clip(tables.complexity[inquiry] + TRAIT_SPREAD * (u[5] - u[6]), 0.0, 1.0))
    s.savvy = pin.get("savvy", ops.clip(tables.savvy[inquiry] + TRAIT_SPREAD * (u[7] - u[8]), 0.0, 1.0))
    open_mean = tables.openness[inquiry] + 0.1 * tier - 0.05
    s.openness = pin.get("openness", ops.clip(open_mean + TRAIT_SPREAD * (u[9] - u[10]), 0.0, 1.0))
    patience_mean = tables.patience[inquiry] - 0.05 * tier - 0.04 * (urgency - 2)
    s.patience = pin.get("patience", ops.clip(patience_mean + 0.25 * (u[11] - u[12]), 0.05, 1.0))
    furious_vip = (tier == 2) * (sentiment == 0) * (s.complexity > 0.55)
    need = tables.specialist[inquiry] * (1.0 + 0.35 * (urgency - 2))
    need = need + 0.5 * ops.maximum(s.complexity - 0.7, 0.0) + ops.scale(furious_vip, 0.6)
    s.needs_specialist = pin.get("needs_specialist", ops.scale(u[13] < need, 1.0))
    s.drain_rate = 0.5 + 0.12 * urgency  # urgent customers lose patience faster
    s.potential, s.reaction = _profile(ops, tables, s)
    s.complexity_hint = ops.clip(s.complexity + 0.3 * (u[14] - 0.5), 0.0, 1.0)
    s.savvy_hint = ops.clip(s.savvy + 0.4 * (u[15] - 0.5), 0.0, 1.0)
    s.openness_hint = ops.clip(s.openness + 0.5 * (u[16] - 0.5), 0.0, 1.0)
    zero = u[17] * 0.0
    izero = ops.to_int(zero)
    # batched fields are updated in place, so each needs its own array (fresh is a no-op on floats)
    s.progress, s.handle_time, s.last_dsat, s.last_gain = zero, ops.fresh(zero), ops.fresh(zero), ops.fresh(zero)
    s.offered_recommend, s.offered_upsell = ops.fresh(zero), ops.fresh(zero)
    s.turn, s.empathy_uses, s.solution_uses, s.outcome = izero, ops.fresh(izero), ops.fresh(izero), ops.fresh(izero)
    # best so far starts at the arrival's satisfaction, in an array of its own: an alias of sat would make
    # every batched write of sat also reset the best, and pay each recovery after a dip again
    s.best_sat = ops.fresh(s.sat)
    return s


def _profile(ops: Any, tables: Tables, s: CustomerState) -> tuple[Any, Any]:
    """How this customer responds to each strategy, before the mood of the moment: fixed per episode.

    - ``potential``: progress per turn when they cooperate (before noise): the inquiry's base rate
      times how well the strategy fits the person. Technical depth needs a savvy customer, a
      walkthrough suits novices not in a hurry, a canned quick answer only fits simple issues, an
      offer only an open customer; a specialist's case barely moves at all.
    - ``reaction``: the steady satisfaction change: the inquiry's mood effect, less the goodwill the
      turn's time costs (more for urgent customers), less the runaround a specialist's case senses,
      plus jargon that loses novices (pleases experts) and lessons urgent customers did not want.
    """
    harder = 1.25 - s.complexity
    offer_fit = (0.4 + 0.8 * s.openness) * harder
    fit = (
        1.0,
        (0.15 + 1.05 * s.savvy) * harder,
        0.0,
        offer_fit,
        1.0,
        (1.1 - 0.6 * s.savvy - 0.08 * s.urgency) * harder,
        1.6 * (1.0 - s.complexity) ** 2,
        offer_fit,
    )
    limit = 1.4 * (1.0 - 0.85 * s.needs_specialist)
    waiting = 0.3 + 0.1 * s.urgency
    runaround = s.needs_specialist * 0.04 * (1.0 + s.urgency)
    style = (0.0, 0.08 * (s.savvy - 0.5), 0.0, 0.0, 0.0, -0.015 * s.urgency, 0.0, 0.0)
    progress, mood = ops.rows(tables.progress, s.inquiry), ops.rows(tables.mood, s.inquiry)  # one entry per strategy
    potential = ops.per_strategy(lambda p, f: p * f * limit, progress, fit)
    reaction = ops.per_strategy(lambda m, st, t: m + st - waiting * t - runaround, mood, style, TIME_COST)
    return potential, reaction


def advance(ops: Any, tables: Tables, s: CustomerState, action: Any, u: Any, max_turns: int) -> tuple[Any, ...]:
    """Play one agent turn on ``s`` in place, using ``TURN_DRAWS`` uniform numbers (rows of ``u``).

    Returns ``(satisfaction, efficiency, business_impact, escalation_penalty, outcome)``: the reward
    components of :mod:`cs_env.reward` and the :class:`Outcome` code after the turn.
    """
    a = action
    sat = s.sat
    inquiry = s.inquiry
    escalate = a == ESCALATE
    sales = ops.pick(IS_OFFER, a)
    empathy = ops.pick(IS_EMPATHY, a)
    time_cost = ops.pick(TIME_COST, a)

    cooperation = ops.minimum(1.0, 0.35 + 1.6 * sat)  # an angry customer does not follow instructions
    potential, reaction = ops.pick_rows(a, s.potential, s.reaction)  # this strategy's entries
    gain = potential * cooperation * (0.75 + 0.5 * u[0])
    progress = ops.minimum(s.progress + gain, 1.0)
    resolved = progress >= 1.0

    # Sales: an offer is made once; it lands only with a receptive customer and backfires on an upset one.
    already_offered = (a == PRODUCT_RECOMMEND) * s.offered_recommend + (a == UPSELL) * s.offered_upsell
    receptive = s.openness * tables.sales_fit[inquiry] * ops.clip((sat - 0.3) * 2.0, 0.0, 1.0)
    first_offer = sales * (1.0 - already_offered)
    buy_chance = receptive * (ops.pick(BUY_BASE, a) + ops.pick(BUY_PER_TIER, a) * s.tier)
    bought = first_offer * (u[2] < buy_chance)
    offer_mood = first_offer * 0.25 * (receptive - 0.2) - sales * (already_offered * 0.08 + ops.scale(sat < 0.4, 0.18))

    calming = ops.pick(CALMING, a) * (1.0 - sat) * ops.half_power(s.empathy_uses)
    brush_off = ops.scale((a == QUICK_RESOLUTION) & (gain < 0.15), 0.1)  # a canned answer that misses annoys
    patronizing = ops.scale(empathy & (sat > 0.6), 0.05)  # sympathy a calm customer did not ask for
    dsat = reaction + calming + 0.45 * gain + offer_mood - brush_off - patronizing
    dsat = dsat + 0.06 * (u[1] - 0.5) + ops.scale(resolved, 0.2)
    # Escalation hands over: a relief when a specialist was needed, an annoyance when not.
    # For an urgent case the relief fades with every turn spent before handing over.
    relief = 0.2 + 0.05 * s.urgency * ops.maximum(1.0 - 0.4 * s.turn, 0.0)
    dsat = ops.where(escalate, ops.where(s.needs_specialist > 0, relief, -0.15), dsat)
    # Until the issue is fixed, satisfaction can rise no further than the progress made (delight only near the fix).
    ceiling = ops.where(resolved | escalate, 1.0, ops.maximum(sat, 0.45 + 0.45 * progress))
    new_sat = ops.clip(sat + dsat, 0.0, ceiling)

    patience = s.patience - time_cost * s.drain_rate - 0.5 * ops.maximum(-dsat, 0.0)
    leave_chance = ops.clip(0.3 - 2.5 * patience, 0.0, 1.0) * (1.3 - new_sat)
    outcome = ops.where(
        escalate,
        ESCALATED,
        ops.where(resolved, RESOLVED, ops.where(u[3] < leave_chance, ABANDONED, ONGOING)),
    )
    turn = s.turn + 1
    outcome = ops.where((outcome == ONGOING) & (turn >= max_turns), TIMEOUT, outcome)
    handle_time = ops.minimum(s.handle_time + time_cost, 1.0)

    components = reward_components(
        ops, s.best_sat, new_sat, handle_time, s.tier, a, bought, outcome, s.needs_specialist
    )

    s.sat = new_sat
    s.best_sat = ops.maximum(s.best_sat, new_sat)
    s.progress = progress
    s.patience = patience
    s.handle_time = handle_time
    s.turn = turn
    s.empathy_uses = s.empathy_uses + empathy
    s.solution_uses = s.solution_uses + ops.pick(IS_SOLUTION, a)
    s.offered_recommend = ops.maximum(s.offered_recommend, ops.scale(a == PRODUCT_RECOMMEND, 1.0))
    s.offered_upsell = ops.maximum(s.offered_upsell, ops.scale(a == UPSELL, 1.0))
    revealed = ops.clip(s.openness + 0.1 * (u[4] - 0.5), 0.0, 1.0)  # how they took the offer shows
    s.openness_hint = ops.where(sales, revealed, s.openness_hint)
    s.last_dsat = new_sat - sat
    s.last_gain = gain
    s.outcome = outcome
    return (*components, outcome)


def observe(ops: Any, s: CustomerState, max_turns: int) -> list[Any]:
    """The 17 observed values (see ``CustomerSupportEnv``), in order."""
    return [
        s.inquiry,
        sentiment_of(ops, s.sat),
        s.urgency,
        s.turn,
        s.tier,
        s.sat,
        s.handle_time,
        s.progress,
        s.complexity_hint,
        s.savvy_hint,
        s.openness_hint,
        ops.clip(s.patience, 0.0, 1.0),
        ops.clip(0.5 + 2.0 * s.last_dsat, 0.0, 1.0),
        ops.minimum(s.last_gain, 1.0),
        ops.minimum(s.empathy_uses, 4) / 4.0,
        ops.minimum(s.solution_uses, 4) / 4.0,
        (s.offered_recommend + s.offered_upsell) / 2.0,
    ]
