"""``cs-tui test``: run the scenario catalog with an agent; exit non-zero when it misses the thresholds.

Exit status: 0 thresholds met, 1 thresholds missed, 2 bad input (unknown flag or industry, an agent
that cannot be loaded, a malformed thresholds file). ``--junit FILE`` writes one test case per
scenario (failed when it misses its own threshold) and one for the overall thresholds, so a CI
pipeline can show which situations a new model handles worse.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree as ET

from cs_tui.commands.agent_loading import (
    DEFAULT_POLICY,
    add_external_agent_flags,
    external_agent_or_report,
    failures_note,
    load_agent_or_report,
)
from cs_tui.commands.arguments import (
    USAGE_ERROR,
    add_export_flags,
    at_least,
    count_up_to,
    export_problem,
    industry_choices,
    write_exports,
)
from cs_tui.seeds import seed_arg

if TYPE_CHECKING:
    from cs_env.scenarios import Scenario, ScenarioResult, Thresholds

#: Trials per scenario unless told otherwise: here and in the app's scenario runner alike.
DEFAULT_TRIALS = 16
MAX_TRIALS = 10_000

THRESHOLDS_MISSED = 1


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "test",
        help="run the scenario catalog: pass rate and pass^k per scenario",
        description=(
            "Run every scenario of the catalog (cs_env/scenarios/*.toml) --trials times with an agent and print "
            "per scenario the pass rate and pass^k (the chance that k trials all pass). Exits 1 when the agent "
            "misses the thresholds (cs_env/scenarios/thresholds.toml, or --thresholds FILE), 2 on bad input."
        ),
    )
    parser.add_argument(
        "--policy",
        metavar="MODEL|baseline:NAME",
        default=DEFAULT_POLICY,
        help=f"the agent to test (default: the shipped agent {DEFAULT_POLICY!r}; e.g. baseline:heuristic)",
    )
    add_external_agent_flags(parser)
    parser.add_argument(
        "--trials",
        type=count_up_to(1, MAX_TRIALS, "every trial's record is kept for the report"),
        default=DEFAULT_TRIALS,
        help=f"trials per scenario (default {DEFAULT_TRIALS}, at most {MAX_TRIALS:,})",
    )
    parser.add_argument("--k", type=at_least(1), default=None, help="pass^k at this k (default: the thresholds file's)")
    parser.add_argument(
        "--seed", type=seed_arg(), metavar="SEED", default=0, help="env seed of the first trial (default %(default)s)"
    )
    parser.add_argument(
        "--industry",
        choices=industry_choices(),
        default=None,
        help="only this industry's scenarios (default: a model's training industry; every scenario for baselines)",
    )
    parser.add_argument(
        "--thresholds", metavar="FILE", default=None, help="a thresholds .toml (default: the shipped one)"
    )
    parser.add_argument("--junit", metavar="FILE", default=None, help="also write the results as JUnit XML")
    parser.add_argument("--json", action="store_true", help="print the results as JSON, with every trial's record")
    add_export_flags(parser, "one row per trial of each scenario", "one row per scenario (pass rate, pass^k)")


def run(args: argparse.Namespace) -> int:
    from cs_env.scenarios import ScenarioDataError, load_scenarios, load_thresholds

    try:
        catalog = load_scenarios()
        thresholds = load_thresholds(Path(args.thresholds) if args.thresholds else None, scenarios=catalog)
    except ScenarioDataError as exc:
        print(f"cs-tui test: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    if args.junit:  # checked before the trials run, not after minutes of work
        from cs_tui.files import report_target_problem

        problem = report_target_problem(args.junit)
        if problem is not None:
            print(f"cs-tui test: error: --junit {problem}", file=sys.stderr)
            return USAGE_ERROR
    problem = export_problem(args)
    if problem is not None:
        print(f"cs-tui test: error: {problem}", file=sys.stderr)
        return USAGE_ERROR
    k = args.k or thresholds.k
    if k > args.trials:
        print(
            f"cs-tui test: error: pass^{k} needs at least {k} trials; got --trials {args.trials}: "
            "raise --trials or lower --k",
            file=sys.stderr,
        )
        return USAGE_ERROR
    external = args.external_url is not None or args.agent_cmd is not None
    if external and args.policy != DEFAULT_POLICY:
        print("cs-tui test: error: name one agent: --policy, --agent URL or --agent-cmd CMD", file=sys.stderr)
        return USAGE_ERROR
    if external:
        agent = external_agent_or_report("test", args)
    else:
        agent = load_agent_or_report("test", args.policy, industry="mixed", saves=args.saves, seed=args.seed)
    if agent is None:
        return USAGE_ERROR
    try:
        return _run_with(agent, catalog, thresholds, k, args)
    finally:
        if external:
            agent.close()


def _run_with(agent: Any, catalog: list[Scenario], thresholds: Thresholds, k: int, args: argparse.Namespace) -> int:
    from cs_env.scenarios import run_scenario

    industry = args.industry
    if industry is None and agent.kind == "model":  # a model trained on one industry is tested on its scenarios
        industry = agent.meta.get("industry")
    chosen = [s for s in catalog if industry in (None, "mixed", s.industry)]
    if not chosen:
        print(f"cs-tui test: error: no scenario for industry {industry!r}", file=sys.stderr)
        return USAGE_ERROR
    results = [run_scenario(agent, scenario, args.trials, args.seed) for scenario in chosen]
    judged = _judged_at(thresholds, k)
    missed = judged.misses(results)
    if args.junit:
        try:
            write_junit(Path(args.junit), results, judged, agent.name)
        except OSError as exc:
            print(f"cs-tui test: error: cannot write --junit {args.junit}: {exc.strerror or exc}", file=sys.stderr)
            return USAGE_ERROR
    from cs_tui import export

    def trials() -> list[dict[str, Any]]:
        return export.scenario_trial_rows(results, policy=agent.name)

    def summary() -> list[dict[str, Any]]:
        return export.scenario_summary_rows(results, policy=agent.name, k=k)

    if not write_exports("test", args, trials, summary):
        return USAGE_ERROR
    note = failures_note(agent)
    if args.json:
        print(json.dumps(as_json(results, judged, agent.name, args), indent=2))
    elif export.STDOUT in (args.csv, args.summary_csv):
        pass  # the CSV is the output: a table around it would spoil it
    else:
        from cs_tui import report as render

        console = render.make_console()
        console.print(f"{agent.name}: {len(results)} scenarios × {args.trials} trials, seed {args.seed}")
        console.print(render.scenarios(results, k, missed))
    if note:
        print(f"cs-tui test: {note}", file=sys.stderr)
    return THRESHOLDS_MISSED if missed else 0


def _judged_at(thresholds: Thresholds, k: int) -> Thresholds:
    """The thresholds judged at ``k`` (``--k`` overrides the file's)."""
    from dataclasses import replace

    return replace(thresholds, k=k)


def _overall(results: list[ScenarioResult], k: int) -> dict[str, Any]:
    from cs_env.scenarios import pass_hat_k_interval

    n = max(1, len(results))
    return {
        "pass_rate": sum(r.pass_rate for r in results) / n,
        "pass_hat_k": sum(r.pass_hat_k(k) for r in results) / n,
        "pass_hat_k_ci95": list(pass_hat_k_interval(results, k)),
    }


def as_json(
    results: list[ScenarioResult], thresholds: Thresholds, agent: str, args: argparse.Namespace
) -> dict[str, Any]:
    """The run as plain JSON: verdict, overall means, and every scenario with its replayable trial records."""
    missed = thresholds.misses(results)
    return {
        "policy": agent,
        "trials": args.trials,
        "seed": args.seed,
        "k": thresholds.k,
        "thresholds": str(thresholds.path) if thresholds.path else None,
        "passed": not missed,
        "missed": missed,
        "overall": _overall(results, thresholds.k),
        "scenarios": [r.as_dict(thresholds.k) for r in results],
    }


def junit_xml(results: list[ScenarioResult], thresholds: Thresholds, agent: str) -> str:
    """JUnit XML: a test case per scenario (fails on its own threshold) and one for the overall thresholds;
    each scenario's and the suite's properties hold the bootstrap 95 % interval of pass^k."""
    from cs_env.scenarios import pass_hat_k_interval

    k = thresholds.k
    missed = thresholds.misses(results)
    suite = ET.Element("testsuite", name=f"cs-tui scenarios ({agent})", tests=str(len(results) + 1))
    props = ET.SubElement(suite, "properties")
    low, high = _overall(results, k)["pass_hat_k_ci95"]
    suite_values = {"policy": agent, "k": str(k)}
    suite_values |= {"pass_hat_k_ci95_low": f"{low:.4f}", "pass_hat_k_ci95_high": f"{high:.4f}"}
    for name, value in suite_values.items():
        ET.SubElement(props, "property", name=name, value=value)
    failures = 0
    for r in results:
        case = ET.SubElement(suite, "testcase", classname=f"scenarios.{r.scenario.industry}", name=r.scenario.name)
        case_props = ET.SubElement(case, "properties")
        for bound, end in zip(("low", "high"), pass_hat_k_interval([r], k), strict=True):
            ET.SubElement(case_props, "property", name=f"pass_hat_k_ci95_{bound}", value=f"{end:.4f}")
        own = [m for m in missed if m.startswith(f"{r.scenario.name}:")]
        summary = f"{r.passes}/{len(r.trials)} trials passed ({r.pass_rate:.0%}), pass^{k} {r.pass_hat_k(k):.2f}"
        if own:
            failures += 1
            ET.SubElement(case, "failure", message="; ".join(own)).text = summary
        lines = [f"criterion: {r.scenario.criterion.describe()}", summary]
        lines += [f"seed {t.seed}: {'pass' if t.passed else 'FAIL'}: {t.reason}" for t in r.trials]
        ET.SubElement(case, "system-out").text = "\n".join(lines)
    case = ET.SubElement(suite, "testcase", classname="scenarios", name="overall_thresholds")
    overall = [m for m in missed if m.startswith("overall:")]
    if overall:
        failures += 1
        ET.SubElement(case, "failure", message="; ".join(overall))
    o = _overall(results, k)
    ET.SubElement(case, "system-out").text = f"mean pass rate {o['pass_rate']:.1%}, mean pass^{k} {o['pass_hat_k']:.2f}"
    suite.set("failures", str(failures))
    ET.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"


def write_junit(path: Path, results: list[ScenarioResult], thresholds: Thresholds, agent: str) -> None:
    """Write the JUnit report: atomically to a file (a CI job never reads half of one), as a stream to a
    FIFO or a device such as ``/dev/stdout``, through a symlink to its target."""
    from cs_tui.files import write_report

    write_report(path, junit_xml(results, thresholds, agent))
