"""The customer model: who arrives, with which hidden traits, and how each strategy suits them.

This module draws customers (:func:`new_customers`, for any number at once); how a turn then moves
them is :mod:`cs_env.turn`, and every coefficient of that is in :mod:`cs_env.dynamics`.

A conversation's hidden state, per customer:

- ``sat``: satisfaction in [0, 1]. The agent never reads it: it reads ``sat_cue``, what the customer's
  words show of it (the satisfaction plus noise, redrawn every turn), and the sentiment is the cue's
  fifth (0 angry .. 4 delighted).
- ``progress``: how far the issue is toward resolution; at 1 it is resolved.
- ``complexity``, ``savvy`` (technical literacy), ``openness`` (to a sales offer): fixed traits.
- ``patience``: drains with handle time (faster for urgent customers) and with every disappointment;
  the less is left, and the angrier the customer, the likelier they leave (``patience_cue`` is what
  shows of it).
- ``needs_specialist``: 1 when only escalation can solve it: a property of the issue (the inquiry and
  its complexity), never of the customer's mood, tier or urgency; frontline strategies then barely move
  ``progress``. A specialist fixes such a case with chance ``fix_chance`` once it is handed over.

What the agent can read of them (the context vector, see ``CustomerSupportEnv``): progress so far,
noisy hints of complexity and savvy (a fresh reading each turn: the customer's words, so readings
averaged over the conversation tell more than one), a hint of openness (it sharpens once an offer was
made), noisy cues of satisfaction and patience, how the cue moved and how much progress the last turn
made, and a noisy hint that the case is a specialist's: what a person reading the customer's words
would notice (a fraud report, "I already tried all that", an error code only engineering can read),
which a case the frontline can fix sometimes sounds like too.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from cs_env.domain import N_STRATEGIES, Outcome, ResponseStrategy
from cs_env.dynamics import DYNAMICS, Dynamics
from cs_env.industries import Catalog
from cs_env.reward import AT_RISK, ESCALATION_KEEPS, LEFT_GOODWILL, NEEDLESS_KEEPS, TIER_VALUE

S = ResponseStrategy
# Plain ints for the hot path: enum member look-ups cost more than the arithmetic around them.
EMPATHETIC, TECHNICAL, ESCALATE, PRODUCT_RECOMMEND, APOLOGETIC, EDUCATIONAL, QUICK_RESOLUTION, UPSELL = map(
    int, ResponseStrategy
)
ONGOING, RESOLVED, ESCALATED, ABANDONED, TIMEOUT = map(int, Outcome)

#: The specialist hint: BASE + LIFT * needs_specialist + SPREAD * (u - 0.5), clipped to [0, 1]. Cases the
#: frontline can fix read 0-0.65, a specialist's 0.45-1: three in ten of each sit where the two overlap,
#: where only what the first solution achieves (the last progress) tells them apart.
SPECIALIST_HINT = (0.3, 0.5, 0.7)
#: Uniform draws one turn consumes, and one new customer.
TURN_DRAWS = 10
CUSTOMER_DRAWS = 20
#: The pinnable starting codes (the rest of the pins are traits in [0, 1]).
_CODE_PINS = ("inquiry", "tier", "urgency", "sentiment")


@dataclass
class Tables:
    """The industry data compiled into lookup tables (numpy arrays)."""

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

    def astype(self, dtype: Any) -> Tables:
        """The same tables with their numbers in ``dtype`` (the indices stay integers)."""
        tables = {f.name: getattr(self, f.name) for f in fields(self)}
        return Tables(**{k: v.astype(dtype) if v.dtype.kind == "f" else v for k, v in tables.items()})


@dataclass(slots=True, eq=False)
class CustomerState:
    """One conversation's full state (Python numbers), or many (numpy arrays of equal length).

    A slotted dataclass for its generated ``__init__``: the single env seats each customer of an arrival
    block with one call of it (:meth:`unstack`), several times cheaper than setting 38 slots by name.
    ``__slots__`` lists the fields in the order ``__init__`` takes them. ``eq=False``: states compare by
    identity (numpy fields have no single truth value).
    """

    inquiry: Any
    industry: Any
    tier: Any
    urgency: Any
    sat: Any
    sat_cue: Any  # what the customer's words show of sat (the observation's)
    progress: Any
    complexity: Any
    savvy: Any
    openness: Any
    patience: Any
    patience_cue: Any
    needs_specialist: Any
    handle_time: Any
    turn: Any
    empathy_uses: Any
    solution_uses: Any
    offered_recommend: Any
    offered_upsell: Any
    offers_sold: Any  # offers the customer took so far (hidden: the agent sees only how they took them)
    last_dsat: Any
    last_gain: Any
    complexity_hint: Any
    savvy_hint: Any
    openness_hint: Any
    specialist_hint: Any
    outcome: Any
    # fixed per customer, worked out on arrival so that no turn works them out again (see _constants)
    drain_rate: Any  # patience a turn uses up per unit of its time cost
    potential: Any  # per strategy (shape (n, 8) when batched)
    reaction: Any
    receptive_base: Any  # openness * the inquiry's sales fit, before the mood of the moment
    tier_value: Any
    kept_if_escalated: Any  # the value kept when a specialist fixes the handed-over case, per satisfaction
    fix_chance: Any  # the chance the specialist fixes a handed-over case (1 for a needless one: after a queue)
    lost_if_left: Any  # what a customer who leaves unhelped (or times out) costs: goodwill and value at risk
    relief_base: Any  # an escalation's satisfaction change: base + slope * how early it comes
    relief_slope: Any
    tier_row: Any  # tier * 8: the row of the (tier, strategy) tables

    def copy(self) -> CustomerState:
        new = CustomerState.__new__(CustomerState)
        for name in self.__slots__:
            value = getattr(self, name)
            setattr(new, name, value.copy() if isinstance(value, np.ndarray) else value)
        return new

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
        return [CustomerState(*row) for row in zip(*columns, strict=True)]

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


def new_customers(
    tables: Tables, u: np.ndarray, pins: dict[str, Any] | None = None, dynamics: Dynamics = DYNAMICS
) -> CustomerState:
    """Draw ``u.shape[1]`` customers from ``CUSTOMER_DRAWS`` uniform numbers each (the rows of ``u``).

    The numbers are in ``u``'s float type (the tables' too). Codes drawn as numbers (tier, urgency,
    sentiment) are int64 in float64, and float32 whole numbers in float32, which keeps arithmetic on
    them in float32 (numpy turns an integer array times a Python float into float64).

    ``pins`` fixes parts of the starting situation (scenarios): ``inquiry``, ``tier``, ``urgency``,
    ``sentiment`` (codes) and the traits ``complexity``, ``savvy``, ``openness``, ``patience``,
    ``needs_specialist``; the rest is drawn as usual, conditioned on what is pinned.
    """
    flt = u.dtype.type
    codes = np.int64 if u.dtype == np.float64 else u.dtype
    n = u.shape[1]
    pin = {k: np.full(n, v, dtype=codes if k in _CODE_PINS else u.dtype) for k, v in (pins or {}).items()}
    s = CustomerState.__new__(CustomerState)
    inquiry = pin["inquiry"].astype(np.int64) if "inquiry" in pin else _categorical(tables.inquiry_cdf, u[0])
    tier = pin.get("tier", _categorical_in(tables.tier_cdf, inquiry, u[1], codes))
    urgency = pin.get("urgency", _categorical_in(tables.urgency_cdf, inquiry, u[2], codes))
    sentiment = pin.get("sentiment", _categorical_in(tables.sentiment_cdf, inquiry, u[3], codes))
    s.inquiry, s.tier, s.urgency = inquiry, tier, urgency
    s.industry = tables.industry_of[inquiry]
    d, spread = dynamics, dynamics.trait_spread
    s.sat = (sentiment + 0.1 + 0.8 * u[4]) / 5.0  # inside its sentiment's fifth
    s.complexity = pin.get("complexity", _clip01(tables.complexity[inquiry] + spread * (u[5] - u[6])))
    s.savvy = pin.get("savvy", _clip01(tables.savvy[inquiry] + spread * (u[7] - u[8])))
    s.openness = pin.get("openness", _clip01(tables.openness[inquiry] + spread * (u[9] - u[10])))
    patience_mean = tables.patience[inquiry] - 0.05 * tier - 0.04 * (urgency - 2)
    s.patience = pin.get("patience", np.minimum(np.maximum(patience_mean + 0.25 * (u[11] - u[12]), 0.05), 1.0))
    # the issue decides: the inquiry's share of specialist cases, and more of them the more complex it is
    need = tables.specialist[inquiry] + d.specialist_per_complexity * np.maximum(s.complexity - 0.6, 0.0)
    s.needs_specialist = pin.get("needs_specialist", np.multiply(u[13] < need, 1.0, dtype=u.dtype))
    s.drain_rate = 0.5 + 0.12 * urgency  # urgent customers lose patience faster
    s.complexity_hint = _clip01(s.complexity + d.complexity_hint_noise * (u[14] - 0.5))
    s.savvy_hint = _clip01(s.savvy + d.savvy_hint_noise * (u[15] - 0.5))
    s.openness_hint = _clip01(s.openness + 0.5 * (u[16] - 0.5))
    base, lift, width = SPECIALIST_HINT
    s.specialist_hint = _clip01(base + lift * s.needs_specialist + width * (u[17] - 0.5))
    s.sat_cue = _clip01(s.sat + d.sat_cue_noise * (u[18] - 0.5))
    s.patience_cue = _clip01(s.patience + d.patience_cue_noise * (u[19] - 0.5))
    _constants(dynamics, tables, s, flt)
    # each field its own array: the kernels update some in place
    s.progress, s.handle_time, s.last_dsat, s.last_gain = (np.zeros(n, u.dtype) for _ in range(4))
    s.offered_recommend, s.offered_upsell = np.zeros(n, u.dtype), np.zeros(n, u.dtype)
    s.offers_sold = np.zeros(n, u.dtype)
    s.turn, s.empathy_uses, s.solution_uses, s.outcome = (np.zeros(n, np.int64) for _ in range(4))
    return s


def _constants(d: Dynamics, tables: Tables, s: CustomerState, flt: Any) -> None:
    """The per-customer constants of the turn's rules (fixed for the episode).

    - ``potential``: progress per turn when they cooperate (before noise): the inquiry's base rate
      times how well the strategy fits the person. Technical depth needs a savvy customer, a
      walkthrough suits novices not in a hurry, a canned quick answer only fits simple issues, an
      offer only an open customer; a specialist's case barely moves at all.
    - ``reaction``: the steady satisfaction change: the inquiry's mood effect, less the goodwill the
      turn's time costs (more for urgent customers), less the runaround a specialist's case senses,
      plus jargon that loses novices (pleases experts) and lessons urgent customers did not want.
    - what an offer, the tier, an escalation and leaving come to for this customer (see :mod:`cs_env.turn`).
    """
    harder = 1.25 - s.complexity
    fit = (  # an offer makes no progress on the issue: selling is not fixing
        1.0,
        (0.15 + 1.05 * s.savvy) * harder,
        0.0,
        0.0,
        1.0,
        (1.1 - 0.6 * s.savvy - 0.08 * s.urgency) * harder,
        1.6 * (1.0 - s.complexity) ** 2,
        0.0,
    )
    limit = 1.4 * (1.0 - 0.85 * s.needs_specialist)
    waiting = 0.3 + 0.1 * s.urgency
    runaround = s.needs_specialist * 0.04 * (1.0 + s.urgency)
    style = (0.0, 0.08 * (s.savvy - 0.5), 0.0, 0.0, 0.0, -0.015 * s.urgency, 0.0, 0.0)
    # computed strategy-major, (8, n), and stored (n, 8)
    progress, mood = tables.progress.T.take(s.inquiry, axis=1), tables.mood.T.take(s.inquiry, axis=1)
    time_cost = np.asarray(d.time_cost, dtype=flt)[:, None]
    s.potential = np.ascontiguousarray((progress * _rows(fit, len(s.sat), flt) * limit).T)
    s.reaction = np.ascontiguousarray((mood + _rows(style, len(s.sat), flt) - waiting * time_cost - runaround).T)
    needed = s.needs_specialist > 0
    tier = s.tier.astype(np.intp)
    s.receptive_base = s.openness * tables.sales_fit.take(s.inquiry)
    s.tier_value = np.asarray(TIER_VALUE, dtype=flt).take(tier)
    s.kept_if_escalated = np.where(needed, flt(ESCALATION_KEEPS), flt(NEEDLESS_KEEPS)) * s.tier_value
    s.fix_chance = np.where(needed, flt(d.specialist_fixes), flt(1.0))
    s.lost_if_left = LEFT_GOODWILL + AT_RISK * s.tier_value
    s.relief_base = np.where(needed, flt(d.relief), flt(d.needless_escalation))
    s.relief_slope = np.where(needed, d.relief_per_urgency * s.urgency, flt(0.0))
    s.tier_row = tier * N_STRATEGIES


def _rows(per_strategy: tuple[Any, ...], n: int, flt: Any) -> np.ndarray:
    """One entry per strategy (numbers or arrays of n) as an (8, n) array."""
    out = np.empty((len(per_strategy), n), dtype=flt)
    for row, value in zip(out, per_strategy, strict=True):
        row[...] = value
    return out


def _clip01(x: np.ndarray) -> np.ndarray:
    # np.clip's Python wrapper costs more than the two ufuncs it ends in (same values without NaNs)
    out = np.maximum(x, 0.0)
    return np.minimum(out, 1.0, out=out)


def _categorical(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """For each u, the first category whose cumulative share exceeds it (one cdf for all).

    min(searchsorted(cdf, u, side="right"), len - 1), the same counts (cdf is non-decreasing): one
    (len - 1, n) comparison and a sum are a few times cheaper than a binary search per element, and
    summed as bytes (the flags' own memory) a few times cheaper again.
    """
    below = cdf[:-1, None] <= u
    if len(cdf) > 256:
        return below.sum(axis=0)
    return below.view(np.uint8).sum(axis=0, dtype=np.uint8).astype(np.int64)


def _categorical_in(cdf_table: np.ndarray, row: np.ndarray, u: np.ndarray, codes: Any) -> np.ndarray:
    """``_categorical(cdf_table[row], u)`` per element, without gathering (n, k) rows: one small take
    per column, counted as bytes in the flags' own memory (at most 255 columns), in ``codes``."""
    total = np.zeros(np.shape(u), np.uint8)
    for j in range(cdf_table.shape[1] - 1):
        total += (cdf_table[:, j].take(row) <= u).view(np.uint8)
    return total.astype(codes)
