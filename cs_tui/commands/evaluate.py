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


def add_external_agent_flags(parser: argparse.ArgumentParser) -> None:
    """``--agent URL``, ``--agent-cmd CMD`` and ``--agent-timeout S``: an agent outside this process."""
    from cs_tui.external import DEFAULT_TIMEOUT, MAX_TIMEOUT

    door = parser.add_mutually_exclusive_group()
    door.add_argument(
        "--agent",
        dest="external_url",
        metavar="URL",
        default=None,
        help="an agent that answers a POST of the observation (see examples/http_agent.py)",
    )
    door.add_argument(
        "--agent-cmd",
        metavar="CMD",
        default=None,
        help='an agent process speaking JSON lines, e.g. "python examples/jsonl_agent.py"',
    )
    parser.add_argument(
        "--agent-timeout",
        type=seconds_up_to(MAX_TIMEOUT),
        default=DEFAULT_TIMEOUT,
        metavar="S",
        help=f"seconds an external agent may take per answer (default {DEFAULT_TIMEOUT:g}, at most {MAX_TIMEOUT:g})",
    )


def seconds_up_to(maximum: float) -> Any:
    """An argparse type: a number of seconds in ``(0, maximum]``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
        if not 0 < value <= maximum:
            raise argparse.ArgumentTypeError(f"must be more than 0 and at most {maximum:g} seconds, got {text}")
        return value

    return parse


def external_agent_or_report(command: str, args: argparse.Namespace) -> Any:
    """The external agent ``--agent``/``--agent-cmd`` name, or ``None`` after printing why it cannot start."""
    from cs_tui.external import external_agent

    try:
        return external_agent(args.external_url, args.agent_cmd, args.agent_timeout)
    except ValueError as exc:
        print(f"cs-tui {command}: error: {exc}", file=sys.stderr)
        return None


def failures_note(agent: Any) -> str | None:
    """For an external agent that failed to answer: how often, and the first reasons; else None."""
    count = getattr(agent, "failure_count", 0)
    if not count:
        return None
    first = "; ".join(dict.fromkeys(agent.failures))  # each reason once
    return f"the agent failed to answer {count} time{'s' if count > 1 else ''} (those conversations failed): {first}"


def add_export_flags(parser: argparse.ArgumentParser, rows: str, summary: str) -> None:
    """``--csv FILE`` (``rows``) and ``--summary-csv FILE`` (``summary``); ``-`` writes to standard output."""
    parser.add_argument("--csv", metavar="FILE", default=None, help=f"also write {rows} as CSV (- for stdout)")
    parser.add_argument(
        "--summary-csv", metavar="FILE", default=None, help=f"also write {summary} as CSV (- for stdout)"
    )


def export_problem(args: argparse.Namespace) -> str | None:
    """Why the export flags cannot be honoured (checked before any conversation is played), or None."""
    from cs_tui.export import STDOUT, target_problem

    named = {"--csv": args.csv, "--summary-csv": args.summary_csv}
    to_stdout = [flag for flag, path in named.items() if path == STDOUT] + (["--json"] if args.json else [])
    if len(to_stdout) > 1:
        return f"{' and '.join(to_stdout)} all write to standard output: send all but one to a file"
    for flag, path in named.items():
        problem = None if path is None else target_problem(path)
        if problem is not None:
            return f"{flag} {problem}"
    return None


def write_exports(command: str, args: argparse.Namespace, rows: Any, summary: Any) -> bool:
    """Write ``rows()`` to ``--csv`` and ``summary()`` to ``--summary-csv`` (each built only if asked for);
    False after printing why one could not be written."""
    from cs_tui.export import write_csv

    for flag, path, build in (("--csv", args.csv, rows), ("--summary-csv", args.summary_csv, summary)):
        if path is None:
            continue
        try:
            write_csv(path, build())
        except OSError as exc:
            print(f"cs-tui {command}: error: cannot write {flag} {path}: {exc.strerror or exc}", file=sys.stderr)
            return False
    return True


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
        help=f"conversations to play (default 2000, at most {MAX_EPISODES:,})",
    )
    parser.add_argument("--seed", type=seed_arg(), metavar="SEED", default=0, help="seed of the customers (default 0)")
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

    if not write_exports("evaluate", args, conversations, lambda: export.evaluation_summary_rows(report)):
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
