"""Distilling an agent into a playbook: how close playbooks of 3 to 40 rules come to their agent, and how long it takes.

The issue's goal (27): a playbook of at most 15 rules within 2 points of the agent's % of oracle and within
0.05 of its pass^4 on the catalog, on the default env (CustomerSupport-v1). Printed beside the agent's own
figures, all on the same held-out customers (seed 1): the trade-off between rules and score for each rule
budget, with each distillation's wall-clock time on this machine, then the goal's verdict.

    .venv/bin/python benchmarks/playbook_distill.py [--agent default] [--sizes 3,5,10,15,20,40] [--episodes 10000]
"""

from __future__ import annotations

import argparse
import time

from cs_env import ENV_ID
from cs_tui.agents import load_agent
from cs_tui.distill import DISTILL_SEED, PASS_K, measure, tradeoff

GOAL_RULES = 15
GOAL_POINTS = 2.0
GOAL_PASS_HAT_K = 0.05


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agent", default="default")
    parser.add_argument("--sizes", default="3,5,10,15,20,40")
    parser.add_argument("--episodes", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=DISTILL_SEED)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    teacher = load_agent(args.agent)
    setting = {"industry": "mixed", "max_turns": 10, "episodes": args.episodes}
    started = time.perf_counter()
    agent = measure(teacher, teacher, **setting)
    rows = tradeoff(teacher, sizes, seed=args.seed, **setting)
    key = f"pass^{PASS_K}"
    print(f"{ENV_ID}, {args.episodes:,} held-out customers (seed 1), the catalog's scenarios x 8 trials")
    print(f"{'':20}{'rules':>6}{'% of oracle':>12}{'pass rate':>10}{key:>8}{'agrees':>8}{'distill s':>10}")
    print(
        f"{teacher.name:20}{'-':>6}{agent['pct_of_oracle']:12.1f}{agent['pass_rate']:10.0%}{agent[key]:8.2f}"
        f"{'100%':>8}{'-':>10}"
    )
    for row in rows:
        print(
            f"{'playbook <= ' + str(row['max_rules']):20}{row['rules']:6}{row['pct_of_oracle']:12.1f}"
            f"{row['pass_rate']:10.0%}{row[key]:8.2f}{row['agreement']:8.0%}{row['seconds']:10.1f}"
        )
    fits = [r for r in rows if r["rules"] <= GOAL_RULES]
    if fits:
        best = max(fits, key=lambda r: r["pct_of_oracle"])
        gap, gap_k = agent["pct_of_oracle"] - best["pct_of_oracle"], agent[key] - best[key]
        met = gap <= GOAL_POINTS and gap_k <= GOAL_PASS_HAT_K
        print(
            f"goal: <= {GOAL_RULES} rules within {GOAL_POINTS} points and {GOAL_PASS_HAT_K} {key} of the agent; "
            f"best within {GOAL_RULES} rules: {best['rules']} rules, {gap:.1f} points and {gap_k:.2f} {key} behind: "
            f"{'met' if met else 'NOT met'}"
        )
    print(f"whole benchmark: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
