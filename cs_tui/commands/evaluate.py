"""``cs-tui evaluate MODEL|baseline:NAME``: the business metrics of one agent, as tables or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from cs_tui.commands.agent_loading import (
    add_external_agent_flags,
    external_agent_or_report,
    failures_note,
    load_agent_or_report,
    setting_for,
)
from cs_tui.commands.arguments import (
    USAGE_ERROR,
    add_export_flags,
    count_up_to,
    export_problem,
    industry_choices,
    write_exports,
)
from cs_tui.seeds import seed_arg


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="business metrics of a model or baseline",
        description=(
            "Roll an agent out on many conversations: mean return ± 95 % CI, % of oracle, satisfaction, "
            "resolution / escalation / abandonment rates, mean turns, by industry, tier and inquiry, and "
            "strategy usage. Every agent evaluated with the same industry, episodes and seed meets the same customers."
        ),
    )
    parser.add_argument(
        "agent",
        metavar="MODEL|baseline:NAME",
        nargs="?",
        default=None,
        help="a run name, run folder, .zip, or baseline:NAME (or --agent / --agent-cmd)",
    )
    add_external_agent_flags(parser)
    parser.add_argument(
        "--industry",
        choices=industry_choices(),
        default=None,
        help="customers from this industry (default: the model's training industry; mixed for baselines)",
    )
    from cs_env.evaluate import MAX_EPISODES

    parser.add_argument(
        "--episodes",
        type=count_up_to(2, MAX_EPISODES, "the oracle's reference plans every conversation"),
        default=2000,
        help=f"conversations to play (default %(default)s, at most {MAX_EPISODES:,})",
    )
    parser.add_argument(
        "--seed", type=seed_arg(), metavar="SEED", default=0, help="seed of the customers (default %(default)s)"
    )
    parser.add_argument(
        "--json", action="store_true", help="print the report as JSON, with every conversation (for scripts)"
    )
    add_export_flags(parser, "one row per conversation", "one row per group (overall, industry, tier, inquiry) "
                     "with its metrics and strategy use")  # fmt: skip
    parser.add_argument(
        "--population", metavar="FILE", help="customers shifted by a population file (cs_env/population.py)"
    )


def run(args: argparse.Namespace) -> int:
    from cs_env.evaluate import evaluate

    external = args.agent_cmd is not None or args.external_url is not None
    if external == (args.agent is not None):
        print("cs-tui evaluate: error: name one agent: MODEL|baseline:NAME, --agent URL or --agent-cmd CMD",
              file=sys.stderr)  # fmt: skip
        return USAGE_ERROR
    problem = export_problem(args)
    if problem is not None:
        print(f"cs-tui evaluate: error: {problem}", file=sys.stderr)
        return USAGE_ERROR
    if external:
        agent = external_agent_or_report("evaluate", args)
    else:
        agent = load_agent_or_report(
            "evaluate", args.agent, industry=args.industry or "mixed", saves=args.saves, seed=args.seed
        )
    if agent is None:
        return USAGE_ERROR
    population = None
    if args.population is not None:
        from cs_env.population import PopulationError, load

        try:
            population = load(args.population)
        except PopulationError as exc:
            print(f"cs-tui evaluate: error: {exc}", file=sys.stderr)
            return USAGE_ERROR
        if args.industry not in (None, population.industry):
            print(f"cs-tui evaluate: error: --population {args.population} shifts {population.industry}, not "
                  f"--industry {args.industry}: drop --industry", file=sys.stderr)  # fmt: skip
            return USAGE_ERROR
    try:
        industry, max_turns = setting_for(agent, population.industry if population else args.industry)
        catalog = population.catalog if population else None
        report = evaluate(
            agent, industry=industry, episodes=args.episodes, seed=args.seed, max_turns=max_turns, catalog=catalog
        )
    finally:
        if external:
            agent.close()
    note = failures_note(agent)
    from cs_tui import export

    def conversations() -> list[dict[str, Any]]:
        assert report.rollouts is not None
        return export.evaluation_episode_rows(report.rollouts, catalog=catalog, seed=args.seed)

    if not write_exports("evaluate", args, conversations, lambda: export.evaluation_summary_rows(report.as_dict())):
        return USAGE_ERROR
    if args.json:
        extra = {"agent_failures": agent.failures} if external else {}
        print(json.dumps({**report.as_dict(), **extra, "conversations": conversations()}, indent=2))
    elif export.STDOUT in (args.csv, args.summary_csv):
        pass  # the CSV is the output: a table around it would spoil it
    else:
        from cs_tui.evaluation_view import evaluation
        from cs_tui.report import make_console

        make_console().print(evaluation(report.as_dict()))
    if note:
        print(f"cs-tui evaluate: {note}", file=sys.stderr)
    return 0
