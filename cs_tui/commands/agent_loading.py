"""Turning what a command was told (an agent spec, ``--agent URL``, ``--agent-cmd CMD``) into an agent, or
into a clear error and exit status 2: shared by evaluate, test, demo and playbook.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cs_tui.commands.arguments import industry_choices, seconds_up_to

#: The shipped default agent: a run under the saves folder (``saves/default``).
DEFAULT_POLICY = "default"


def load_agent_or_report(
    command: str, spec: str, *, industry: str, saves: str | None, seed: int, max_turns: int = 10
) -> Any:
    """The agent ``spec`` names, or ``None`` after printing why it cannot be loaded (to stderr).

    An unknown spec or an unreadable model file is bad input: the caller exits with status 2. The
    message lists the valid choices (from ``load_agent``), and for the missing default agent says how
    to get it or pick a baseline.
    """
    from cs_tui.agents import AgentError, baseline_specs, load_agent
    from cs_tui.training.model_file.format import ModelLoadError
    from cs_tui.training.runs import saves_dir

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


def setting_for(agent: Any, industry: str | None) -> tuple[str, int]:
    """Industry and turn limit to run ``agent`` in: ``industry`` if given; for a model, what it was trained on."""
    from cs_env.files import is_int  # (late: the env is not loaded for --help)

    max_turns = 10
    if agent.kind == "model":
        trained = agent.meta.get("max_turns")
        max_turns = trained if is_int(trained) and trained > 0 else 10
        if industry is None and agent.meta.get("industry") in (industry_choices() or ()):
            industry = str(agent.meta["industry"])
    return industry or "mixed", max_turns
