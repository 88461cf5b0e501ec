"""Words for a conversation: the customer's and the agent's lines for each turn.

Kept off the ``step()`` path: the env records numbers, and words are made only when someone reads
them (``render``, the demo, the app). Lines vary by industry, inquiry, strategy, sentiment and
outcome; which variant is used is a pure function of the episode's seed and the turn, so the same
episode always reads the same, in any process.

An inquiry without a phrase here (an industry added as a file) is spoken of by its name, so new
industries get words without code.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from functools import cache

from cs_env.domain import ResponseStrategy
from cs_env.industries import default_catalog

S = ResponseStrategy


@dataclass(frozen=True)
class Line:
    """One line of the conversation."""

    speaker: str  # "customer" or "agent"
    text: str


#: How each inquiry is spoken of, in the customer's words: how they bring it up, what they add when
#: they open, and how it is referred to once both know what it is about (the agent says it with "my"
#: and "our" turned into "your": "my return" -> "your return").
TOPICS: dict[str, tuple[str, str, str]] = {
    "account_balance": (
        "my account balance",
        "The app shows a different number from my statement.",
        "the mismatch in my balance",
    ),
    "transaction_dispute": ("a charge on my card", "I never made that payment.", "that charge on my card"),
    "fraud_report": (
        "suspicious activity on my account",
        "There are payments on it that I never made.",
        "the suspicious payments on my account",
    ),
    "loan_application": (
        "my loan application",
        "I want to know where it stands and what my options are.",
        "my question about my loan application",
    ),
    "investment_advice": (
        "my investments",
        "I'd like advice on where to put my savings.",
        "my question about my savings",
    ),
    "order_status": ("my order", "It was supposed to arrive days ago.", "my late order"),
    "product_return": ("returning a product", "It isn't what I ordered.", "my return"),
    "shipping_issue": ("my delivery", "The parcel was marked delivered but it never came.", "my missing parcel"),
    "discount_inquiry": ("a discount", "The promo code didn't apply at checkout.", "the promo code"),
    "product_recommendation": (
        "finding the right product",
        "I'm not sure which model suits me.",
        "my question about which model to buy",
    ),
    "technical_support": ("the app", "It crashes every time I log in.", "the crash at login"),
    "api_integration": ("your API", "Our integration gets 401 errors since this morning.", "our 401 errors"),
    "billing_dispute": ("my invoice", "I was billed twice this month.", "the double charge on my invoice"),
    "bug_report": ("a bug", "Exports come out empty since the last update.", "the empty exports"),
    "feature_request": ("a missing feature", "We need single sign-on for our team.", "our single sign-on request"),
}

#: The agent's empathetic line to a customer who is not upset (neutral or better): no "I hear you".
CALM_EMPATHY = (
    "Thanks for bringing {topic} to us; let's look at it together.",
    "I appreciate you raising {topic}; I'll make sure it's handled properly.",
)

#: Inquiries that ask for something rather than report a problem: the agent's lines that speak of a
#: cause, a fix or an apology for what went wrong are said differently (REQUEST_AGENT).
REQUESTS = frozenset({"investment_advice", "loan_application", "product_recommendation", "feature_request"})

#: The customer's first words, by opening sentiment (angry .. delighted).
OPENINGS: tuple[tuple[str, ...], ...] = (
    (
        "This is unacceptable. I'm calling about {topic}. {detail}",
        "I've had it with you people. It's {topic}. {detail}",
        "Third time I'm contacting you about {topic}! {detail}",
    ),
    (
        "I'm getting frustrated with {topic}. {detail}",
        "Honestly, {topic} has been a headache. {detail}",
        "Can someone finally help me with {topic}? {detail}",
    ),
    (
        "Hi, I have a question about {topic}. {detail}",
        "Hello. I'm contacting you about {topic}. {detail}",
        "Good day, it's about {topic}. {detail}",
    ),
    (
        "Hi there! Quick one about {topic}. {detail}",
        "Hello, hope you're well. I need a hand with {topic}. {detail}",
        "Hi! I was hoping you could help with {topic}. {detail}",
    ),
    (
        "Hello! I love your service, just one thing about {topic}. {detail}",
        "Hi! Always a pleasure. A small question on {topic}. {detail}",
        "Hey! You've been great so far. It's about {topic}. {detail}",
    ),
)
URGENT = (" I need this sorted today.", " It's urgent.", " Please, this can't wait.")
LOYAL = ("", " I've been a premium customer for years.", " I'm one of your VIP clients.")

#: The agent's line per strategy: general variants, then per-industry ones where the strategy's
#: substance depends on the business (what a technical answer or an offer is about).
AGENT: dict[int, tuple[str, ...]] = {
    S.EMPATHETIC: (
        "I completely understand how stressful this must be. Let's get {topic} sorted together.",
        "That sounds really frustrating, and I'm glad you reached out about {topic}.",
        "I hear you. Thank you for your patience while we look into {topic}.",
    ),
    S.TECHNICAL: (
        "Let me walk through exactly what happened with {topic}, step by step.",
        "I've looked at the details of {topic}; here is the precise cause and the fix.",
    ),
    S.ESCALATE: (
        "I'm handing {topic} to a specialist who can resolve it directly; they'll contact you shortly.",
        "This needs our specialist team. I've escalated {topic} with full notes so you won't repeat yourself.",
    ),
    S.PRODUCT_RECOMMEND: (
        "Based on what you've told me, there's an option that would suit you well.",
        "Can I suggest something that would help with {topic}?",
    ),
    S.APOLOGETIC: (
        "I'm truly sorry for the trouble you've had. That shouldn't have happened.",
        "Please accept our apologies for the trouble with {topic}. We let you down.",
        "I apologise for the inconvenience with {topic}; let me make it right.",
    ),
    S.EDUCATIONAL: (
        "Let me explain what's behind {topic}, so you know what to look for next time.",
        "Here's a short guide that covers {topic}, so you can check it yourself next time.",
    ),
    S.QUICK_RESOLUTION: (
        "I can sort out {topic} right now.",
        "Here's the quickest fix for {topic}; let's try it now.",
    ),
    S.UPSELL: (
        "While I have you: an upgrade would give you priority handling whenever you contact us.",
        "Have you considered our premium plan? It covers issues like this one, and more.",
    ),
}
AGENT_BY_INDUSTRY: dict[tuple[int, str], tuple[str, ...]] = {
    # each fits every inquiry of its industry: {topic} carries the specifics
    (S.TECHNICAL, "bfsi"): ("I've gone through the account records behind {topic}; here is exactly what happened.",),
    (S.TECHNICAL, "retail"): ("I've checked our order, stock and carrier records for {topic}; here's what they show.",),
    (S.TECHNICAL, "tech"): (
        "I've checked the logs and your configuration for {topic}: here is the cause and the fix.",
    ),
    (S.EDUCATIONAL, "bfsi"): ("Let me explain how the bank handles {topic}, step by step, and what each stage means.",),
    (S.EDUCATIONAL, "retail"): ("Here's how our store handles {topic}, step by step, so you can check it yourself.",),
    (S.EDUCATIONAL, "tech"): ("Here's the documentation section that covers {topic}, with a worked example.",),
    (S.PRODUCT_RECOMMEND, "bfsi"): ("Our savings account with instant alerts would suit you well.",),
    (S.PRODUCT_RECOMMEND, "retail"): ("Customers who liked this usually love the newer model; it's in stock.",),
    (S.PRODUCT_RECOMMEND, "tech"): ("Our monitoring add-on would catch this kind of problem before you do.",),
    (S.UPSELL, "bfsi"): ("Our premium card comes with a dedicated adviser and fee-free transfers.",),
    (S.UPSELL, "retail"): ("Our membership gives free express delivery and easy returns on every order.",),
    (S.UPSELL, "tech"): ("The enterprise plan includes priority support and a 99.9 % uptime guarantee.",),
}

#: The agent's lines for a request (REQUESTS), for the strategies whose usual lines assume a problem.
REQUEST_AGENT: dict[int, tuple[str, ...]] = {
    S.EMPATHETIC: (
        "That matters, and it deserves a proper answer. Let's work through {topic} together.",
        "Thanks for reaching out about {topic}; I'm glad to help.",
        "I hear you. Thank you for your patience while we look into {topic}.",
    ),
    S.TECHNICAL: (
        "Let me go through the details of {topic} with you, point by point.",
        "I've looked at your details; here are the specifics on {topic}.",
    ),
    S.EDUCATIONAL: (
        "Let me explain the options, so you can settle {topic} with confidence.",
        "Here's a short guide that covers {topic}, so you can decide with all the facts.",
    ),
    S.QUICK_RESOLUTION: (
        "Here's the short answer to {topic}.",
        "Here's a quick summary on {topic}.",
    ),
    S.APOLOGETIC: (
        "I'm sorry you've had to wait for an answer to {topic}.",
        "Apologies for the delay with {topic}; let me put that right.",
    ),
}

#: The customer's reply when the conversation goes on, by how the turn moved their mood.
BETTER = (
    "Okay, that helps a bit.",
    "Right, thank you. That's more like it.",
    "Good, we're getting somewhere.",
)
SAME_UPSET = (
    "That doesn't answer my question.",
    "I still don't see how that helps.",
    "You're not listening to me.",
)
SAME_CALM = (
    "Okay. What's next?",
    "I see. And then?",
    "Alright, go on.",
)
WORSE = (
    "Now I'm even more annoyed.",
    "That's not what I asked for at all.",
    "Seriously? This is getting worse.",
)
#: The reply of a customer who was calm when the turn made things worse.
WORSE_CALM = (
    "Hmm, that's not really what I was after.",
    "That doesn't quite help, to be honest.",
)
#: How much satisfaction must move for the customer to say it got better or worse.
NOTICEABLE = 0.03
#: The customer's last words, by outcome (resolved ones also by how happy they end up).
RESOLVED_HAPPY = (
    "Perfect, that's sorted. Thank you so much!",
    "Brilliant, that's exactly what I needed. Thanks!",
    "Great service, thank you for sorting out {topic}.",
)
RESOLVED_GRUDGING = (
    "Fine, it's fixed. It shouldn't have taken this much effort.",
    "Okay, that works. Finally.",
    "It's resolved, I suppose. Thanks.",
)
ESCALATED_RIGHT = (
    "Thank you, a specialist is exactly what this needs.",
    "Good, I'd rather talk to someone who can act on it.",
)
ESCALATED_WRONG = (
    "Really? Passing me on for something this simple?",
    "So I have to explain it all over again to someone else?",
)
ABANDONED = (
    "Forget it. I'll take my business elsewhere.",
    "I don't have time for this. Goodbye.",
    "This is going nowhere. I'm done.",
)
#: Leaving without being upset: out of time or patience, not angry.
ABANDONED_CALM = (
    "Sorry, I've run out of time for this. I'll try again another day.",
    "I have to go now; I'll find another way to sort it.",
)
TIMEOUT = (
    "I've been at this far too long. I'll call back.",
    "We've gone round in circles. I have to go.",
)


@cache
def _industry_of(inquiry: str) -> str | None:
    for inq in default_catalog().inquiries:
        if inq.name == inquiry:
            return inq.industry
    return None


def _pick(options: tuple[str, ...], seed: int, *keys: object) -> str:
    """A variant chosen by a stable hash of the seed and keys (``hash()`` is salted per process)."""
    digest = zlib.crc32(repr((seed, *keys)).encode())
    return options[digest % len(options)]


def _topic(inquiry: str) -> tuple[str, str, str]:
    name = inquiry.replace("_", " ")
    return TOPICS.get(inquiry, (name, "", f"the {name}"))


def _yours(topic: str) -> str:
    """The customer's words for their issue as the agent says them: "my order" -> "your order"."""
    return re.sub(r"\b(?:my|our)\b", "your", topic)


def opening_line(*, inquiry: str, sentiment: int, urgency: int, tier: int, seed: int) -> Line:
    """The customer's first words: their issue, as they feel about it on arrival."""
    topic, detail, _ = _topic(inquiry)
    text = _pick(OPENINGS[sentiment], seed, "open").format(topic=topic, detail=detail).strip()
    if urgency >= 3:
        text += _pick(URGENT, seed, "urgent")
    if tier > 0 and sentiment <= 1:  # valued customers who are upset remind you of it
        text += LOYAL[tier]
    return Line("customer", text)


def narrate(
    *,
    inquiry: str,
    strategy: int,
    sentiment_before: int,
    sentiment_after: int,
    outcome: str,
    turn: int,
    seed: int,
    satisfaction_change: float | None = None,
) -> tuple[Line, Line]:
    """The agent's line for ``strategy`` and the customer's reply, for turn ``turn`` (1-based).

    ``outcome`` is the conversation's outcome after the turn (``"ongoing"`` while it goes on); an
    escalation that lifted the mood was one the customer needed. ``satisfaction_change``, when known,
    decides whether the customer says it got better or worse (a rise within one sentiment band still
    shows); without it the sentiment bands do.
    """
    topic = _topic(inquiry)[2]  # by now both know what it is about
    options = REQUEST_AGENT.get(strategy, ()) if inquiry in REQUESTS else ()
    if not options and strategy == S.EMPATHETIC and sentiment_before >= 2:
        options = CALM_EMPATHY
    options = options or AGENT[strategy] + AGENT_BY_INDUSTRY.get((strategy, _industry_of(inquiry) or ""), ())
    agent = _pick(options, seed, "agent", turn).format(topic=_yours(topic))
    if satisfaction_change is None:
        better, worse = sentiment_after > sentiment_before, sentiment_after < sentiment_before
    else:
        better, worse = satisfaction_change > NOTICEABLE, satisfaction_change < -NOTICEABLE
    if outcome == "resolved":
        reply = _pick(RESOLVED_HAPPY if sentiment_after >= 3 else RESOLVED_GRUDGING, seed, "end")
    elif outcome == "escalated":
        reply = _pick(ESCALATED_RIGHT if sentiment_after > sentiment_before else ESCALATED_WRONG, seed, "end")
    elif outcome == "abandoned":
        reply = _pick(ABANDONED if sentiment_after <= 1 else ABANDONED_CALM, seed, "end")
    elif outcome == "timeout":
        reply = _pick(TIMEOUT, seed, "end")
    elif better:
        reply = _pick(BETTER, seed, "reply", turn)
    elif worse:
        reply = _pick(WORSE if sentiment_before <= 1 else WORSE_CALM, seed, "reply", turn)
    else:
        reply = _pick(SAME_UPSET if sentiment_after <= 1 else SAME_CALM, seed, "reply", turn)
    return Line("agent", agent), Line("customer", reply.format(topic=topic))
