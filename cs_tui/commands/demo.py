"""``cs-tui demo``: watch an agent handle a few customers, narrated turn by turn.

Each conversation shows the customer's tier and urgency, every line with the customer's mood, and
each turn's reward split into its four components (satisfaction, efficiency, business impact,
escalation penalty). Conversation ``i`` is ``CustomerSupportEnv(industry).reset(seed=seed + i)``.
"""

from __future__ import annotations

import argparse

from cs_tui.commands.evaluate import (
    DEFAULT_POLICY,
    USAGE_ERROR,
    at_least,
    count_up_to,
    industry_choices,
    load_agent_or_report,
    setting_for,
)
from cs_tui.seeds import seed_arg


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="narrated conversations of an agent with simulated customers",
        description=(
            "Play a few conversations with an agent and print them narrated: sentiment, tier and each turn's "
            "reward breakdown (sat = satisfaction, eff = efficiency, biz = business impact, esc = escalation penalty)."
        ),
    )
    parser.add_argument("--industry", choices=industry_choices(), default=None, help="default: the model's, or mixed")
    parser.add_argument(
        "--episodes",
        type=count_up_to(1, 10_000, "each is printed in full"),
        default=5,
        help="conversations to show (default 5)",
    )
    parser.add_argument(
        "--policy",
        metavar="MODEL|baseline:NAME",
        default=DEFAULT_POLICY,
        help=f"the agent (default: the shipped agent {DEFAULT_POLICY!r}; e.g. baseline:heuristic)",
    )
    parser.add_argument(
        "--seed", type=seed_arg(), metavar="SEED", default=0, help="seed of the first conversation (default 0)"
    )


def run(args: argparse.Namespace) -> int:
    from cs_env.env import CustomerSupportEnv
    from cs_tui import report as render

    agent = load_agent_or_report(
        "demo", args.policy, industry=args.industry or "mixed", saves=args.saves, seed=args.seed
    )
    if agent is None:
        return USAGE_ERROR
    industry, max_turns = setting_for(agent, args.industry)
    console = render.make_console()
    env = CustomerSupportEnv(industry, max_turns=max_turns)
    returns, outcomes = [], []
    for episode in range(args.episodes):
        obs, info = env.reset(seed=args.seed + episode)
        done, total = False, 0.0
        while not done:
            action = agent(obs, state=env.hidden_state) if agent.needs_state else agent(obs)
            obs, reward, terminated, truncated, info = env.step(action)
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
        outcomes.append(str(info["outcome"]))
        title = f"{episode + 1}/{args.episodes} · {agent.name} · seed {args.seed + episode}"
        console.print(render.conversation(env, title))
    counts = ", ".join(
        f"{n} {name}" for name in ("resolved", "escalated", "abandoned", "timeout") if (n := outcomes.count(name))
    )
    mean = sum(returns) / len(returns)
    plural = "s" if len(returns) != 1 else ""
    console.print(
        f"{agent.name} on {industry}: mean return {mean:+.2f} over {len(returns)} conversation{plural} ({counts})"
    )
    return 0
