"""The return ranks conversations as a support lead would (issue 25, item 2): the preference suite.

Each pair is two conversations a support lead would order the same way every time, on pinned customers
(``reset(options=...)``), with a sentence saying why. The test plays each conversation on the same
``SEEDS`` (the same customers' draws: common random numbers) and asserts the better one's mean return is
higher. Deterministic: the env is seeded, so each mean is one fixed number. Every pair runs for every
industry, the customer's inquiry chosen from that industry by the role it plays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from cs_env import CustomerSupportEnv, ResponseStrategy

S = ResponseStrategy
EMP, TECH, ESC, REC, APO, EDU, QUICK, UPS = (
    S.EMPATHETIC,
    S.TECHNICAL,
    S.ESCALATE,
    S.PRODUCT_RECOMMEND,
    S.APOLOGETIC,
    S.EDUCATIONAL,
    S.QUICK_RESOLUTION,
    S.UPSELL,
)
SEEDS = range(48)
INDUSTRIES = ("bfsi", "retail", "tech", "mixed")
#: The inquiry each role is played by, per industry (mixed borrows another industry's, to vary them).
ROLES = {
    "bfsi": {"complaint": "transaction_dispute", "simple": "account_balance", "sales": "loan_application",
             "specialist": "fraud_report", "technical": "transaction_dispute"},
    "retail": {"complaint": "shipping_issue", "simple": "order_status", "sales": "product_recommendation",
               "specialist": "product_return", "technical": "shipping_issue"},
    "tech": {"complaint": "billing_dispute", "simple": "technical_support", "sales": "feature_request",
             "specialist": "bug_report", "technical": "technical_support"},
    "mixed": {"complaint": "product_return", "simple": "account_balance", "sales": "product_recommendation",
              "specialist": "api_integration", "technical": "api_integration"},
}  # fmt: skip

#: Customers, as pins on top of a role's inquiry. Traits pinned so that the conversation's course turns on
#: the strategies: a fixable case the frontline solves, a specialist's case it cannot.
BASE = {"urgency": 2, "patience": 0.8, "openness": 0.2, "savvy": 0.5}
CUSTOMERS: dict[str, dict[str, Any]] = {
    # a simple issue, a content customer: the quick fix lands at once
    "simple": {"role": "simple", "sentiment": "satisfied", "tier": "premium", "complexity": 0.05,
               "needs_specialist": False},
    "simple_vip": {"role": "simple", "sentiment": "satisfied", "tier": "vip", "complexity": 0.05,
                   "needs_specialist": False},
    "simple_basic": {"role": "simple", "sentiment": "satisfied", "tier": "basic", "complexity": 0.05,
                     "needs_specialist": False},
    # a complaint of middling difficulty, a neutral customer
    "complaint": {"role": "complaint", "sentiment": "neutral", "tier": "premium", "complexity": 0.35,
                  "needs_specialist": False},
    # the same complaint, the customer furious
    "furious": {"role": "complaint", "sentiment": "angry", "tier": "premium", "complexity": 0.2,
                "needs_specialist": False, "openness": 0.3},
    "furious_vip": {"role": "complaint", "sentiment": "angry", "tier": "vip", "complexity": 0.2,
                    "needs_specialist": False},
    "furious_basic": {"role": "complaint", "sentiment": "angry", "tier": "basic", "complexity": 0.2,
                      "needs_specialist": False},
    # a case only a specialist can solve
    "specialist": {"role": "specialist", "sentiment": "frustrated", "tier": "premium", "complexity": 0.8,
                   "needs_specialist": True, "urgency": 3},
    # the same customer and issue, but the frontline can fix it
    "fixable_twin": {"role": "specialist", "sentiment": "frustrated", "tier": "premium", "complexity": 0.3,
                     "needs_specialist": False, "urgency": 3},
    # an expert and a novice with the same technical problem
    "expert": {"role": "complaint", "sentiment": "neutral", "tier": "premium", "complexity": 0.5, "savvy": 0.95,
               "needs_specialist": False},
    "novice": {"role": "complaint", "sentiment": "neutral", "tier": "premium", "complexity": 0.5, "savvy": 0.05,
               "urgency": 0, "needs_specialist": False},
    # a happy, receptive customer asking about a product
    "receptive": {"role": "sales", "sentiment": "satisfied", "tier": "vip", "complexity": 0.1, "openness": 0.95,
                  "needs_specialist": False},
    "receptive_basic": {"role": "sales", "sentiment": "satisfied", "tier": "basic", "complexity": 0.1,
                        "openness": 0.95, "needs_specialist": False},
    # a technical problem, a neutral customer at home with technical answers
    "technical": {"role": "technical", "sentiment": "neutral", "tier": "premium", "complexity": 0.35, "savvy": 0.7,
                  "needs_specialist": False},
    # an expert with a hard technical problem a canned answer cannot touch
    "hard_technical": {"role": "technical", "sentiment": "neutral", "tier": "premium", "complexity": 0.7,
                       "savvy": 0.9, "patience": 1.0, "needs_specialist": False},
    # a patient customer with a hard but fixable problem (a long conversation)
    "patient_hard": {"role": "complaint", "sentiment": "neutral", "tier": "premium", "complexity": 0.6,
                     "patience": 1.0, "needs_specialist": False},
}  # fmt: skip


@dataclass(frozen=True)
class Conversation:
    """A customer and the agent's strategies turn by turn, the last one repeated to the end."""

    customer: str
    script: tuple[int, ...]

    def mean_return(self, industry: str) -> float:
        pins = {**BASE, **CUSTOMERS[self.customer]}
        pins["inquiry"] = ROLES[industry][pins.pop("role")]
        env = CustomerSupportEnv(industry)
        total = 0.0
        for seed in SEEDS:
            env.reset(seed=seed, options=pins)
            done, turn = False, 0
            while not done:
                _, reward, terminated, truncated, _ = env.step(int(self.script[min(turn, len(self.script) - 1)]))
                total += float(reward)
                done, turn = terminated or truncated, turn + 1
        return total / len(SEEDS)


def c(customer: str, *script: int) -> Conversation:
    return Conversation(customer, tuple(script))


#: (why, the better conversation, the worse one)
PAIRS: dict[str, tuple[str, Conversation, Conversation]] = {
    "happy_fix_over_annoyed_fix": (
        "Resolved and happy beats resolved after being pestered with offers nobody wanted.",
        c("complaint", TECH),
        c("complaint", UPS, REC, REC, TECH),
    ),
    "annoyed_fix_over_correct_escalation": (
        "A customer the frontline fixed, even annoyed on the way, is better served than one handed over to a "
        "specialist, however rightly.",
        c("technical", REC, TECH),
        c("specialist", ESC),
    ),
    "correct_escalation_over_placated_and_left": (
        "Handing a specialist's case over at once beats soothing the customer until they give up.",
        c("specialist", ESC),
        c("specialist", EMP, APO),
    ),
    "escalation_at_once_over_after_three_wasted_turns": (
        "A needed escalation at once beats the same escalation after three turns of fixes that cannot work.",
        c("specialist", ESC),
        c("specialist", TECH, TECH, TECH, ESC),
    ),
    "escalation_at_once_over_after_one_wasted_turn": (
        "Even one wasted turn before a needed escalation makes the customer wait for nothing.",
        c("specialist", ESC),
        c("specialist", QUICK, ESC),
    ),
    "fix_over_needless_escalation": (
        "Fixing a case the frontline can fix beats sending it to a specialist's queue.",
        c("complaint", TECH),
        c("complaint", ESC),
    ),
    "fix_over_needless_escalation_simple": (
        "A one-turn fix beats a needless escalation of a simple question.",
        c("simple", QUICK),
        c("simple", ESC),
    ),
    "solve_first_over_upsell_to_furious": (
        "Selling to a furious customer before solving their problem is worse than solving it.",
        c("furious", APO, QUICK),
        c("furious", UPS, APO, QUICK),
    ),
    "solving_over_upsell_forever_to_furious": (
        "Pushing offers at a furious customer drives them away; solving keeps them.",
        c("furious", APO, QUICK),
        c("furious", UPS, REC),
    ),
    "sooner_over_later": (
        "The same fix sooner beats the same fix after a turn of small talk.",
        c("simple", QUICK),
        c("simple", EMP, QUICK),
    ),
    "sooner_over_much_later": (
        "The same fix at once beats it after three turns of sympathy nobody asked for.",
        c("simple", QUICK),
        c("simple", EMP, APO, EMP, QUICK),
    ),
    "fix_over_placating_forever": (
        "Fixing the problem beats alternating sympathy and apologies until the conversation runs out.",
        c("complaint", TECH),
        c("complaint", EMP, APO),
    ),
    "fix_over_placating_forever_furious": (
        "Even for a furious customer, calming then fixing beats calming forever.",
        c("furious", APO, QUICK),
        c("furious", APO, EMP),
    ),
    "late_fix_over_timeout": (
        "A slow fix is still a fix; running out of time is a failure, not a draw.",
        c("patient_hard", EMP, APO, TECH),
        c("patient_hard", EMP, APO),
    ),
    "late_escalation_over_placating": (
        "Escalating a specialist's case after three wasted turns still beats soothing the customer to the end.",
        c("specialist", TECH, TECH, TECH, ESC),
        c("specialist", EMP, APO),
    ),
    "technical_for_the_expert": (
        "An expert wants the precise technical answer, not a walkthrough of the basics.",
        c("expert", TECH),
        c("expert", EDU),
    ),
    "walkthrough_for_the_novice": (
        "A novice with time wants a walkthrough, not jargon.",
        c("novice", EDU),
        c("novice", TECH),
    ),
    "quick_fix_for_the_simple_issue": (
        "A simple issue wants the quick fix, not a lecture.",
        c("simple", QUICK),
        c("simple", EDU),
    ),
    "fitting_fix_over_brush_off": (
        "A canned quick answer to a hard problem brushes the customer off; the fitting fix does not.",
        c("hard_technical", TECH),
        c("hard_technical", QUICK, QUICK, TECH),
    ),
    "one_offer_over_repeated_offers": (
        "Making an offer once beats repeating it to a customer who heard it.",
        c("receptive", QUICK),
        c("receptive", REC, REC, REC, QUICK),
    ),
    "wanted_sale_then_fix_over_fix_alone": (
        "A happy, receptive VIP asking about products is well served by an offer they take, then the fix.",
        c("receptive", UPS, QUICK),
        c("receptive", QUICK),
    ),
    "no_offer_to_the_furious": (
        "An offer to a furious customer before calming them only makes it worse.",
        c("furious", APO, QUICK),
        c("furious", REC, APO, QUICK),
    ),
    "vip_lost_is_worse_than_basic_lost": (
        "Losing a VIP unhelped costs more than losing a basic customer the same way.",
        c("furious_basic", UPS, REC),
        c("furious_vip", UPS, REC),
    ),
    "vip_fixed_is_worth_more_than_basic_fixed": (
        "Keeping a VIP is worth more than keeping a basic customer with the same fix.",
        c("simple_vip", QUICK),
        c("simple_basic", QUICK),
    ),
    "vip_sale_is_worth_more_than_basic_sale": (
        "The same accepted offer is worth more from a VIP (the tier counted once, in the sale's value).",
        c("receptive", UPS, QUICK),
        c("receptive_basic", UPS, QUICK),
    ),
    "escalation_over_stubborn_solving": (
        "A case only a specialist can solve should go to them, not be attempted until the customer gives up.",
        c("specialist", ESC),
        c("specialist", TECH),
    ),
    "late_escalation_over_none": (
        "Escalating late beats never escalating a specialist's case.",
        c("specialist", TECH, TECH, ESC),
        c("specialist", TECH),
    ),
    "twin_fixed_over_twin_escalated": (
        "The same customer, whose case the frontline can fix, is better fixed than escalated.",
        c("fixable_twin", TECH),
        c("fixable_twin", ESC),
    ),
    "calming_then_fix_over_escalating_the_furious": (
        "A furious customer with a fixable problem is better calmed and helped than passed on.",
        c("furious", APO, QUICK),
        c("furious", ESC),
    ),
    "one_apology_over_three_before_the_fix": (
        "One apology then the fix beats three apologies then the fix.",
        c("furious", APO, QUICK),
        c("furious", APO, EMP, APO, QUICK),
    ),
    "fix_over_stalling_the_patient": (
        "A patient customer is no reason to stall: fixing beats sympathy to the end.",
        c("patient_hard", TECH),
        c("patient_hard", EMP),
    ),
    "fix_over_offers_on_a_complaint": (
        "A complaint wants its fix, not a sales pitch in its place.",
        c("complaint", TECH),
        c("complaint", REC, UPS),
    ),
    "fix_over_needless_escalation_vip": (
        "A VIP with a simple question is better answered than queued for a specialist.",
        c("simple_vip", QUICK),
        c("simple_vip", ESC),
    ),
}


@pytest.mark.parametrize("industry", INDUSTRIES)
@pytest.mark.parametrize("name", list(PAIRS))
def test_the_return_orders_the_pair_as_a_support_lead_would(name: str, industry: str) -> None:
    why, better, worse = PAIRS[name]
    high, low = better.mean_return(industry), worse.mean_return(industry)
    assert high > low, f"{why} ({industry}: {high:+.3f} vs {low:+.3f})"


def test_the_suite_has_at_least_30_pairs_each_with_its_reason() -> None:
    assert len(PAIRS) >= 30
    assert all(why.endswith(".") and len(why) > 30 for why, _, _ in PAIRS.values())
    # every customer a pair names exists, pinned on an inquiry of every industry
    assert {conv.customer for _, a, b in PAIRS.values() for conv in (a, b)} <= set(CUSTOMERS)
    assert np.all([set(roles) == set(ROLES["mixed"]) for roles in ROLES.values()])
