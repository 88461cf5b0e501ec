"""The batched env: the Gymnasium vector API, autoreset, seeding, bad input, and equivalence with the single env."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from cs_env import ENV_ID, CustomerSupportEnv
from cs_env.customer import CustomerState
from cs_env.domain import STRATEGY_NAMES
from cs_env.evaluate import rollout
from cs_env.policies import FixedPolicy, HeuristicPolicy, RandomPolicy
from cs_env.vector import CustomerSupportVectorEnv


def test_make_vec_vector_entry_point_returns_the_batched_env() -> None:
    envs = gym.make_vec(ENV_ID, num_envs=8, vectorization_mode="vector_entry_point", industry="tech")
    assert isinstance(envs.unwrapped, CustomerSupportVectorEnv)
    obs, info = envs.reset(seed=0)
    assert obs.shape == (8, 18) and obs.dtype == np.float32
    assert envs.single_observation_space == CustomerSupportEnv("tech").observation_space
    assert set(envs.unwrapped.named_info(info)["industry"]) == {"tech"}  # type: ignore[attr-defined]


def test_per_env_seeds_give_the_single_envs_first_customers() -> None:
    seeds = [3, 14, 15, 92, 65]
    envs = CustomerSupportVectorEnv(len(seeds), industry="retail")
    obs, info = envs.reset(seed=seeds)
    single = CustomerSupportEnv("retail")
    for i, seed in enumerate(seeds):
        expected, expected_info = single.reset(seed=seed)
        np.testing.assert_allclose(obs[i], expected, rtol=1e-6)
        assert info["inquiry_type"][i] == expected_info["inquiry_type"]


def test_same_seed_same_batch_trajectory() -> None:
    def run() -> list[bytes]:
        envs = CustomerSupportVectorEnv(64)
        out = [envs.reset(seed=5)[0].tobytes()]
        rng = np.random.default_rng(0)
        for _ in range(30):
            obs, reward, term, trunc, _ = envs.step(rng.integers(0, 8, 64))
            out += [obs.tobytes(), reward.tobytes(), term.tobytes(), trunc.tobytes()]
        return out

    assert run() == run()


def test_the_batch_stays_in_float32() -> None:
    """Every float of the batch's state is float32 after many steps: one float64 operand would silently
    double the memory traffic of every operation that follows it."""
    envs = CustomerSupportVectorEnv(64)
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(30):
        envs.step(rng.integers(0, 8, 64))
    assert envs.state is not None
    kinds = {name: getattr(envs.state, name).dtype for name in CustomerState.__slots__}
    assert {dtype for dtype in kinds.values() if dtype.kind == "f"} == {np.dtype(np.float32)}, kinds


def test_a_restarted_env_starts_from_zero_whatever_its_last_conversation_left() -> None:
    envs = CustomerSupportVectorEnv(4)
    envs.reset(seed=8)  # (customers who all stay through the four turns)
    for strategy in (3, 7, 0, 6):  # offers, empathy, a quick fix: counts and offers move
        _, _, terminated, truncated, _ = envs.step(np.full(4, strategy))
        assert not (terminated | truncated).any()
    envs.step(np.full(4, 2))  # escalate ends every conversation
    obs, *_ = envs.step(np.full(4, 2))  # the next step starts them anew
    assert envs.state is not None
    for name in ("turn", "empathy_uses", "solution_uses", "offered_recommend", "offered_upsell", "progress"):
        assert (getattr(envs.state, name) == 0).all(), name
    assert (obs[:, 3] == 0).all() and (obs[:, 14:17] == 0).all()  # turn, empathy, solutions, offers


def test_next_step_autoreset_ignores_the_action_and_pays_nothing() -> None:
    envs = CustomerSupportVectorEnv(4)
    envs.reset(seed=1)
    _, reward, terminated, _, _ = envs.step(np.full(4, 2))  # escalate ends every conversation
    assert terminated.all() and (reward != 0).all()
    obs, reward, terminated, truncated, info = envs.step(np.full(4, 2))
    assert (reward == 0).all() and not terminated.any() and not truncated.any()
    assert (obs[:, 3] == 0).all() and all(o == "ongoing" for o in envs.named_info(info)["outcome"])


def test_same_step_autoreset_reports_the_final_observation() -> None:
    envs = CustomerSupportVectorEnv(4, autoreset_mode="same_step")
    envs.reset(seed=1)
    envs.step(np.array([0, 0, 0, 0]))
    obs, _, terminated, _, info = envs.step(np.array([2, 0, 2, 0]))
    assert terminated.tolist() == [True, False, True, False]
    assert info["_final_obs"].tolist() == [True, False, True, False]
    assert (info["final_obs"][[0, 2], 3] == 2).all()  # the finished episodes had two turns
    assert list(envs.named_info(info)["final_info"]["outcome"][[0, 2]]) == ["escalated", "escalated"]
    assert (obs[[0, 2], 3] == 0).all() and (obs[[1, 3], 3] == 2).all()


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        (np.array([0, 1, 9, -1]), r"invalid actions \(env 2: 9, env 3: -1\): valid actions are 0-7"),
        (np.array([0, 1, 2]), r"actions must have shape \(4,\), got \(3,\)"),
        (np.array([0.0, 1.0, 2.0, 3.0]), "actions must be integers 0-7, got dtype float64"),
        (np.zeros((4, 1), dtype=int), r"shape \(4,\), got \(4, 1\)"),
        # found by benchmarks/torture.py: a ragged list failed inside numpy with a message about "sequences"
        ([0, [1, 2], 3, 4], r"actions must be 4 integers 0-7, got \[0, \[1, 2\], 3, 4\]"),
        ([0, 1, 2, None], "actions must be integers 0-7, got dtype object"),
    ],
)
def test_bad_actions_name_the_offending_entries(actions: np.ndarray, message: str) -> None:
    envs = CustomerSupportVectorEnv(4)
    envs.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        envs.step(actions)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="num_envs must be a positive integer"):
        CustomerSupportVectorEnv(0)
    with pytest.raises(ValueError, match="unknown industry 'space'"):
        CustomerSupportVectorEnv(2, industry="space")
    with pytest.raises(ValueError, match="unknown autoreset_mode 'sometimes'; valid: next_step, same_step"):
        CustomerSupportVectorEnv(2, autoreset_mode="sometimes")
    with pytest.raises(RuntimeError, match="before reset"):
        CustomerSupportVectorEnv(2).step(np.zeros(2, dtype=int))
    with pytest.raises(ValueError, match="4 seeds for 2 envs"):
        CustomerSupportVectorEnv(2).reset(seed=[1, 2, 3, 4])
    # found by benchmarks/torture.py: numpy's own "expected non-negative integer" named no seed
    with pytest.raises(ValueError, match="seeds must be non-negative, got -1"):
        CustomerSupportVectorEnv(2).reset(seed=[5, -1])


# -- one set of rules: the batched env (float32) plays the single env's game -----------------------
# evaluate.rollout plays exactly the single env's conversations (tests/test_turn.py holds the kernels
# equal to the last bit, tests/test_evaluate.py the rollout to the single env), so comparing the batched
# env with rollout compares it with the single env, at a fraction of the cost of 20,000 single-env
# episodes per policy
EPISODES = 20_000


def _vector_env_episodes(policy: object, industry: str, episodes: int, seed: int) -> np.ndarray:
    """The first ``k`` episodes of every env: keeping the first ``episodes`` to finish would favour short ones."""
    n = 2000
    k = -(-episodes // n)
    envs = CustomerSupportVectorEnv(n, industry=industry, autoreset_mode="same_step")
    obs, _ = envs.reset(seed=seed)
    totals = np.zeros(n)
    done_count = np.zeros(n, dtype=int)
    rows: list[np.ndarray] = []
    while done_count.min() < k:
        obs, reward, terminated, truncated, info = envs.step(policy(obs))
        totals += reward
        ended = terminated | truncated
        keep = ended & (done_count < k)
        if keep.any():
            outcome = envs.named_info(info)["final_info"]["outcome"][keep]
            columns = [totals[keep], outcome == "resolved", outcome == "escalated", outcome == "abandoned"]
            rows.append(np.column_stack([*columns, info["final_obs"][keep, 3]]))
        done_count += ended
        totals[ended] = 0.0
    return np.concatenate(rows).astype(float)


POLICIES = {"random": lambda: RandomPolicy(0), "heuristic": HeuristicPolicy} | {
    name: (lambda i=i: FixedPolicy(i)) for i, name in enumerate(STRATEGY_NAMES)
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(POLICIES))
def test_the_batched_env_and_the_single_envs_rules_are_statistically_indistinguishable(name: str) -> None:
    """The batched env (training, float32) against ``evaluate.rollout`` (every % of oracle, float64, the
    single env's numbers), on different customers."""
    r = rollout(POLICIES[name](), industry="mixed", episodes=EPISODES, seed=3)
    evaluated = np.column_stack([r.returns, r.outcomes == 1, r.outcomes == 2, r.outcomes == 3, r.turns]).astype(float)
    batched = _vector_env_episodes(POLICIES[name](), "mixed", EPISODES, seed=2)
    for column, label in enumerate(["mean return", "resolution", "escalation", "abandonment", "mean turns"]):
        a, b = evaluated[:, column], batched[:, column]
        se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
        # 4.5 standard errors: a 5-number x 10-policy family still fails by chance < 1 in 10,000 runs
        assert abs(a.mean() - b.mean()) <= max(4.5 * se, 1e-9), (label, a.mean(), b.mean(), se)
