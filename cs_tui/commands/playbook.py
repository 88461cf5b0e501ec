"""``cs-tui playbook distill | show``: turn an agent into a playbook file; show a playbook's rules at work."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cs_tui.commands.agent_loading import DEFAULT_POLICY, load_agent_or_report
from cs_tui.commands.arguments import USAGE_ERROR, count_up_to, industry_choices

#: the most sizes one distill compares, and the most rules a distilled playbook may have
MAX_SIZES = 8
#: the most agents, and the most populations, one compare plays
MAX_COMPARED = 8
MAX_DISTILL_RULES = 100
#: the most validation customers a distillation's search judges changes on (it keeps every turn of theirs)
MAX_VALIDATION = 100_000
BAR_WIDTH = 20


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from cs_env.evaluate import MAX_EPISODES
    from cs_tui.distill import DISTILL_SEED, HELDOUT_EPISODES, TRADEOFF_SIZES, VALIDATION_EPISODES
    from cs_tui.seeds import seed_arg

    parser = subparsers.add_parser(
        "playbook",
        help="distill an agent into a playbook file of readable rules; show a playbook's rules at work",
        description="Playbooks are TOML files of ordered rules (see playbooks/heuristic.toml); any command "
        "that takes an agent takes playbook:FILE.",
    )
    actions = parser.add_subparsers(dest="playbook_command", metavar="{distill,show,compare}", required=True)
    episodes = count_up_to(2, MAX_EPISODES, "the oracle reference keeps every conversation in memory")

    distill = actions.add_parser(
        "distill",
        help="a playbook that imitates an agent (DAgger over a decision tree)",
        description="Imitate MODEL (a run, default, baseline:NAME or playbook:FILE) with a decision tree over the "
        "observation's named features, DAgger over the playbook's own conversations, then a search over the rules "
        "for return on validation customers; write the rules to --out "
        "and report the agent and the playbook side by side on the same held-out customers, and the trade-off "
        "between the number of rules and the score.",
    )
    distill.add_argument(
        "agent", nargs="?", default=DEFAULT_POLICY, metavar="MODEL", help="the teacher (default: default)"
    )
    distill.add_argument("--out", required=True, metavar="FILE", help="the playbook file to write (.toml)")
    distill.add_argument(
        "--max-rules",
        type=count_up_to(1, MAX_DISTILL_RULES, "a person reads every rule"),
        default=15,
        metavar="N",
        help="the most rules the written playbook has (default %(default)s)",
    )
    distill.add_argument(
        "--sizes",
        default=",".join(map(str, TRADEOFF_SIZES)),
        metavar="N,N,...",
        help=f"rule counts of the trade-off table (default {','.join(map(str, TRADEOFF_SIZES))}; '' for none)",
    )
    distill.add_argument(
        "--episodes",
        type=episodes,
        default=HELDOUT_EPISODES,
        metavar="E",
        help=f"held-out customers every figure is measured on (default {HELDOUT_EPISODES:,})",
    )
    distill.add_argument("--industry", choices=industry_choices(), default="mixed", help="default: mixed")
    distill.add_argument(
        "--seed",
        type=seed_arg(),
        default=DISTILL_SEED,
        metavar="SEED",
        help=f"seed of the customers the playbook learns from (default {DISTILL_SEED}); the same seed and "
        "teacher write the same file",
    )
    distill.add_argument(
        "--validation",
        type=count_up_to(100, MAX_VALIDATION, "the search keeps every turn of theirs in memory"),
        default=None,
        metavar="N",
        help=f"validation customers the search for return judges each change on (default "
        f"{VALIDATION_EPISODES:,}); more fit the rules less to them and take longer: 30,000 gave 15 rules "
        "of default 0.6 points more of the oracle in 13 minutes instead of 8, but a lower pass^4",
    )
    distill.add_argument("--json", action="store_true", help="print the report as JSON")

    show = actions.add_parser(
        "show",
        help="a playbook's rules, how often each fires and its %% of oracle where it fires",
        description="Print the rules of FILE in words, each with how often it fires (share of turns and of "
        "conversations) and the playbook's %% of oracle on the conversations where it fires.",
    )
    show.add_argument("file", metavar="FILE", help="a playbook file (.toml)")
    show.add_argument(
        "--episodes", type=episodes, default=2000, metavar="E", help="conversations (default %(default)s)"
    )
    show.add_argument("--industry", choices=industry_choices(), default="mixed", help="default: mixed")
    show.add_argument("--json", action="store_true", help="print the rules and figures as JSON")

    compare = actions.add_parser(
        "compare",
        help="several agents or playbooks under shifted customer populations",
        description="The %% of oracle and resolution rate of each AGENT (playbook:FILE, a run, baseline:NAME) under "
        "each population file (a TOML of overrides on an industry: see cs_env/population.py), beside the "
        "industry as shipped, each on the same customers.",
    )
    compare.add_argument("agents", nargs="+", metavar="AGENT", help=f"at most {MAX_COMPARED}")
    compare.add_argument("--populations", nargs="+", required=True, metavar="FILE", help=f"at most {MAX_COMPARED}")
    compare.add_argument(
        "--episodes", type=episodes, default=2000, metavar="E", help="customers each (default %(default)s)"
    )
    compare.add_argument("--json", action="store_true", help="print the table as JSON")


def run(args: argparse.Namespace) -> int:
    commands = {"distill": _distill, "show": _show, "compare": _compare}
    return commands[args.playbook_command](args)


def _compare(args: argparse.Namespace) -> int:
    from cs_env.population import PopulationError, load

    for what, items in (("agents", args.agents), ("--populations", args.populations)):
        if len(items) > MAX_COMPARED:
            print(f"cs-tui playbook compare: error: {len(items)} {what}; at most {MAX_COMPARED}", file=sys.stderr)
            return USAGE_ERROR
    try:
        populations = [load(path) for path in args.populations]
    except PopulationError as exc:
        print(f"cs-tui playbook compare: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    from cs_env.industries import default_catalog

    shipped = {p.industry for p in populations}
    settings = [(f"{name} (as shipped)", name, default_catalog()) for name in sorted(shipped)]
    settings += [(f"{p.title} ({p.industry})", p.industry, p.catalog) for p in populations]
    rows = []
    for spec in args.agents:
        agent = load_agent_or_report("playbook compare", spec, industry="mixed", saves=args.saves, seed=0)
        if agent is None:
            return USAGE_ERROR
        for label, industry, catalog in settings:
            rows.append(
                {"agent": agent.name, "population": label, **shifted_score(agent, industry, catalog, args.episodes)}
            )
    if args.json:
        print(json.dumps({"episodes": args.episodes, "rows": rows}, indent=2))
        return 0
    from rich.table import Table

    from cs_tui import report as render

    table = Table("agent", "population", "% of oracle", "resolved", title=f"{args.episodes:,} customers each")
    for row in rows:
        table.add_row(row["agent"], row["population"], f"{row['pct_of_oracle']:.1f}", f"{row['resolution_rate']:.0%}")
    render.make_console().print(table)
    return 0


def shifted_score(policy: Any, industry: str, catalog: Any, episodes: int, seed: int = 0) -> dict[str, float]:
    """``policy``'s % of oracle and resolution rate on ``episodes`` customers of ``industry`` drawn from
    ``catalog`` (a population's), the random policy and the oracle meeting the same customers."""
    from cs_env.evaluate import metrics, normalized_score, rollout
    from cs_env.policies import OraclePolicy, RandomPolicy

    def play(p: Any) -> Any:
        return metrics(rollout(p, industry=industry, episodes=episodes, seed=seed, catalog=catalog))

    ours = play(policy)
    low, high = play(RandomPolicy(seed)), play(OraclePolicy(industry, seed=seed, catalog=catalog))
    return {
        "pct_of_oracle": 100 * normalized_score(ours.mean_return, low.mean_return, high.mean_return),
        "resolution_rate": ours.resolution_rate,
        "mean_return": ours.mean_return,
    }


def _sizes(text: str) -> list[int] | str:
    """The --sizes list, or why it is not one."""
    sizes = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        if not part.isdigit() or not 1 <= int(part) <= MAX_DISTILL_RULES:
            return f"--sizes: {part!r} is not a rule count from 1 to {MAX_DISTILL_RULES}"
        sizes.append(int(part))
    if len(sizes) > MAX_SIZES:
        return f"--sizes: {len(sizes)} sizes; at most {MAX_SIZES}"
    return sorted(set(sizes))


def seed_problem(seed: int) -> str | None:
    """Why ``seed`` cannot seed a distillation (its customers would be the held-out ones), or None."""
    from cs_tui.distill import DAGGER_ROUNDS, HELDOUT_SEED

    if HELDOUT_SEED in range(seed, seed + DAGGER_ROUNDS + 1):
        return (
            f"the playbook would learn from seeds {seed} to {seed + DAGGER_ROUNDS}, which include the held-out "
            f"customers' seed {HELDOUT_SEED}; pick a seed above {HELDOUT_SEED}"
        )
    return None


def _distill(args: argparse.Namespace) -> int:
    from cs_env.playbook import loads
    from cs_tui.distill import distill, measure
    from cs_tui.distill import tradeoff as distill_tradeoff
    from cs_tui.files import write_report

    sizes = _sizes(args.sizes)
    if isinstance(sizes, str):
        print(f"cs-tui playbook distill: error: {sizes}", file=sys.stderr)
        return USAGE_ERROR
    out = Path(args.out)
    if out.is_dir() or not out.parent.is_dir():
        print(f"cs-tui playbook distill: error: --out {out}: not a file in an existing folder", file=sys.stderr)
        return USAGE_ERROR
    clash = seed_problem(args.seed)
    if clash is not None:
        print(f"cs-tui playbook distill: error: --seed {args.seed}: {clash}", file=sys.stderr)
        return USAGE_ERROR
    teacher = load_agent_or_report("playbook distill", args.agent, industry=args.industry, saves=args.saves, seed=0)
    if teacher is None:
        return USAGE_ERROR
    common = {"industry": args.industry, "max_turns": 10}
    searched = {"seed": args.seed, "validation": args.validation}
    made = distill(teacher, args.max_rules, name=f"playbook:{out}", **searched, **common)
    text = (
        f"# distilled from {teacher.name} by: cs-tui playbook distill {args.agent} --max-rules {args.max_rules} "
        f"--seed {args.seed}"
        + (f" --industry {args.industry}" if args.industry != "mixed" else "")
        + (f" --validation {args.validation}" if args.validation is not None else "")
        + "\n"
    )
    text += made.playbook.dumps()
    playbook = loads(text, source=str(out), name=f"playbook:{out}")  # measured as written
    try:
        write_report(out, text)
    except OSError as exc:
        print(f"cs-tui playbook distill: error: cannot write --out {out}: {exc.strerror or exc}", file=sys.stderr)
        return USAGE_ERROR
    agent_m = measure(teacher, teacher, episodes=args.episodes, **common)
    playbook_m = measure(playbook, teacher, episodes=args.episodes, **common)
    tradeoff = distill_tradeoff(teacher, sizes, episodes=args.episodes, made=made, **searched, **common)
    report = {
        "agent": {"name": teacher.name, **agent_m},
        "playbook": {"file": str(out), "rules": len(playbook.rules), "seconds": made.seconds, **playbook_m},
        "episodes": args.episodes,
        "industry": args.industry,
        "situations": made.situations,
        "tradeoff": tradeoff,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_distill(report)
    return 0


def _row(name: str, m: dict[str, Any], rules: str) -> list[str]:
    return [
        name,
        f"{m['pct_of_oracle']:.1f}",
        f"{m['pass_rate']:.0%}",
        f"{m['pass^4']:.2f}",
        f"{m['agreement']:.0%}",
        rules,
    ]


def _print_distill(report: dict[str, Any]) -> None:
    from rich.table import Table

    from cs_tui import report as render

    console = render.make_console()
    heads = ("", "% of oracle", "pass rate", "pass^4", "agrees", "rules")
    table = Table(*heads, title=f"on the same {report['episodes']:,} held-out customers ({report['industry']})")
    table.add_row(*_row(report["agent"]["name"], report["agent"], "-"))
    p = report["playbook"]
    table.add_row(*_row(p["file"], p, str(p["rules"])))
    console.print(table)
    console.print(f"distilled in {p['seconds']:.1f} s from {report['situations']:,} situations; written to {p['file']}")
    if not report["tradeoff"]:
        return
    trade = Table("max", "rules", "% of oracle", "pass rate", "pass^4", "agrees", "", title="rules vs. score")
    agent_pct = report["agent"]["pct_of_oracle"]
    for row in report["tradeoff"]:
        filled = round(BAR_WIDTH * max(0.0, min(row["pct_of_oracle"], 100.0)) / 100)
        bar = "█" * filled + "·" * (BAR_WIDTH - filled)
        cells = _row(str(row["max_rules"]), row, "")[1:5]
        trade.add_row(str(row["max_rules"]), str(row["rules"]), *cells, bar)
    agent_filled = round(BAR_WIDTH * max(0.0, min(agent_pct, 100.0)) / 100)
    trade.add_row("agent", "-", f"{agent_pct:.1f}", "", "", "", "█" * agent_filled + "·" * (BAR_WIDTH - agent_filled))
    console.print(trade)


def _show(args: argparse.Namespace) -> int:
    from cs_env.playbook import PlaybookError, load

    try:
        playbook = load(args.file)
    except PlaybookError as exc:
        print(f"cs-tui playbook show: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    rows = rule_figures(playbook, industry=args.industry, episodes=args.episodes)
    if args.json:
        print(json.dumps({"file": args.file, "episodes": args.episodes, "rules": rows}, indent=2))
        return 0
    from rich.table import Table

    from cs_tui import report as render

    table = Table(
        "#", "rule", "turns", "conversations", "% of oracle", title=f"{args.file}: {args.episodes:,} conversations"
    )
    for row in rows:
        pct = "-" if row["pct_of_oracle"] is None else f"{row['pct_of_oracle']:.1f}"
        words = row["rule"] + (f"\n[dim]{row['note']}[/dim]" if row["note"] else "")
        table.add_row(str(row["number"]), words, f"{row['turn_share']:.1%}", f"{row['conversation_share']:.1%}", pct)
    render.make_console().print(table)
    return 0


def rule_figures(
    playbook: Any, *, industry: str, episodes: int, seed: int = 0, max_turns: int = 10
) -> list[dict[str, Any]]:
    """Each rule in words with the share of turns and conversations where it fires, and the playbook's % of
    oracle on the conversations where it fires (None where it never fires or the oracle's lead is noise)."""
    import numpy as np

    from cs_env.evaluate import MIN_REFERENCE_GAP, reference_rollouts, rollout

    n_rules = len(playbook.rules)
    fired_in = np.zeros((n_rules, episodes), dtype=bool)
    turns = np.zeros(n_rules, dtype=np.int64)

    class Watch:
        needs_episodes = True

        def __call__(self, obs: np.ndarray, episodes: np.ndarray) -> np.ndarray:
            actions, fired = playbook.decide(obs)
            fired_in[fired, episodes] = True
            turns[:] += np.bincount(fired, minlength=n_rules)
            return np.asarray(actions)

    r = rollout(Watch(), industry=industry, episodes=episodes, seed=seed, max_turns=max_turns)
    random_r, oracle_r = reference_rollouts(industry, episodes, seed, max_turns)
    rows = []
    for i, rule in enumerate(playbook.rules):
        mask = fired_in[i]
        pct = None
        if mask.any():
            low, high = random_r.returns[mask].mean(), oracle_r.returns[mask].mean()
            if high - low >= MIN_REFERENCE_GAP:
                pct = float(100 * (r.returns[mask].mean() - low) / (high - low))
        rows.append(
            {
                "number": i + 1,
                "rule": playbook.describe(i),
                "note": rule.note,
                "turn_share": float(turns[i] / max(1, turns.sum())),
                "conversation_share": float(mask.mean()),
                "pct_of_oracle": pct,
            }
        )
    return rows
