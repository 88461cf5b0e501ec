"""stable-baselines3 and sb3-contrib on the env, knowing only its id string, as their docs use them.

Each trains a few thousand steps (seconds): enough to check the pieces fit and behave — episodes
counted, returns finite, a saved model reloads and scores exactly the same — not to train an agent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from cs_env.env import OBS_SIZE
from cs_env.reward import EPISODE_RETURN_BOUNDS

ID = "cs_env:cs_env/CustomerSupport-v1"
LIMIT = 10  # the registered time limit: no episode is longer
# a conversation's return lies in EPISODE_RETURN_BOUNDS (the env's docstring, cs_env/reward.py)
LOW, HIGH = EPISODE_RETURN_BOUNDS

pytestmark = [pytest.mark.slow, pytest.mark.heavy]


@pytest.fixture(autouse=True)
def one_thread() -> None:
    torch.set_num_threads(1)  # small MLPs: threads cost more than they give, and the suite runs in parallel


def algorithm(name: str) -> tuple[type, dict[str, Any]]:
    from stable_baselines3 import A2C, DQN, PPO

    return {
        "ppo": (PPO, {"n_steps": 128, "batch_size": 128, "n_epochs": 2}),
        "a2c": (A2C, {"n_steps": 8}),
        "dqn": (DQN, {"learning_starts": 200, "buffer_size": 5000, "train_freq": 4, "target_update_interval": 250}),
    }[name]


def scores(model: Any, seed: int, episodes: int = 30) -> list[float]:
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy

    returns, lengths = evaluate_policy(
        model,
        make_vec_env(ID, n_envs=1, seed=seed),
        n_eval_episodes=episodes,
        deterministic=True,
        return_episode_rewards=True,
    )
    assert len(returns) == episodes and all(1 <= n <= LIMIT for n in lengths)
    assert all(LOW - 1e-9 <= r <= HIGH + 1e-9 for r in returns)
    return list(returns)


def counted_episodes(model: Any) -> list[dict[str, float]]:
    episodes = list(model.ep_info_buffer)
    assert episodes, "Monitor (make_vec_env's) recorded no episode"
    assert all(np.isfinite(e["r"]) and LOW - 1e-9 <= e["r"] <= HIGH + 1e-9 and 1 <= e["l"] <= LIMIT for e in episodes)
    return episodes


@pytest.mark.parametrize("name", ["ppo", "a2c", "dqn"])
def test_make_vec_env_learn_save_load_evaluate(name: str, tmp_path: Path) -> None:
    from stable_baselines3.common.env_util import make_vec_env

    cls, kwargs = algorithm(name)
    venv = make_vec_env(ID, n_envs=4, seed=0)
    model = cls("MlpPolicy", venv, seed=0, device="cpu", **kwargs)
    model.learn(2048)
    assert model.num_timesteps >= 2048
    assert len(counted_episodes(model)) > 20
    model.save(tmp_path / "model.zip")
    loaded = cls.load(tmp_path / "model.zip", device="cpu")
    assert scores(loaded, seed=7) == scores(model, seed=7)  # the same customers, the same answers


def test_subproc_vec_env_trains() -> None:
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import SubprocVecEnv

    # fork: the workers start without importing torch again (the default forkserver would, in each)
    venv = make_vec_env(ID, n_envs=2, seed=0, vec_env_cls=SubprocVecEnv, vec_env_kwargs={"start_method": "fork"})
    try:
        model = PPO("MlpPolicy", venv, n_steps=256, batch_size=128, n_epochs=1, seed=0, device="cpu")
        model.learn(1024)
        assert len(counted_episodes(model)) > 50
        industries = venv.get_attr("industry")
        assert industries == ["mixed", "mixed"]
    finally:
        venv.close()


def test_vec_normalize_statistics_save_and_reload(tmp_path: Path) -> None:
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.vec_env import VecNormalize

    venv = VecNormalize(make_vec_env(ID, n_envs=4, seed=0))
    model = PPO("MlpPolicy", venv, n_steps=128, batch_size=128, n_epochs=2, seed=0, device="cpu")
    model.learn(2048)
    assert venv.obs_rms.count > 2000 and np.isfinite(venv.obs_rms.mean).all()
    venv.save(str(tmp_path / "vecnormalize.pkl"))
    model.save(tmp_path / "model.zip")

    def evaluate(model: Any, stats: VecNormalize | None) -> list[float]:
        env = make_vec_env(ID, n_envs=1, seed=3)
        env = VecNormalize.load(str(tmp_path / "vecnormalize.pkl"), env)
        env.training, env.norm_reward = False, False
        returns, _ = evaluate_policy(model, env, n_eval_episodes=30, deterministic=True, return_episode_rewards=True)
        return list(returns)

    loaded = PPO.load(tmp_path / "model.zip", device="cpu")
    first = evaluate(model, None)
    assert evaluate(loaded, None) == first
    assert all(LOW - 1e-9 <= r <= HIGH + 1e-9 for r in first)  # unnormalized returns (Monitor's, under VecNormalize)


def test_vec_frame_stack_stacks_observations() -> None:
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecFrameStack

    venv = VecFrameStack(make_vec_env(ID, n_envs=4, seed=0), n_stack=3)
    assert venv.observation_space.shape == (3 * OBS_SIZE,)
    obs = venv.reset()
    assert obs.shape == (4, 3 * OBS_SIZE)
    assert np.all(obs[:, : 2 * OBS_SIZE] == 0)  # the first step: the two older frames are still empty
    first = obs
    obs, _, dones, _ = venv.step(np.zeros(4, dtype=np.int64))
    going = ~dones  # an ended conversation's stack starts again
    # the frames moved back by one
    assert np.array_equal(
        obs[going, OBS_SIZE : 2 * OBS_SIZE], first[going, 2 * OBS_SIZE :]
    )  # the frames moved back by one
    model = PPO("MlpPolicy", venv, n_steps=128, batch_size=128, n_epochs=1, seed=0, device="cpu")
    model.learn(1024)
    assert len(counted_episodes(model)) > 50


def test_eval_and_checkpoint_callbacks_write_their_files(tmp_path: Path) -> None:
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import CheckpointCallback, EvalCallback
    from stable_baselines3.common.env_util import make_vec_env

    venv = make_vec_env(ID, n_envs=4, seed=0)
    evaluate = EvalCallback(
        make_vec_env(ID, n_envs=1, seed=5),
        n_eval_episodes=20,
        eval_freq=256,  # calls, i.e. every 1,024 steps with 4 envs
        best_model_save_path=str(tmp_path / "best"),
        log_path=str(tmp_path / "eval"),
        deterministic=True,
    )
    checkpoint = CheckpointCallback(save_freq=256, save_path=str(tmp_path / "checkpoints"), name_prefix="cs")
    model = PPO("MlpPolicy", venv, n_steps=128, batch_size=128, n_epochs=1, seed=0, device="cpu")
    model.learn(3072, callback=[evaluate, checkpoint])
    log = np.load(tmp_path / "eval" / "evaluations.npz")
    assert list(log["timesteps"]) == [1024, 2048, 3072]
    assert log["results"].shape == (3, 20) and np.isfinite(log["results"]).all()
    assert evaluate.best_mean_reward == pytest.approx(log["results"].mean(axis=1).max())
    assert (tmp_path / "best" / "best_model.zip").is_file()
    saved = sorted(p.name for p in (tmp_path / "checkpoints").glob("*.zip"))
    assert saved == ["cs_1024_steps.zip", "cs_2048_steps.zip", "cs_3072_steps.zip"]
    # the last checkpoint is written as the last rollout is collected, before its update: it plays (scores
    # checks every return's bounds) but is not the final model; the final model saved and loaded plays exactly
    scores(PPO.load(tmp_path / "checkpoints" / "cs_3072_steps.zip", device="cpu"), seed=5, episodes=20)
    model.save(tmp_path / "final")
    assert scores(PPO.load(tmp_path / "final.zip", device="cpu"), seed=5, episodes=20) == scores(
        model, seed=5, episodes=20
    )


def test_sb3_contrib_recurrent_ppo_learns_saves_and_reloads(tmp_path: Path) -> None:
    from sb3_contrib import RecurrentPPO
    from stable_baselines3.common.env_util import make_vec_env

    venv = make_vec_env(ID, n_envs=4, seed=0)
    model = RecurrentPPO(
        "MlpLstmPolicy",
        venv,
        n_steps=64,
        batch_size=128,
        n_epochs=2,
        seed=0,
        device="cpu",
        policy_kwargs={"lstm_hidden_size": 32, "net_arch": [32]},
    )
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(2048)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.policy.parameters(), strict=True))
    assert len(counted_episodes(model)) == 100  # Monitor's last 100 episodes, of ~500 played
    model.save(tmp_path / "lstm.zip")
    loaded = RecurrentPPO.load(tmp_path / "lstm.zip", device="cpu")
    assert scores(loaded, seed=2, episodes=20) == scores(model, seed=2, episodes=20)
