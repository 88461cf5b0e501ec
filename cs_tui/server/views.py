"""Two views of every turn: the numeric observation, and the text an LLM agent reads.

The text view holds the customer's words (``cs_env.narrate`` through the env's ``conversation``), the
facts the agent can see (the observation's fields, with names for codes), and the 8 strategies as a tool
in the JSON-schema form of LLM function calling: the agent answers by calling ``respond(strategy,
message?)``. The optional ``message`` is the agent's own words; it is recorded, not scored.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cs_env.domain import N_STRATEGIES, SENTIMENT_NAMES, STRATEGY_NAMES, TIER_NAMES
from cs_env.env import OBS_NAMES, CustomerSupportEnv

#: What each strategy does, for the tool's description (the env's docstring names them; these say it in words).
STRATEGY_WORDS = {
    "empathetic": "acknowledge the customer's feelings and build rapport",
    "technical": "give a detailed technical explanation or fix",
    "escalate": "hand the case to a specialist (ends the conversation)",
    "product_recommend": "suggest a product or service that fits the need",
    "apologetic": "apologise and take responsibility",
    "educational": "explain how things work so the customer can help themselves",
    "quick_resolution": "propose the fastest fix",
    "upsell": "offer an upgrade or an extra service",
}


def respond_tool(max_message_chars: int) -> dict[str, Any]:
    """The ``respond`` tool, as OpenAI-style function calling (and most LLM APIs) take it."""
    listed = "; ".join(f"{name}: {STRATEGY_WORDS.get(name, name)}" for name in STRATEGY_NAMES)
    return {
        "type": "function",
        "function": {
            "name": "respond",
            "description": f"Answer the customer with one of {N_STRATEGIES} strategies ({listed}).",
            "parameters": {
                "type": "object",
                "properties": {
                    "strategy": {"type": "string", "enum": list(STRATEGY_NAMES), "description": "how to answer"},
                    "message": {
                        "type": "string",
                        "maxLength": max_message_chars,
                        "description": "your words to the customer (optional; recorded, not scored)",
                    },
                },
                "required": ["strategy"],
                "additionalProperties": False,
            },
        },
    }


def facts(obs: np.ndarray, env: CustomerSupportEnv) -> dict[str, Any]:
    """The observation as named facts: codes become names (inquiry, sentiment, tier)."""
    seen: dict[str, Any] = {name: float(value) for name, value in zip(OBS_NAMES, obs, strict=False)}
    inquiries = [inquiry.name for inquiry in env.catalog.inquiries]
    named = (("inquiry_type", inquiries), ("sentiment", SENTIMENT_NAMES), ("tier", TIER_NAMES))
    for key, names in named:
        if key in seen and 0 <= int(seen[key]) < len(names):
            seen[key] = names[int(seen[key])]
    for key in ("urgency", "conversation_length"):
        if key in seen:
            seen[key] = int(seen[key])
    return seen


def text_view(obs: np.ndarray, env: CustomerSupportEnv) -> dict[str, Any]:
    """What the customer just said, what the agent said last, and the visible facts."""
    opening, exchanges = env.conversation()
    last = exchanges[-1] if exchanges else None
    return {
        "customer_says": last.customer.text if last else opening.text,
        "agent_said": last.agent.text if last else None,
        "facts": facts(obs, env),
    }


def numbers(values: np.ndarray) -> list[float]:
    """An observation as JSON numbers (finite by the env's contract; checked anyway)."""
    out = [float(x) for x in values]
    if not all(math.isfinite(x) for x in out):
        raise ValueError("the observation holds a value that is not a finite number")
    return out
