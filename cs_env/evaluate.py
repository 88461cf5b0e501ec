"""Roll policies out over many conversations and report the business metrics.

All episodes of a run advance together on the batched kernel (:class:`cs_env.turn.BatchTurn`, in
float64), so thousands of episodes take a fraction of a second; the single env plays the very same rules
one at a time, to the same numbers.

``python -m cs_env.evaluate`` prints the baseline table of docs/results.md.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from cs_env.customer import CUSTOMER_DRAWS, TURN_DRAWS, Tables, new_customers
from cs_env.domain import N_STRATEGIES, OUTCOME_NAMES, STRATEGY_NAMES, TIER_NAMES, Outcome
from cs_env.dynamics import DYNAMICS
from cs_env.env import ARRIVAL_BLOCK, DRAW_BLOCK, check_industry, check_max_turns, valid_industries
from cs_env.files import is_int
from cs_env.industries import Catalog, default_catalog
from cs_env.policies import NO_ANSWER, baselines
from cs_env.turn import BatchTurn


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
    #: (episodes, N_STRATEGIES): each episode's strategies, so a breakdown's usage is its own episodes'
    episode_strategy_counts: np.ndarray | None = None
    #: the hidden truth: 1 where only a specialist could solve the case
    needs_specialist: np.ndarray | None = None

    @classmethod
    def played(cls, start: Any, end: Any, returns: np.ndarray, per_episode: np.ndarray) -> Rollouts:
        """The records of conversations played from the customers ``start`` to the states ``end``, with their
        ``returns`` and each episode's strategy counts ``per_episode``."""
        return cls(
            returns=returns,
            outcomes=end.outcome,
            turns=end.turn,
            satisfaction=end.sat,
            tiers=start.tier,
            inquiries=start.inquiry,
            industries=start.industry,
            strategy_counts=per_episode.sum(axis=0),
            episode_strategy_counts=per_episode,
            needs_specialist=start.needs_specialist,
        )


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
    #: (return - random's) / (oracle's - random's) x 100 on the same customers; None where not measured
    pct_of_oracle: float | None = None

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
    env_seeds: Sequence[int] | None = None,
    draws: tuple[np.ndarray, np.ndarray] | None = None,
) -> Rollouts:
    """Play ``episodes`` conversations with ``policy``, all at once, from one seed.

    With ``env_seeds``, episode i instead meets the customer and the draws of
    ``CustomerSupportEnv(industry).reset(seed=env_seeds[i])`` and its steps: the same conversations
    the single env (and so ``cs-tui demo`` and ``test``) plays, exactly (``episodes`` and
    ``seed`` are then unused). ``draws``, what :func:`single_env_draws` gives for those seeds, spares
    drawing them again when the same customers are played many times.
    """
    catalog = catalog or default_catalog()
    tables = Tables.build(catalog, check_industry(industry, catalog))
    max_turns = check_max_turns(max_turns)
    if draws is not None and env_seeds is None:
        raise ValueError("draws: given without env_seeds, the customers they were drawn for")
    rng = np.random.default_rng(seed)
    if env_seeds is None:
        state = new_customers(tables, rng.random((CUSTOMER_DRAWS, episodes)))
        turn_draws = None
    else:
        episodes = len(env_seeds)
        if draws is None:
            draws = single_env_draws(env_seeds, max_turns)
        elif draws[0].shape != (CUSTOMER_DRAWS, episodes) or draws[1].shape != (max_turns, TURN_DRAWS, episodes):
            shapes = f"{draws[0].shape} and {draws[1].shape}"
            raise ValueError(
                f"draws: {shapes} are not single_env_draws() of {episodes} env seeds and {max_turns} turns"
            )
        customer_draws, turn_draws = draws
        state = new_customers(tables, customer_draws)
    start = state.copy()
    kernel = BatchTurn(DYNAMICS, max_turns)
    returns = np.zeros(episodes)
    per_episode = np.zeros((episodes, N_STRATEGIES), dtype=np.int64)
    active = np.arange(episodes)
    wants_state = getattr(policy, "needs_state", False)
    wants_episodes = getattr(policy, "needs_episodes", False)  # a policy with memory: which row is whose
    turn = 0  # every active conversation is at the same turn
    while len(active):
        rows = state.select(active)
        obs = kernel.observe(rows)
        if wants_state:
            action = np.asarray(policy(obs, state=rows), dtype=np.int64)
        elif wants_episodes:
            action = np.asarray(policy(obs, episodes=active), dtype=np.int64)
        else:
            action = np.asarray(policy(obs), dtype=np.int64)
        unanswered = action == NO_ANSWER
        if unanswered.any():  # an agent that failed on these conversations: they end unresolved, as timeouts
            state.outcome[active[unanswered]] = Outcome.TIMEOUT
            active, action = active[~unanswered], action[~unanswered]
            if not len(active):
                break
            rows = state.select(active)
        per_episode[active, action] += 1  # active holds each episode once: no repeated index
        u = rng.random((TURN_DRAWS, len(active))) if turn_draws is None else turn_draws[turn][:, active]
        components, outcome = kernel.play(rows, action, u)
        returns[active] += components[0] + components[1] + components[2] + components[3]
        state.assign(active, rows)
        active = active[outcome == Outcome.ONGOING]
        turn += 1
    return Rollouts.played(start, state, returns, per_episode)


def escalation_quality(r: Rollouts) -> tuple[float, float]:
    """``(recall, needless)``: the share of the cases that needed a specialist that were escalated, and
    the share of the cases that did not that were escalated anyway."""
    assert r.needs_specialist is not None
    needed = r.needs_specialist > 0
    escalated = r.outcomes == Outcome.ESCALATED
    recall = float(escalated[needed].mean()) if needed.any() else math.nan
    needless = float(escalated[~needed].mean()) if (~needed).any() else math.nan
    return recall, needless


def single_env_draws(env_seeds: Sequence[int], max_turns: int) -> tuple[np.ndarray, np.ndarray]:
    """The uniform numbers ``CustomerSupportEnv`` draws after ``reset(seed=s)`` for each seed: its
    first customer's ``(CUSTOMER_DRAWS, episodes)`` and each turn's ``(max_turns, TURN_DRAWS, episodes)``.

    The env draws its arrivals ``ARRIVAL_BLOCK`` customers at a time (the first is column 0), then
    turn draws ``DRAW_BLOCK`` numbers at a time, dropping a block's tail too short for a turn.
    """
    turns_per_block = DRAW_BLOCK // TURN_DRAWS
    blocks = -(-max_turns // turns_per_block)
    customers = np.empty((CUSTOMER_DRAWS, len(env_seeds)))
    turns = np.empty((max_turns, TURN_DRAWS, len(env_seeds)))
    for i, env_seed in enumerate(env_seeds):
        g = np.random.default_rng(env_seed)  # what gymnasium seeds the env's np_random with
        customers[:, i] = g.random((CUSTOMER_DRAWS, ARRIVAL_BLOCK))[:, 0]
        used = g.random((blocks, DRAW_BLOCK))[:, : turns_per_block * TURN_DRAWS]
        turns[:, :, i] = used.reshape(blocks * turns_per_block, TURN_DRAWS)[:max_turns]
    return customers, turns


def metrics(r: Rollouts, mask: np.ndarray | None = None) -> Metrics:
    """Summarize rollouts (or the episodes in ``mask``)."""
    sel = np.ones(len(r.returns), dtype=bool) if mask is None else mask
    n = int(sel.sum())
    returns = r.returns[sel]
    rate = {code: float(np.mean(r.outcomes[sel] == code)) if n else math.nan for code in Outcome}
    if mask is None or r.episode_strategy_counts is None:
        counts = r.strategy_counts
    else:
        counts = r.episode_strategy_counts[sel].sum(axis=0)
    usage = counts / max(1, counts.sum())
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


@functools.lru_cache(maxsize=32)
def reference_rollouts(
    industry: str, episodes: int = 2000, seed: int = 0, max_turns: int = 10, catalog: Catalog | None = None
) -> tuple[Rollouts, Rollouts]:
    """The random policy's and the oracle's rollouts, computed once per process for each setting.

    The oracle takes tens of seconds on ten thousand episodes, and every evaluation with the same setting
    needs the same two references. Callers must not modify the returned arrays.
    """
    from cs_env.policies import OraclePolicy, RandomPolicy

    random_r, oracle_r = (
        rollout(policy, industry=industry, episodes=episodes, seed=seed, max_turns=max_turns, catalog=catalog)
        for policy in (RandomPolicy(seed), OraclePolicy(industry, max_turns, seed=seed, catalog=catalog))
    )
    return random_r, oracle_r


def reference_returns(industry: str, episodes: int = 2000, seed: int = 0, max_turns: int = 10) -> tuple[float, float]:
    """Mean returns of the random policy and the oracle: the 0 % and 100 % of "% of oracle"."""
    random_r, oracle_r = reference_rollouts(industry, episodes, seed, max_turns)
    return metrics(random_r).mean_return, metrics(oracle_r).mean_return


@dataclass
class EvaluationReport:
    """One policy's business metrics, overall and broken down, with "% of oracle" on the same customers.

    Every policy evaluated with the same ``industry``, ``episodes``, ``seed`` and ``max_turns`` meets the
    very same customers (they are drawn before any action), so reports compare like with like, and
    each breakdown's % of oracle compares the policy with the oracle on that group's own customers.
    """

    policy: str
    industry: str
    episodes: int
    seed: int
    max_turns: int
    overall: Metrics
    random_return: float
    oracle_return: float
    by_industry: dict[str, Metrics]
    by_tier: dict[str, Metrics]
    by_inquiry: dict[str, Metrics]
    #: the conversations themselves, for per-episode export (not part of :meth:`as_dict`)
    rollouts: Rollouts | None = field(default=None, repr=False, compare=False)

    @property
    def pct_of_oracle(self) -> float:
        """The overall % of oracle (100 x the normalized score)."""
        assert self.overall.pct_of_oracle is not None
        return self.overall.pct_of_oracle

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (NaN, for an empty group, becomes None)."""
        return _json_ready(
            {
                "policy": self.policy,
                "industry": self.industry,
                "episodes": self.episodes,
                "seed": self.seed,
                "max_turns": self.max_turns,
                "random_return": self.random_return,
                "oracle_return": self.oracle_return,
                "overall": self.overall.as_dict(),
                "by_industry": {k: m.as_dict() for k, m in self.by_industry.items()},
                "by_tier": {k: m.as_dict() for k, m in self.by_tier.items()},
                "by_inquiry": {k: m.as_dict() for k, m in self.by_inquiry.items()},
            }
        )


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


#: Below this gap between the oracle's and random's mean return a group's % of oracle is noise.
MIN_REFERENCE_GAP = 0.05
#: The most conversations one evaluation plays: the oracle's reference plans every one of them (about
#: 3 CPU seconds per 1,000; its memory stays bounded, it plans in slices).
MAX_EPISODES = 20_000


def _with_pct(m: Metrics, random_m: Metrics, oracle_m: Metrics) -> Metrics:
    gap = oracle_m.mean_return - random_m.mean_return
    if m.episodes and gap >= MIN_REFERENCE_GAP:
        m.pct_of_oracle = 100 * normalized_score(m.mean_return, random_m.mean_return, oracle_m.mean_return)
    return m


def evaluate(
    policy: Any,
    *,
    industry: str = "mixed",
    episodes: int = 2000,
    seed: int = 0,
    max_turns: int = 10,
    catalog: Catalog | None = None,
) -> EvaluationReport:
    """Roll ``policy`` out on ``episodes`` conversations and report the business metrics.

    ``policy`` is any callable of :mod:`cs_env.policies`' convention (a batch of observations in, an
    array of actions out; with ``needs_state`` it also gets the hidden state). "% of oracle" comes from
    :func:`reference_rollouts` on the same setting, computed once per process. ``catalog`` (e.g. a
    :mod:`cs_env.population`'s) draws the customers from other industry data.
    """
    industry = check_industry(industry)
    if not is_int(episodes) or episodes < 2:
        raise ValueError(
            f"episodes must be an integer of at least 2 (a confidence interval needs two), got {episodes!r}"
        )
    r = rollout(policy, industry=industry, episodes=episodes, seed=seed, max_turns=max_turns, catalog=catalog)
    # the same call as reference_returns' for the shipped catalog: one cache entry per setting
    extra = () if catalog is None else (catalog,)
    random_r, oracle_r = reference_rollouts(industry, episodes, seed, max_turns, *extra)
    catalog = catalog or default_catalog()

    def group(mask: np.ndarray) -> Metrics:
        return _with_pct(metrics(r, mask), metrics(random_r, mask), metrics(oracle_r, mask))

    # the breakdowns list only what this industry can bring: bfsi has no retail inquiries
    present = {ind.name for ind in catalog.industries} if industry == "mixed" else {industry}
    by_industry = {name: group(r.industries == i) for i, name in enumerate(catalog.industry_names) if name in present}
    by_tier = {name: group(r.tiers == t) for t, name in enumerate(TIER_NAMES)}
    by_inquiry = {inq.name: group(r.inquiries == inq.id) for inq in catalog.inquiries if inq.industry in present}
    random_m, oracle_m = metrics(random_r), metrics(oracle_r)
    return EvaluationReport(
        policy=str(getattr(policy, "name", type(policy).__name__)),
        industry=industry,
        episodes=episodes,
        seed=seed,
        max_turns=max_turns,
        overall=_with_pct(metrics(r), random_m, oracle_m),
        random_return=random_m.mean_return,
        oracle_return=oracle_m.mean_return,
        by_industry=by_industry,
        by_tier=by_tier,
        by_inquiry=by_inquiry,
        rollouts=r,
    )


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
    "EvaluationReport",
    "Metrics",
    "Rollouts",
    "baseline_table",
    "escalation_quality",
    "evaluate",
    "metrics",
    "normalized_score",
    "reference_returns",
    "reference_rollouts",
    "rollout",
]
