"""``cs-tui evaluate MODEL|baseline:NAME``: the business metrics of one agent, as tables or JSON.

Also home of what the three read-only commands (evaluate, test, demo) share: turning an agent spec
into an agent, or into a clear error and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cs_tui.seeds import seed_arg

#: The shipped default agent: a run under the saves folder (``saves/default``).
DEFAULT_POLICY = "default"
USAGE_ERROR = 2


def at_least(minimum: int) -> Any:
    """An argparse type: an integer ``>= minimum`` (else a usage error, exit status 2)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def count_up_to(minimum: int, maximum: int, why: str) -> Any:
    """An argparse type: an integer in ``[minimum, maximum]``; ``why`` says what the maximum protects."""
    lower = at_least(minimum)

    def parse(text: str) -> int:
        value = lower(text)
        if value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum:,} ({why}), got {value:,}")
        return value

    return parse


def industry_choices() -> tuple[str, ...] | None:
    """Valid ``--industry`` values (every industry file, and mixed); None while the industry files
    cannot be read (``cs-tui`` then names the file and the problem once ``--help`` has had its say)."""
    from cs_env.env import valid_industries
    from cs_env.industries import IndustryDataError

    try:
        return valid_industries()
    except IndustryDataError:
        return None


def load_agent_or_report(
    command: str, spec: str, *, industry: str, saves: str | None, seed: int, max_turns: int = 10
) -> Any:
    """The agent ``spec`` names, or ``None`` after printing why it cannot be loaded (to stderr).

    An unknown spec or an unreadable model file is bad input: the caller exits with status 2. The
    message lists the valid choices (from ``load_agent``), and for the missing default agent says how
    to get it or pick a baseline.
    """
    from cs_tui.agents import AgentError, baseline_specs, load_agent
    from cs_tui.training.runs import saves_dir
    from cs_tui.training.safe_load import ModelLoadError

    root = saves_dir(saves)
    try:
        return load_agent(spec, industry=industry, max_turns=max_turns, saves=Path(root), seed=seed)
    except AgentError as exc:
        if spec == DEFAULT_POLICY and not (root / DEFAULT_POLICY).exists():
            # evaluate names its agent as an argument; demo and test take --policy
            instead = f"cs-tui {command} " + (
                "baseline:heuristic" if command == "evaluate" else "--policy baseline:heuristic"
            )
            message = (
                f"the default agent {DEFAULT_POLICY!r} is not in {root}/ (it ships as saves/default in the "
                "repository: run from the checkout or pass --saves DIR; or train one with "
                f"`cs-tui train --name {DEFAULT_POLICY}`). To use a baseline instead: {instead} "
                f"(valid baselines: {', '.join(baseline_specs())})"
            )
        else:
            message = str(exc)
    except (ModelLoadError, OSError) as exc:
        message = f"cannot load agent {spec!r}: {exc}"
    except ValueError as exc:  # e.g. a model for another env layout
        message = f"cannot use agent {spec!r}: {exc}"
    print(f"cs-tui {command}: error: {message}", file=sys.stderr)
    return None


def setting_for(agent: Any, industry: str | None) -> tuple[str, int]:
    """Industry and turn limit to run ``agent`` in: ``industry`` if given; for a model, what it was trained on."""
    max_turns = 10
    if agent.kind == "model":
        trained = agent.meta.get("max_turns")
        max_turns = trained if isinstance(trained, int) and not isinstance(trained, bool) and trained > 0 else 10
        if industry is None and agent.meta.get("industry") in (industry_choices() or ()):
            industry = str(agent.meta["industry"])
    return industry or "mixed", max_turns


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
    parser.add_argument("agent", metavar="MODEL|baseline:NAME", help="a run name, run folder, .zip, or baseline:NAME")
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
        help=f"conversations to play (default 2000, at most {MAX_EPISODES:,})",
    )
    parser.add_argument("--seed", type=seed_arg(), metavar="SEED", default=0, help="seed of the customers (default 0)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON (for scripts)")


def run(args: argparse.Namespace) -> int:
    from cs_env.evaluate import evaluate

    agent = load_agent_or_report(
        "evaluate", args.agent, industry=args.industry or "mixed", saves=args.saves, seed=args.seed
    )
    if agent is None:
        return USAGE_ERROR
    industry, max_turns = setting_for(agent, args.industry)
    report = evaluate(agent, industry=industry, episodes=args.episodes, seed=args.seed, max_turns=max_turns)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
        return 0
    from cs_tui.evaluation_view import evaluation
    from cs_tui.report import make_console

    make_console().print(evaluation(report.as_dict()))
    return 0
