"""``python -m cs_env.scenarios``: the catalog's calibration table (baselines' pass rates and pass^k)."""

from __future__ import annotations

import argparse
import sys

from cs_env.policies import HeuristicPolicy, OraclePolicy, RandomPolicy
from cs_env.scenarios import load_scenarios, load_thresholds, run_scenario


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cs_env.scenarios",
        description="Run every scenario with the random, heuristic and oracle baselines: pass rate and pass^k.",
    )
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--k", type=int, default=None, help="pass^k at this k (default: the thresholds file's)")
    args = parser.parse_args(argv)
    scenarios = load_scenarios()
    k = args.k or load_thresholds(scenarios=scenarios).k
    if not 1 <= k <= args.trials:
        parser.error(f"--k must be between 1 and --trials ({args.trials})")
    names = ("oracle", "heuristic", "random")
    print(f"{len(scenarios)} scenarios, {args.trials} trials each, seed {args.seed}: pass rate (pass^{k})")
    print(f"{'scenario':<28}{'industry':<9}" + "".join(f"{n:>18}" for n in names) + "  criterion")
    totals = {n: [0.0, 0.0] for n in names}
    for scenario in scenarios:
        policies = {
            "oracle": OraclePolicy("mixed", scenario.max_turns, seed=args.seed),
            "heuristic": HeuristicPolicy(),
            "random": RandomPolicy(args.seed),
        }
        cells = []
        for name in names:
            result = run_scenario(policies[name], scenario, args.trials, args.seed)
            totals[name][0] += result.pass_rate / len(scenarios)
            totals[name][1] += result.pass_hat_k(k) / len(scenarios)
            cells.append(f"{result.pass_rate:>11.0%} ({result.pass_hat_k(k):.2f})")
        print(f"{scenario.name:<28}{scenario.industry:<9}" + "".join(cells) + f"  {scenario.criterion.describe()}")
        sys.stdout.flush()
    print(f"{'mean':<37}" + "".join(f"{rate:>11.0%} ({hat:.2f})" for rate, hat in totals.values()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
