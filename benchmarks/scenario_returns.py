"""Do the reward and the scenario catalog want the same behaviour? Per scenario, the return of trials that
pass its criterion against trials that fail it.

    python benchmarks/scenario_returns.py [--policies default baseline:oracle ...] [--trials 40] [--seed 0]

For each scenario and each policy (any ``cs-tui`` agent spec; ``escalate-now`` escalates on the first
turn), the pass rate and the mean return of the passing and the failing trials. Where the failing
trials of a policy earn more than the passing ones, the reward pays for what the criterion fails: the
two disagree, and an agent trained on the reward will not learn what the scenario asks.
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

ESCALATE_NOW = "escalate-now"


def main() -> None:
    from cs_env.domain import ResponseStrategy
    from cs_env.policies import FixedPolicy
    from cs_env.scenarios import load_scenarios, run_scenario
    from cs_tui.agents import load_agent

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", nargs="+", default=["default", "baseline:oracle", ESCALATE_NOW])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scenarios", nargs="*", help="only these scenarios")
    args = parser.parse_args()
    scenarios = [s for s in load_scenarios() if not args.scenarios or s.name in args.scenarios]

    def mean(values: list[float]) -> str:
        return f"{statistics.fmean(values):+.2f}" if values else "  -  "

    print(f"{'scenario':<26}" + "".join(f"{p[:22]:>24}" for p in args.policies))
    print(f"{'':<26}" + f"{'pass  R(pass)  R(fail)':>24}" * len(args.policies))
    for scenario in scenarios:
        cells = []
        for spec in args.policies:
            policy: Any
            if spec == ESCALATE_NOW:
                policy = FixedPolicy(ResponseStrategy.ESCALATE)
            else:
                policy = load_agent(spec, industry=scenario.industry, max_turns=scenario.max_turns, seed=args.seed)
            result = run_scenario(policy, scenario, args.trials, args.seed)
            passed = [t.total_return for t in result.trials if t.passed]
            failed = [t.total_return for t in result.trials if not t.passed]
            cells.append(f"{result.pass_rate:>6.0%}  {mean(passed):>7}  {mean(failed):>7}")
        print(f"{scenario.name:<26}" + "".join(f"{c:>24}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
