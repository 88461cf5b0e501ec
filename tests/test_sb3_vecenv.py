"""The training env: both kinds behave as stable-baselines3 expects, and SB3 trains on the batched one."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

from cs_env.domain import OUTCOME_NAMES
from cs_tui.training.vecenv import make_training_env, pick_kind

sb3 = pytest.importorskip("stable_baselines3")

KINDS = ("batched", "dummy")
ESCALATE, EMPATHETIC = 2, 0


def test_importing_the_module_loads_neither_torch_nor_sb3() -> None:
    code = "import sys, cs_tui.training.vecenv; print(sorted({'torch', 'stable_baselines3'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("kind", KINDS)
def test_step_returns_what_sb3_expects(kind: str) -> None:
    from stable_baselines3.common.vec_env import VecEnv

    envs = make_training_env("retail", 6, seed=0, kind=kind)
    assert isinstance(envs, VecEnv) and envs.num_envs == 6
    assert envs.observation_space.shape == (18,) and envs.action_space.n == 8
    obs = envs.reset()
    assert obs.shape == (6, 18) and obs.dtype == np.float32
    rng = np.random.default_rng(0)
    for _ in range(20):
        obs, rewards, dones, infos = envs.step(rng.integers(0, 8, 6))
        assert obs.shape == (6, 18) and obs.dtype == np.float32 and obs.flags.c_contiguous
        assert all(envs.observation_space.contains(o) for o in obs)
        assert rewards.shape == (6,) and rewards.dtype == np.float32
        assert dones.shape == (6,) and dones.dtype == bool
        assert isinstance(infos, list) and len(infos) == 6 and all(isinstance(i, dict) for i in infos)
    envs.close()


@pytest.mark.parametrize("kind", KINDS)
def test_an_ended_episode_is_reset_in_the_same_step_with_its_terminal_observation(kind: str) -> None:
    envs = make_training_env("mixed", 4, seed=1, kind=kind)
    envs.reset()
    envs.step(np.full(4, EMPATHETIC))
    obs, _, dones, infos = envs.step(np.full(4, ESCALATE))  # escalation ends every conversation
    assert dones.all()
    for i, info in enumerate(infos):
        assert info["terminal_observation"][3] == 2  # the finished conversation had two turns
        assert obs[i, 3] == 0  # the returned observation is the next customer's first
        assert info["TimeLimit.truncated"] is False
        assert OUTCOME_NAMES[info["outcome"]] == "escalated"
        assert info["episode"]["l"] == 2


@pytest.mark.parametrize("kind", KINDS)
def test_episode_stats_are_the_returns_actually_earned(kind: str) -> None:
    n = 16
    envs = make_training_env("mixed", n, seed=2, kind=kind)
    envs.reset()
    rng = np.random.default_rng(2)
    earned, lengths, checked = np.zeros(n), np.zeros(n, dtype=int), 0
    for _ in range(200):
        _, rewards, dones, infos = envs.step(rng.integers(0, 8, n))
        earned += rewards
        lengths += 1
        for i in np.flatnonzero(dones):
            episode = infos[i]["episode"]
            assert episode["r"] == pytest.approx(earned[i], abs=1e-4)
            assert episode["l"] == lengths[i]
            assert episode["t"] >= 0.0
            checked += 1
        assert all("episode" not in infos[i] for i in np.flatnonzero(~dones))
        earned[dones], lengths[dones] = 0.0, 0
    assert checked > 200


@pytest.mark.parametrize("kind", KINDS)
def test_timeouts_are_time_limit_truncations(kind: str) -> None:
    envs = make_training_env("tech", 32, seed=3, max_turns=2, kind=kind)
    envs.reset()
    outcomes: set[str] = set()
    for _ in range(10):
        _, _, dones, infos = envs.step(np.full(32, EMPATHETIC))  # empathy alone never resolves
        for i in np.flatnonzero(dones):
            info = infos[i]
            outcome = OUTCOME_NAMES[info["outcome"]]
            outcomes.add(outcome)
            assert info["TimeLimit.truncated"] == (outcome == "timeout")
            if outcome == "timeout":
                assert info["terminal_observation"][3] == 2
    assert "timeout" in outcomes


def test_the_same_seed_starts_both_kinds_from_the_same_customers() -> None:
    batched = make_training_env("bfsi", 5, seed=11, kind="batched").reset()
    dummy = make_training_env("bfsi", 5, seed=11, kind="dummy").reset()
    np.testing.assert_array_equal(batched, dummy)


@pytest.mark.parametrize("kind", KINDS)
def test_seeded_runs_are_reproducible(kind: str) -> None:
    def run(seed: int) -> list[bytes]:
        envs = make_training_env("mixed", 8, seed=seed, kind=kind)
        out = [envs.reset().tobytes()]
        rng = np.random.default_rng(0)
        for _ in range(30):
            obs, rewards, dones, _ = envs.step(rng.integers(0, 8, 8))
            out += [obs.tobytes(), rewards.tobytes(), dones.tobytes()]
        return out

    assert run(5) == run(5)
    assert run(5) != run(6)


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        (np.array([0, 9, -1, 2]), r"invalid actions \(env 1: 9, env 2: -1\): valid actions are 0-7"),
        (np.array([0.5, 1.0, 2.0, 3.0]), "actions must be integers 0-7, got dtype float64"),
        (np.array([0, 1, 2]), r"actions must have shape \(4,\), got \(3,\)"),
    ],
)
def test_bad_actions_raise_a_value_error_naming_the_offending_entries(actions: np.ndarray, message: str) -> None:
    envs = make_training_env("mixed", 4, seed=0, kind="batched")
    envs.reset()
    with pytest.raises(ValueError, match=message):
        envs.step(actions)


def test_bad_arguments_name_the_valid_choices() -> None:
    with pytest.raises(ValueError, match="unknown vec env kind 'fast'; valid: auto, batched, dummy"):
        make_training_env("mixed", 2, seed=0, kind="fast")
    with pytest.raises(ValueError, match="unknown industry 'space'; valid industries: bfsi"):
        make_training_env("space", 2, seed=0)
    with pytest.raises(ValueError, match="n_envs must be a positive integer, got 0"):
        make_training_env("mixed", 0, seed=0)
    with pytest.raises(ValueError, match="max_turns must be an integer from 1 to 1,000"):
        make_training_env("mixed", 2, seed=0, max_turns=0)


def test_auto_follows_the_documented_rule() -> None:
    for n in (1, 2, 16, 64):
        envs = make_training_env("mixed", n, seed=0, kind="auto")
        expected = "BatchedVecEnv" if pick_kind(n) == "batched" else "DummyVecEnv"
        assert type(envs).__name__ == expected


def test_attributes_are_shared_by_all_envs() -> None:
    from stable_baselines3.common.monitor import Monitor

    envs = make_training_env("tech", 3, seed=0, kind="batched")
    assert envs.get_attr("industry") == ["tech"] * 3
    assert envs.get_attr("max_turns", indices=[0, 2]) == [10, 10]
    # a method runs once on the batched env; its result is reported for each index asked about
    shown = envs.env_method("__repr__", indices=[0, 2])
    assert len(shown) == 2 and shown[0] == shown[1] and "CustomerSupportVectorEnv" in shown[0]
    envs.set_attr("note", "shared")
    assert envs.get_attr("note") == ["shared"] * 3
    with pytest.raises(ValueError, match=r"set_attr\('note'\) works on all envs only"):
        envs.set_attr("note", "one", indices=[1])
    # it records Monitor's episode stats itself, so evaluate_policy may trust info["episode"]
    assert envs.env_is_wrapped(Monitor) == [True] * 3
    with pytest.raises(ValueError, match="no reset options"):
        envs.set_options({"tier": 1})
        envs.reset()


@pytest.mark.heavy
@pytest.mark.slow
@pytest.mark.parametrize("algorithm", ["PPO", "A2C"])
def test_sb3_learns_on_the_batched_env(algorithm: str) -> None:
    import torch
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.vec_env import VecCheckNan, VecNormalize

    torch.set_num_threads(1)
    envs = VecNormalize(VecCheckNan(make_training_env("mixed", 8, seed=0, kind="batched"), raise_exception=True))
    kwargs = {"n_steps": 32, "batch_size": 64, "n_epochs": 2} if algorithm == "PPO" else {"n_steps": 8}
    model = getattr(sb3, algorithm)("MlpPolicy", envs, seed=0, device="cpu", **kwargs)
    model.learn(total_timesteps=512)
    assert model.num_timesteps >= 512
    assert len(model.ep_info_buffer) > 20 and all(np.isfinite(e["r"]) for e in model.ep_info_buffer)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "not wrapped with a Monitor"
        evaluate_policy(model, make_training_env("mixed", 4, seed=1, kind="batched"), n_eval_episodes=8)


@pytest.mark.heavy
@pytest.mark.slow
def test_seeded_training_is_reproducible() -> None:
    import torch

    torch.set_num_threads(1)

    def train() -> list[np.ndarray]:
        model = sb3.PPO(
            "MlpPolicy",
            make_training_env("mixed", 8, seed=4, kind="batched"),
            seed=4,
            n_steps=16,
            batch_size=32,
            n_epochs=1,
            device="cpu",
        )
        model.learn(total_timesteps=256)
        return [p.detach().numpy().copy() for p in model.policy.parameters()]

    for a, b in zip(train(), train(), strict=True):
        np.testing.assert_array_equal(a, b)
