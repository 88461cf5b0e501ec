"""Invariants no sequence of calls may break: property-based and long random sweeps."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from conftest import INDUSTRIES
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from cs_env import OUTCOME_NAMES, CustomerSupportEnv
from cs_env.customer import CUSTOMER_DRAWS, TURN_DRAWS, Tables, new_customers
from cs_env.dynamics import DYNAMICS
from cs_env.industries import default_catalog
from cs_env.reward import EPISODE_RETURN_BOUNDS, STEP_REWARD_BOUNDS
from cs_env.turn import BatchTurn

EPS = 1e-9


def check_step(
    env: CustomerSupportEnv, obs: np.ndarray, reward: float, terminated: object, truncated: object, info: dict
) -> None:
    assert env.observation_space.contains(obs), obs
    assert type(terminated) is bool and type(truncated) is bool
    assert not (terminated and truncated)
    assert math.isfinite(reward) and STEP_REWARD_BOUNDS[0] - EPS <= reward <= STEP_REWARD_BOUNDS[1] + EPS
    info = env.named_info(info)
    assert reward == pytest.approx(sum(info["reward_components"].values()), abs=1e-12)
    parts = info["reward_components"]
    assert -2.0 <= parts["satisfaction"] <= 2.0 and -1.0 <= parts["business_impact"] <= 1.0
    assert parts["efficiency"] == 0.0 or 0.1 - EPS <= parts["efficiency"] <= 0.5 + EPS
    assert parts["escalation_penalty"] in (0.0, -0.3)
    assert 0.0 <= info["hidden_satisfaction"] <= 1.0
    if terminated:
        assert info["outcome"] in ("resolved", "escalated", "abandoned")
    elif truncated:
        assert info["outcome"] == "timeout"
    else:
        assert info["outcome"] == "ongoing"


class EnvMachine(RuleBasedStateMachine):
    """Random interleavings of reset, step and copy on one env."""

    @initialize(industry=st.sampled_from(INDUSTRIES), max_turns=st.integers(1, 12), seed=st.integers(0, 2**32 - 1))
    def start(self, industry: str, max_turns: int, seed: int) -> None:
        self.env = CustomerSupportEnv(industry, max_turns=max_turns)
        self.obs, _ = self.env.reset(seed=seed)
        self.done = False
        self.turns = 0
        self.episode_return = 0.0

    @rule(seed=st.none() | st.integers(0, 2**32 - 1))
    def reset(self, seed: int | None) -> None:
        self.obs, info = self.env.reset(seed=seed)
        assert OUTCOME_NAMES[info["outcome"]] == "ongoing" and self.obs[3] == 0
        self.done, self.turns, self.episode_return = False, 0, 0.0

    @precondition(lambda self: not self.done)
    @rule(action=st.integers(0, 7))
    def step(self, action: int) -> None:
        self.obs, reward, terminated, truncated, info = self.env.step(action)
        check_step(self.env, self.obs, float(reward), terminated, truncated, info)
        self.turns += 1
        self.episode_return += float(reward)
        self.done = terminated or truncated

    @precondition(lambda self: not self.done)
    @rule(actions=st.lists(st.integers(0, 7), min_size=1, max_size=12))
    def copy_steps_identically(self, actions: list[int]) -> None:
        twin = copy.deepcopy(self.env)
        for a in actions:
            mine, theirs = self.env.step(a), twin.step(a)
            assert mine[0].tobytes() == theirs[0].tobytes() and mine[1:4] == theirs[1:4] and mine[4] == theirs[4]
            check_step(self.env, mine[0], float(mine[1]), mine[2], mine[3], mine[4])
            self.obs = mine[0]
            self.turns += 1
            self.episode_return += float(mine[1])
            if mine[2] or mine[3]:
                self.done = True
                break

    @invariant()
    def within_bounds(self) -> None:
        if not hasattr(self, "env"):
            return
        assert self.turns <= self.env.max_turns
        assert self.obs[3] == self.turns
        low, high = EPISODE_RETURN_BOUNDS
        assert low - EPS <= self.episode_return <= high + EPS


EnvMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestEnvMachine = EnvMachine.TestCase


@pytest.mark.slow
@pytest.mark.parametrize("industry", INDUSTRIES)
def test_random_steps_break_no_invariant_of_the_env(industry: str) -> None:
    """The env's own contract (spaces, flags, info) over thousands of episodes; the rules' numbers are
    swept at a far larger scale on the batch kernel below, which plays exactly the env's arithmetic."""
    env = CustomerSupportEnv(industry)
    rng = np.random.default_rng(INDUSTRIES.index(industry))  # (hash() of a str differs per process)
    actions = rng.integers(0, 8, 25_000).tolist()
    obs, _ = env.reset(seed=0)
    turns, ret, episodes = 0, 0.0, 0
    outcomes: dict[str, int] = {}
    for a in actions:
        obs, reward, terminated, truncated, info = env.step(a)
        check_step(env, obs, reward, terminated, truncated, info)
        turns += 1
        ret += reward
        if terminated or truncated:
            assert turns <= env.max_turns
            assert EPISODE_RETURN_BOUNDS[0] - EPS <= ret <= EPISODE_RETURN_BOUNDS[1] + EPS
            outcome = OUTCOME_NAMES[info["outcome"]]
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            obs, _ = env.reset()
            turns, ret, episodes = 0, 0.0, episodes + 1
    assert episodes > 2_500
    assert set(outcomes) == {"resolved", "escalated", "abandoned", "timeout"}


@pytest.mark.slow
@pytest.mark.parametrize("industry", INDUSTRIES)
def test_a_million_random_turns_keep_every_reward_component_and_return_in_bounds(industry: str) -> None:
    """BatchTurn in float64 is the single env's arithmetic to the last bit (tests/test_turn.py): 100,000
    conversations of random strategies, every turn's components and every episode's return in bounds."""
    tables = Tables.build(default_catalog(), industry)
    rng = np.random.default_rng(INDUSTRIES.index(industry))
    n, max_turns = 100_000, 10
    s = new_customers(tables, rng.random((CUSTOMER_DRAWS, n)))
    kernel = BatchTurn(DYNAMICS, max_turns)
    returns, alive = np.zeros(n), np.ones(n, dtype=bool)
    ended: set[int] = set()
    for _ in range(max_turns):
        components, outcome = kernel.play(s, rng.integers(0, 8, n), rng.random((TURN_DRAWS, n)))
        satisfaction, efficiency, business, penalty = components[:, alive]
        assert ((satisfaction >= -2.0) & (satisfaction <= 2.0)).all()
        assert ((efficiency == 0.0) | ((efficiency >= 0.1 - EPS) & (efficiency <= 0.5 + EPS))).all()
        assert ((business >= -1.0) & (business <= 1.0)).all() and np.isin(penalty, (0.0, -0.3)).all()
        step = components[:, alive].sum(axis=0)
        assert ((step >= STEP_REWARD_BOUNDS[0] - EPS) & (step <= STEP_REWARD_BOUNDS[1] + EPS)).all()
        assert ((s.sat >= 0.0) & (s.sat <= 1.0)).all()
        returns[alive] += step
        now = outcome[alive]
        ended.update(now[now != 0].tolist())
        alive &= outcome == 0
    assert not alive.any()  # every conversation ended within max_turns
    assert ((returns >= EPISODE_RETURN_BOUNDS[0] - EPS) & (returns <= EPISODE_RETURN_BOUNDS[1] + EPS)).all()
    assert ended == {1, 2, 3, 4}
