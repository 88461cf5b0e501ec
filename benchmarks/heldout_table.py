"""Many agents on the same held-out customers, the oracle computed once: the closing note's baselines table.

    python benchmarks/heldout_table.py [--episodes 10000] [--seed 1] [--saves DIR] AGENT [AGENT ...]

Each AGENT is anything ``cs-tui evaluate`` takes (``baseline:NAME``, a run name under ``--saves``, a run
folder, a model .zip). Every agent meets the same ``--episodes`` customers of ``mixed`` drawn from
``--seed`` (seed 1 is not the trainer's evaluation seed 0, so a run's best.zip is not scored on the
customers it was chosen on), and % of oracle is ``cs_env.evaluate``'s: 0 random play, 100 the oracle on
those customers. The figures equal ``cs-tui evaluate AGENT --industry mixed --episodes N --seed S``'s, one
agent at a time; this script pays for the oracle's rollouts (some 80 CPU seconds on 10,000) once instead
of once per agent. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    from cs_env.evaluate import evaluate
    from cs_tui.agents import load_agent

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("agents", nargs="+", metavar="AGENT")
    parser.add_argument("--episodes", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--saves", type=Path, help="the saves folder run names are looked up in")
    args = parser.parse_args()
    print(f"mixed, {args.episodes:,} customers, seed {args.seed}\n")
    print("| agent | mean return ± 95 % CI | % of oracle | resolved | escalated | abandoned |")
    print("|---|---|---|---|---|---|")
    for spec in args.agents:
        agent = load_agent(spec, industry="mixed", saves=args.saves, seed=args.seed)
        report = evaluate(agent, industry="mixed", episodes=args.episodes, seed=args.seed)
        m = report.overall
        print(
            f"| {spec} | {m.mean_return:.3f} ± {m.ci95:.3f} | {m.pct_of_oracle:.1f} | {m.resolution_rate:.1%} "
            f"| {m.escalation_rate:.1%} | {m.abandonment_rate:.1%} |",
            flush=True,
        )
    print(f"\nrandom {report.random_return:.3f}, oracle {report.oracle_return:.3f} (mean returns)")


if __name__ == "__main__":
    main()
