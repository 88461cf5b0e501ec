"""Distilling an agent into a playbook: how close a short playbook comes to its agent, and how long it takes.

The issue's goal (27): a playbook of at most 15 rules within 2 points of the agent's % of oracle and within
0.05 of its pass^4 on the catalog, on the default env. Printed beside the agent's own figures, all on the
same held-out customers (seed 1), with the distillation's wall-clock time on this machine.

    .venv/bin/python benchmarks/playbook_distill.py [--agent default] [--max-rules 15] [--episodes 10000]
"""

from __future__ import annotations

import argparse
import time

from cs_env.playbook import loads
from cs_tui.agents import load_agent
from cs_tui.distill import PASS_K, distill, measure

GOAL_POINTS = 2.0
GOAL_PASS_HAT_K = 0.05


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agent", default="default")
    parser.add_argument("--max-rules", type=int, default=15)
    parser.add_argument("--episodes", type=int, default=10_000)
    args = parser.parse_args()
    teacher = load_agent(args.agent)
    started = time.perf_counter()
    made = distill(teacher, args.max_rules)
    seconds = time.perf_counter() - started
    playbook = loads(made.playbook.dumps())  # measured as written
    ours = measure(playbook, teacher, industry="mixed", max_turns=10, episodes=args.episodes)
    agent = measure(teacher, teacher, industry="mixed", max_turns=10, episodes=args.episodes)
    key = f"pass^{PASS_K}"
    print(f"{'':24}{'% of oracle':>12}{key:>9}{'agrees':>8}{'rules':>7}")
    print(f"{teacher.name:24}{agent['pct_of_oracle']:12.1f}{agent[key]:9.2f}{'':>8}{'':>7}")
    print(
        f"{'playbook':24}{ours['pct_of_oracle']:12.1f}{ours[key]:9.2f}{ours['agreement']:8.0%}{len(playbook.rules):7}"
    )
    gap, gap_k = agent["pct_of_oracle"] - ours["pct_of_oracle"], agent[key] - ours[key]
    met = len(playbook.rules) <= 15 and gap <= GOAL_POINTS and gap_k <= GOAL_PASS_HAT_K
    print(
        f"goal: <= 15 rules, within {GOAL_POINTS} points and {GOAL_PASS_HAT_K} {key}; ours: {len(playbook.rules)} "
        f"rules, {gap:.1f} points and {gap_k:.2f} behind: {'met' if met else 'NOT met'}"
    )
    print(f"distillation: {seconds:.1f} s ({made.rounds} DAgger rounds, {made.situations:,} situations)")


if __name__ == "__main__":
    main()
