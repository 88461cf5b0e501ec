"""How a customer responds to a turn: every coefficient of the turn's rules, in one table of data.

Both kernels of :mod:`cs_env.turn` (one conversation in Python floats, many in numpy arrays) read
their numbers from a :class:`Dynamics`, and so does the arrival of a customer where it works out the
per-customer constants of these rules (:func:`cs_env.customer.new_customers`): a coefficient is
changed in one place. What is per inquiry (how fast each strategy makes progress, how each one moves
the mood) is industry data, in ``cs_env/industries/*.toml``; the reward's own numbers are in
:mod:`cs_env.reward`.
"""

from __future__ import annotations

from dataclasses import dataclass

from cs_env.domain import N_STRATEGIES, ResponseStrategy

S = ResponseStrategy


def _flags(*strategies: ResponseStrategy) -> tuple[bool, ...]:
    return tuple(ResponseStrategy(k) in strategies for k in range(N_STRATEGIES))


@dataclass(frozen=True, slots=True)
class Dynamics:
    """The customer's response to each strategy, and the rules' constants.

    Per-strategy tuples are indexed by :class:`~cs_env.domain.ResponseStrategy`:
    empathetic, technical, escalate, product_recommend, apologetic, educational, quick_resolution,
    upsell.
    """

    # -- per strategy ------------------------------------------------------------------------
    #: Share of the handle-time budget a turn of each strategy takes.
    time_cost: tuple[float, ...] = (0.06, 0.12, 0.04, 0.07, 0.05, 0.13, 0.05, 0.07)
    #: Chance an offer lands with a fully receptive customer. The tier counts once in a sale: in its value
    #: (``cs_env.reward``), not in the chance nor in the customer's openness.
    buy_chance: tuple[float, ...] = (0.0, 0.0, 0.0, 0.85, 0.0, 0.0, 0.0, 0.65)
    #: How much of the gap to full satisfaction empathy closes (halved with each repeat: empathy_fade).
    calming: tuple[float, ...] = (0.22, 0.0, 0.0, 0.0, 0.18, 0.0, 0.0, 0.0)
    #: Which strategies make an offer, show empathy, attempt a solution.
    is_offer: tuple[bool, ...] = _flags(S.PRODUCT_RECOMMEND, S.UPSELL)
    is_empathy: tuple[bool, ...] = _flags(S.EMPATHETIC, S.APOLOGETIC)
    is_solution: tuple[bool, ...] = _flags(S.TECHNICAL, S.EDUCATIONAL, S.QUICK_RESOLUTION)

    # -- who arrives, and what shows of them -------------------------------------------------
    #: traits are drawn around the inquiry's means: mean + trait_spread * (u1 - u2)
    trait_spread: float = 0.45
    #: a case needs a specialist with chance: the inquiry's share + this * max(complexity - 0.6, 0)
    specialist_per_complexity: float = 0.5
    #: each reading of complexity and savvy (at arrival and after every turn) is the trait plus a uniform
    #: noise this wide: one reading says little, several averaged say more
    complexity_hint_noise: float = 0.5
    savvy_hint_noise: float = 0.6
    #: the observation's cues of satisfaction and patience: the hidden value plus a uniform noise this wide
    sat_cue_noise: float = 0.3
    patience_cue_noise: float = 0.3

    # -- progress ----------------------------------------------------------------------------
    #: cooperation = min(1, base + per_sat * satisfaction): an angry customer does not follow instructions
    cooperation_base: float = 0.35
    cooperation_per_sat: float = 1.6
    #: a turn's progress is potential * cooperation * (luck_low + luck_span * u), u uniform in [0, 1)
    luck_low: float = 0.75
    luck_span: float = 0.5

    # -- offers ------------------------------------------------------------------------------
    #: the mood lets an offer land by clip((satisfaction - calm_floor) * calm_slope, 0, 1)
    calm_floor: float = 0.3
    calm_slope: float = 2.0
    #: a first offer moves satisfaction by warmth * (receptiveness - warmth_threshold) ...
    offer_warmth: float = 0.25
    warmth_threshold: float = 0.2
    #: ... a repeated one costs repeat_offer, and any offer to a customer below upset_below costs upset_offer
    repeat_offer: float = 0.08
    upset_below: float = 0.4
    upset_offer: float = 0.18

    # -- satisfaction ------------------------------------------------------------------------
    #: each repeat of empathy calms by this factor less
    empathy_fade: float = 0.5
    #: a quick resolution whose progress stays below brush_off_below annoys by brush_off
    brush_off_below: float = 0.15
    brush_off: float = 0.1
    #: empathy for a customer already above patronizing_above annoys by patronizing
    patronizing_above: float = 0.6
    patronizing: float = 0.05
    #: satisfaction rises by progress_share of the progress made, a mood_noise wide jitter, resolved_bonus at the fix
    progress_share: float = 0.45
    mood_noise: float = 0.06
    resolved_bonus: float = 0.2
    #: until the fix, satisfaction stays below ceiling_base + ceiling_per_progress * progress
    ceiling_base: float = 0.45
    ceiling_per_progress: float = 0.45

    # -- escalation --------------------------------------------------------------------------
    #: an escalation hands the case to a specialist, who fixes a case that needed one with chance
    #: specialist_fixes (a needless one always, after a queue); the outcome is paid as the episode ends
    specialist_fixes: float = 0.85
    #: a fixed needed escalation brings relief + relief_per_urgency * urgency * max(1 - relief_fade * turn, 0);
    #: a needless one (the queue) or an unfixed one changes satisfaction by needless_escalation
    relief: float = 0.2
    relief_per_urgency: float = 0.05
    relief_fade: float = 0.4
    needless_escalation: float = -0.15

    # -- patience and leaving ----------------------------------------------------------------
    #: patience drains by time cost * drain rate, plus frustration * any fall in satisfaction
    frustration: float = 0.5
    #: the chance to leave after a turn, a hazard of anger and lost patience:
    #: (1 - satisfaction)^2 * (leave_base + leave_per_impatience * (1 - patience)^2), patience in [0, 1];
    #: never zero for a furious customer, small for a delighted one
    leave_base: float = 0.05
    leave_per_impatience: float = 0.4
    #: how the customer takes an offer shows their openness, to within reveal_noise
    reveal_noise: float = 0.1


#: The rules every env plays by.
DYNAMICS = Dynamics()
