"""The blind script and the lookup table (what a trained agent adds over a table), and the oracle: the ceiling,
which plans on its own draws, never the env's."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from cs_env.customer import CUSTOMER_DRAWS, ONGOING, TURN_DRAWS, CustomerState, Tables, new_customers
from cs_env.domain import N_STRATEGIES, ResponseStrategy
from cs_env.dynamics import DYNAMICS
from cs_env.evaluate import metrics, rollout
from cs_env.industries import default_catalog
from cs_env.policies import (
    FixedPolicy,
    LookupTablePolicy,
    OraclePolicy,
    ScriptPolicy,
    fit_lookup_table,
    lookup_cells,
    trait_policy,
)
from cs_env.turn import BatchTurn

S = ResponseStrategy


def observations(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    obs = rng.random((n, 18)).astype(np.float32)
    obs[:, 0] = rng.integers(0, 15, n)
    obs[:, 1] = rng.integers(0, 5, n)
    obs[:, 3] = rng.integers(0, 10, n)
    obs[:, 4] = rng.integers(0, 3, n)
    return obs


def test_the_blind_script_plays_empathy_then_the_quick_fix_then_technical_to_the_end() -> None:
    obs = observations(40)
    expected = np.where(obs[:, 3] == 0, S.EMPATHETIC, np.where(obs[:, 3] == 1, S.QUICK_RESOLUTION, S.TECHNICAL))
    np.testing.assert_array_equal(ScriptPolicy()(obs), expected)
    assert ScriptPolicy()(obs[0]) == int(expected[0]) and isinstance(ScriptPolicy()(obs[0]), int)


def test_the_lookup_table_reads_only_the_inquiry_sentiment_tier_and_turn() -> None:
    policy = LookupTablePolicy("mixed", 10)
    policy._table = fit_lookup_table("mixed", 10, episodes=1000, seed=99, passes=1)
    assert policy._table.shape == (15 * 5 * 3, 10)
    obs = observations(200)
    other = observations(200, seed=1)
    other[:, [0, 1, 3, 4]] = obs[:, [0, 1, 3, 4]]  # everything else differs
    np.testing.assert_array_equal(policy(obs), policy(other))
    cells = (obs[:, 0].astype(int) * 5 + obs[:, 1].astype(int)) * 3 + obs[:, 4].astype(int)
    np.testing.assert_array_equal(policy(obs), policy._table[cells, obs[:, 3].astype(int)])


def test_the_hint_binned_table_also_reads_the_specialist_hint_in_three_bins() -> None:
    obs = observations(3)
    obs[:, 17] = (0.2, 0.5, 0.9)  # the frontline's, either, a specialist's
    plain = lookup_cells(obs, ("sentiment", "tier"))
    np.testing.assert_array_equal(lookup_cells(obs, ("sentiment", "tier", "hint")), plain * 3 + np.arange(3))
    assert LookupTablePolicy("mixed", 10, ("sentiment", "tier", "hint")).name == "lookup_hint"


def test_a_fitted_table_beats_every_fixed_strategy_on_conversations_it_was_not_fitted_on() -> None:
    policy = LookupTablePolicy("mixed", 10)
    policy._table = fit_lookup_table("mixed", 10, episodes=3000, seed=99, passes=1)
    table = metrics(rollout(policy, episodes=3000, seed=5)).mean_return
    best_fixed = max(metrics(rollout(FixedPolicy(a), episodes=3000, seed=5)).mean_return for a in range(8))
    assert table > best_fixed + 0.1


# -- the oracle ----------------------------------------------------------------------------------
def pinned_customers(n: int, seed: int) -> CustomerState:
    tables = Tables.build(default_catalog(), "mixed")
    return new_customers(tables, np.random.default_rng(seed).random((CUSTOMER_DRAWS, n)))


def play_on_draws(policy: Any, start: CustomerState, draws: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Each conversation of ``start`` played by ``policy`` on the env draws ``draws`` (turn, TURN_DRAWS, n):
    the returns, and the strategies chosen turn by turn (-1 once a conversation has ended)."""
    kernel = BatchTurn(DYNAMICS, len(draws))
    state, n = start.copy(), len(start.sat)
    returns, active, chosen = np.zeros(n), np.arange(n), []
    for turn in range(len(draws)):
        if not len(active):
            break
        rows = state.select(active)
        row_of = {"episodes": active} if getattr(policy, "needs_episodes", False) else {}  # which row is whose
        action = np.asarray(policy(kernel.observe(rows), state=rows, **row_of))
        moves = np.full(n, -1)
        moves[active] = action
        chosen.append(moves)
        components, outcome = kernel.play(rows, action, draws[turn][:, active])
        returns[active] += components.sum(axis=0)
        state.assign(active, rows)
        active = active[outcome == ONGOING]
    return returns, chosen


class Clairvoyant:
    """A cheat, to show the test below would catch one: it plans on the env's own draws (``future``),
    trying each strategy on the real draws of this turn and the greedy rule on the real draws after."""

    needs_state = needs_episodes = True

    def __init__(self, future: np.ndarray) -> None:
        self.future, self.kernel = future, BatchTurn(DYNAMICS, len(future))

    def __call__(self, obs: np.ndarray, state: CustomerState, episodes: np.ndarray) -> np.ndarray:
        turn = int(state.turn[0])
        value = np.zeros((N_STRATEGIES, len(state.sat)))
        for a in range(N_STRATEGIES):
            s, action = state.copy(), np.full(len(state.sat), a)
            alive = np.ones(len(state.sat), dtype=bool)
            for t in range(turn, len(self.future)):
                components, outcome = self.kernel.play(s, action, self.future[t][:, episodes])
                value[a] += alive * components.sum(axis=0)
                alive &= outcome == ONGOING
                action = trait_policy(s)
        return value.argmax(axis=0)


def mean_and_se(x: np.ndarray) -> tuple[float, float]:
    return float(x.mean()), float(x.std(ddof=1) / np.sqrt(len(x)))


def first_moves_ignore_later_draws(make: Any, n: int = 150, agree: int = 2) -> bool:
    """Whether ``make(draws)``'s moves up to turn ``agree`` are the same on two env draw streams that agree
    on turns before ``agree`` and differ from it on: a move at turn t can only depend on the draws the env
    has already spent, never on those it has yet to draw."""
    start = pinned_customers(n, seed=21)
    rng = np.random.default_rng(22)
    draws = rng.random((10, TURN_DRAWS, n))
    other = draws.copy()
    other[agree:] = rng.random(other[agree:].shape)
    _, moves = play_on_draws(make(draws), start, draws)
    _, other_moves = play_on_draws(make(other), start, other)
    return all(np.array_equal(a, b) for a, b in zip(moves[: agree + 1], other_moves[: agree + 1], strict=True))


def test_the_oracle_never_plans_with_the_envs_own_future_draws() -> None:
    # the same planning seed on two env streams that part at turn 2: every move up to turn 2 is the same
    assert first_moves_ignore_later_draws(lambda draws: OraclePolicy(rollouts=8, seed=4))
    # and the check has teeth: a planner reading the env's draws changes its move at turn 2
    assert not first_moves_ignore_later_draws(Clairvoyant)


def test_the_oracles_return_does_not_move_when_its_generator_is_seeded_apart_from_the_envs() -> None:
    start = pinned_customers(600, seed=31)
    draws = np.random.default_rng(31).random((10, TURN_DRAWS, 600))
    tied = OraclePolicy(rollouts=16, seed=31)
    tied.rngs[0] = np.random.default_rng(31)  # the env's very generator, seed for seed
    apart = OraclePolicy(rollouts=16, seed=9_999)
    tied_returns, _ = play_on_draws(tied, start, draws)
    apart_returns, _ = play_on_draws(apart, start, draws)
    assert abs(mean_and_se(tied_returns - apart_returns)[0]) < 3 * mean_and_se(tied_returns - apart_returns)[1]
    # while a planner that reads the env's draws earns clearly more than the oracle on the same customers
    cheat, _ = play_on_draws(Clairvoyant(draws), start, draws)
    gain, se = mean_and_se(cheat - apart_returns)
    assert gain > 4 * se


def test_the_oracle_beats_the_greedy_rule_it_rolls_out_and_deeper_plans_run() -> None:
    start = pinned_customers(1000, seed=41)
    draws = np.random.default_rng(41).random((10, TURN_DRAWS, 1000))
    oracle, _ = play_on_draws(OraclePolicy(seed=1), start, draws)
    greedy, _ = play_on_draws(lambda obs, state: trait_policy(state), start, draws)
    gain, se = mean_and_se(oracle - greedy)  # (on v1's customers the greedy rule is closer: +0.05 of 1.4)
    assert gain > 3 * se
    deep = OraclePolicy(rollouts=4, depth=2, inner_rollouts=2, seed=1, max_rows=4_096)  # small slices: chunking runs
    actions = deep(None, state=start.select(np.arange(12)))
    assert actions.shape == (12,) and ((actions >= 0) & (actions < N_STRATEGIES)).all()


def test_the_oracle_plans_with_the_dynamics_it_is_given() -> None:
    # rules where an upsell always sells to a receptive customer: an oracle planning with them upsells at once
    # where it otherwise hardly ever does
    sure = tuple(100.0 if k == S.UPSELL else chance for k, chance in enumerate(DYNAMICS.buy_chance))
    sells = dataclasses.replace(DYNAMICS, buy_chance=sure)
    start = pinned_customers(60, seed=51)
    upsells = OraclePolicy(rollouts=8, seed=2, dynamics=sells)(None, state=start) == S.UPSELL
    assert upsells.mean() > 0.2  # (v1: the tier no longer lifts openness, fewer are receptive)
    assert (OraclePolicy(rollouts=8, seed=2)(None, state=start) == S.UPSELL).mean() < 0.1


BAD_SETTINGS = [
    ("rollouts", 0),
    ("depth", -1),
    ("inner_rollouts", 2.5),
    ("rollouts", True),
    ("screen", 0),
    ("contenders", 0),
]


@pytest.mark.parametrize(("option", "value"), BAD_SETTINGS)
def test_the_oracle_refuses_settings_it_cannot_plan_with(option: str, value: Any) -> None:
    with pytest.raises(ValueError, match=f"{option} must be an integer of at least"):
        OraclePolicy(**{option: value})
