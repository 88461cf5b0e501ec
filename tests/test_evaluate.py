"""``evaluate.rollout`` plays the very conversations of the single env, so every "% of oracle" means what it says."""

from __future__ import annotations

import numpy as np
import pytest

from cs_env import CustomerSupportEnv
from cs_env.customer import CUSTOMER_DRAWS, CustomerState, Tables, new_customers
from cs_env.domain import OUTCOME_NAMES, STRATEGY_NAMES, Outcome, ResponseStrategy
from cs_env.evaluate import rollout
from cs_env.industries import default_catalog
from cs_env.policies import FixedPolicy, HeuristicPolicy

S = ResponseStrategy
_MIX = np.array([2654435761, 2246822519, 3266489917, 668265263, 374761393, 1181783497, 2870177450, 3323815897,
                 4021525087, 1609587929, 2028178513, 1103515245, 12345, 69069, 1664525, 22695477, 134775813,
                 2147483629],
                dtype=np.uint64)  # fmt: skip


def hashed_random(obs: np.ndarray) -> object:
    """A random-looking strategy that is a function of the observation's bits alone, so the single env and
    the batched rollout, shown the same observations, choose the same (a seeded generator would not)."""
    bits = np.asarray(obs, dtype=np.float32).view(np.uint32).astype(np.uint64)
    action = ((bits * _MIX[: bits.shape[-1]]).sum(axis=-1) >> np.uint64(11)) % np.uint64(8)
    return int(action) if np.ndim(action) == 0 else action.astype(np.int64)


def offers_then_recovers(obs: np.ndarray) -> object:
    """Two offers (the second is a repeat, which hurts), an apology after the dip, then solutions: the
    shape of conversation whose recovery the reward must not pay twice."""
    script = np.array([S.UPSELL, S.UPSELL, S.APOLOGETIC, S.QUICK_RESOLUTION, S.TECHNICAL, S.PRODUCT_RECOMMEND])
    turn = np.asarray(obs)[..., 3].astype(np.int64)
    action = np.where(turn < len(script), script[np.minimum(turn, len(script) - 1)], S.EDUCATIONAL)
    return int(action) if np.ndim(action) == 0 else action.astype(np.int64)


POLICIES = {"random": hashed_random, "offers_then_recovers": offers_then_recovers, "heuristic": HeuristicPolicy()}
POLICIES |= {name: FixedPolicy(i) for i, name in enumerate(STRATEGY_NAMES)}


def single_env_episodes(policy: object, industry: str, seeds: range, max_turns: int) -> tuple[list, list, list]:
    env = CustomerSupportEnv(industry, max_turns=max_turns)
    returns, outcomes, turns = [], [], []
    for seed in seeds:
        obs, _ = env.reset(seed=seed)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, info = env.step(policy(obs))  # type: ignore[operator]
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
        outcomes.append(env.named_info(info)["outcome"])
        turns.append(len(env.history))
    return returns, outcomes, turns


@pytest.mark.parametrize("name", list(POLICIES))
@pytest.mark.parametrize(("industry", "max_turns"), [("mixed", 10), ("tech", 4)])
def test_rollout_gives_the_single_envs_returns_episode_by_episode(name: str, industry: str, max_turns: int) -> None:
    seeds = range(1000, 1400)
    policy = POLICIES[name]
    returns, outcomes, turns = single_env_episodes(policy, industry, seeds, max_turns)
    r = rollout(policy, industry=industry, max_turns=max_turns, env_seeds=list(seeds))
    assert r.returns.tolist() == returns  # to the last bit: the two kernels do the same arithmetic
    assert [OUTCOME_NAMES[o] for o in r.outcomes] == outcomes
    assert r.turns.tolist() == turns


def test_a_new_customers_fields_never_share_memory() -> None:
    tables = Tables.build(default_catalog(), "mixed")
    s = new_customers(tables, np.random.default_rng(0).random((CUSTOMER_DRAWS, 64)))
    arrays = [(name, getattr(s, name)) for name in CustomerState.__slots__]
    for i, (a_name, a) in enumerate(arrays):
        for b_name, b in arrays[i + 1 :]:
            assert not np.shares_memory(a, b), f"{a_name} and {b_name} share one buffer"


def test_escalation_quality_counts_the_specialists_cases_handed_over_and_the_others() -> None:
    from cs_env.evaluate import escalation_quality

    assert escalation_quality(rollout(FixedPolicy(S.ESCALATE), episodes=500, seed=3)) == (1.0, 1.0)
    assert escalation_quality(rollout(FixedPolicy(S.QUICK_RESOLUTION), episodes=500, seed=3)) == (0.0, 0.0)
    r = rollout(HeuristicPolicy(), episodes=4000, seed=3)
    recall, needless = escalation_quality(r)
    assert r.needs_specialist is not None
    needed = r.needs_specialist > 0
    escalated = r.outcomes == int(Outcome.ESCALATED)
    assert recall == pytest.approx(escalated[needed].sum() / needed.sum())
    assert needless == pytest.approx(escalated[~needed].sum() / (~needed).sum())
