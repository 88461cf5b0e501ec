"""Roll policies out over many conversations and report the business metrics.

All episodes of a run advance together on the batched model (``ARRAY`` ops), so thousands of
episodes take a fraction of a second; the single env runs the very same rules one at a time.

``python -m cs_env.evaluate`` prints the baseline table of the README.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from cs_env.customer import ARRAY, CUSTOMER_DRAWS, TURN_DRAWS, Tables, advance, new_customers, observe
from cs_env.domain import N_STRATEGIES, OUTCOME_NAMES, STRATEGY_NAMES, Outcome
from cs_env.env import check_industry, check_max_turns, valid_industries
from cs_env.industries import Catalog, default_catalog
from cs_env.policies import baselines


@dataclass
class Rollouts:
    """Per-episode records of one evaluation run (arrays of length ``episodes``)."""

    returns: np.ndarray
    outcomes: np.ndarray  # Outcome codes
    turns: np.ndarray
    satisfaction: np.ndarray  # at the end
    tiers: np.ndarray
    inquiries: np.ndarray
    industries: np.ndarray
    strategy_counts: np.ndarray  # (N_STRATEGIES,) over all turns


@dataclass
class Metrics:
    """What a support lead asks of a policy."""

    episodes: int
    mean_return: float
    ci95: float
    satisfaction: float
    resolution_rate: float
    escalation_rate: float
    abandonment_rate: float
    timeout_rate: float
    mean_turns: float
    strategy_usage: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def rollout(
    policy: Any,
    *,
    industry: str = "mixed",
    episodes: int = 2000,
    seed: int = 0,
    max_turns: int = 10,
    catalog: Catalog | None = None,
) -> Rollouts:
    """Play ``episodes`` conversations with ``policy``, all at once, from one seed."""
    catalog = catalog or default_catalog()
    tables = Tables.build(catalog, check_industry(industry, catalog))
    max_turns = check_max_turns(max_turns)
    rng = np.random.default_rng(seed)
    state = new_customers(ARRAY, tables, rng.random((CUSTOMER_DRAWS, episodes)))
    start = state.copy()
    returns = np.zeros(episodes)
    counts = np.zeros(N_STRATEGIES, dtype=np.int64)
    active = np.arange(episodes)
    wants_state = getattr(policy, "needs_state", False)
    while len(active):
        rows = state.select(active)
        obs = np.stack(observe(ARRAY, rows, max_turns), axis=1).astype(np.float32)
        action = np.asarray(policy(obs, state=rows) if wants_state else policy(obs), dtype=np.int64)
        counts += np.bincount(action, minlength=N_STRATEGIES)
        *components, outcome = advance(ARRAY, tables, rows, action, rng.random((TURN_DRAWS, len(active))), max_turns)
        returns[active] += components[0] + components[1] + components[2] + components[3]
        state.assign(active, rows)
        active = active[outcome == Outcome.ONGOING]
    return Rollouts(
        returns=returns,
        outcomes=state.outcome,
        turns=state.turn,
        satisfaction=state.sat,
        tiers=start.tier,
        inquiries=start.inquiry,
        industries=start.industry,
        strategy_counts=counts,
    )


def metrics(r: Rollouts, mask: np.ndarray | None = None) -> Metrics:
    """Summarize rollouts (or the episodes in ``mask``)."""
    sel = np.ones(len(r.returns), dtype=bool) if mask is None else mask
    n = int(sel.sum())
    returns = r.returns[sel]
    rate = {code: float(np.mean(r.outcomes[sel] == code)) if n else math.nan for code in Outcome}
    usage = r.strategy_counts / max(1, r.strategy_counts.sum())
    return Metrics(
        episodes=n,
        mean_return=float(returns.mean()) if n else math.nan,
        ci95=float(1.96 * returns.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan,
        satisfaction=float(r.satisfaction[sel].mean()) if n else math.nan,
        resolution_rate=rate[Outcome.RESOLVED],
        escalation_rate=rate[Outcome.ESCALATED],
        abandonment_rate=rate[Outcome.ABANDONED],
        timeout_rate=rate[Outcome.TIMEOUT],
        mean_turns=float(r.turns[sel].mean()) if n else math.nan,
        strategy_usage={name: float(u) for name, u in zip(STRATEGY_NAMES, usage, strict=True)},
    )


def normalized_score(mean_return: float, random_return: float, oracle_return: float) -> float:
    """(return - random's) / (oracle's - random's): 0 is random, 1 the oracle ("% of oracle")."""
    return (mean_return - random_return) / (oracle_return - random_return)


def reference_returns(industry: str, episodes: int = 2000, seed: int = 0, max_turns: int = 10) -> tuple[float, float]:
    """Mean returns of the random policy and the oracle: the 0 % and 100 % of "% of oracle"."""
    from cs_env.policies import OraclePolicy, RandomPolicy

    random_r = metrics(
        rollout(RandomPolicy(seed), industry=industry, episodes=episodes, seed=seed, max_turns=max_turns)
    )
    oracle = OraclePolicy(industry, max_turns, seed=seed)
    oracle_r = metrics(rollout(oracle, industry=industry, episodes=episodes, seed=seed, max_turns=max_turns))
    return random_r.mean_return, oracle_r.mean_return


def baseline_table(industry: str, episodes: int, seed: int, max_turns: int = 10) -> list[dict[str, Any]]:
    """Metrics and % of oracle for every baseline on one industry, all from the same seed."""
    rows = []
    for name, policy in baselines(industry, max_turns, seed).items():
        m = metrics(rollout(policy, industry=industry, episodes=episodes, seed=seed, max_turns=max_turns))
        rows.append({"policy": name, **m.as_dict()})
    by_name = {row["policy"]: row["mean_return"] for row in rows}
    for row in rows:
        row["pct_of_oracle"] = 100 * normalized_score(row["mean_return"], by_name["random"], by_name["oracle"])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cs_env.evaluate", description="Baseline policies per industry: returns and business metrics."
    )
    parser.add_argument("--industry", choices=[*valid_industries(), "all"], default="all")
    parser.add_argument("--episodes", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-turns", type=int, default=10)
    args = parser.parse_args(argv)
    if args.episodes < 2:
        parser.error("--episodes must be at least 2")
    industries = valid_industries() if args.industry == "all" else (args.industry,)
    head = f"{'policy':<18}{'return ± 95% CI':>18}{'% oracle':>10}"
    head += f"{'resolved':>10}{'escalated':>10}{'abandoned':>10}{'turns':>7}"
    for industry in industries:
        print(f"\n{industry} ({args.episodes} episodes, seed {args.seed})")
        print(head)
        for row in baseline_table(industry, args.episodes, args.seed, args.max_turns):
            print(
                f"{row['policy']:<18}{row['mean_return']:>10.3f} ± {row['ci95']:.3f}{row['pct_of_oracle']:>10.1f}"
                f"{row['resolution_rate']:>10.1%}{row['escalation_rate']:>10.1%}{row['abandonment_rate']:>10.1%}"
                f"{row['mean_turns']:>7.2f}"
            )
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

__all__ = [
    "OUTCOME_NAMES",
    "Metrics",
    "Rollouts",
    "baseline_table",
    "metrics",
    "normalized_score",
    "reference_returns",
    "rollout",
]
