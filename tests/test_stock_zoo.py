"""RL Baselines3 Zoo trains, enjoys and records the env with the hyperparameter file we ship, as its docs run it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from cs_env.reward import EPISODE_RETURN_BOUNDS

CONF = Path(__file__).parent.parent / "cs_tui" / "training" / "rl_zoo3_ppo.yml"
ID = "cs_env/CustomerSupport-v1"

pytestmark = [pytest.mark.slow, pytest.mark.heavy]


def zoo(args: list[str], cwd: Path, *, prelude: str = "") -> str:
    """``python -m SCRIPT ARGS`` (with ``prelude``: the same after running it); its output, or a failure showing it."""
    script, *rest = args
    code = f"{prelude}import runpy; runpy.run_module({script!r}, run_name='__main__', alter_sys=True)"
    argv = [sys.executable, "-c", code, *rest] if prelude else [sys.executable, "-m", *args]
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done.stdout + done.stderr


def test_rl_zoo_trains_enjoys_and_records_with_the_shipped_hyperparameters(tmp_path: Path) -> None:
    import imageio.v2 as imageio
    from stable_baselines3 import PPO

    common = ["--algo", "ppo", "--env", ID, "-f", "logs"]
    quick = ["-n", "2048", "--seed", "0", "--num-threads", "1", "--device", "cpu", "--eval-freq", "-1"]
    zoo(["rl_zoo3.train", *common, "--gym-packages", "cs_env", "--conf-file", str(CONF), *quick], tmp_path)
    run = tmp_path / "logs" / "ppo" / "cs_env-CustomerSupport-v1_1"
    model = PPO.load(run / "cs_env-CustomerSupport-v1.zip", device="cpu")
    shipped = yaml.safe_load(CONF.read_text())[ID]
    assert model.num_timesteps == 8192  # one rollout of the shipped 64 envs x 128 steps
    assert model.n_envs == shipped["n_envs"] and model.n_steps == shipped["n_steps"]
    assert (model.gamma, model.ent_coef, model.batch_size) == (shipped["gamma"], shipped["ent_coef"], 256)

    out = zoo(
        ["rl_zoo3.enjoy", *common, "--gym-packages", "cs_env", "--no-render", "-n", "300", "--device", "cpu"], tmp_path
    )
    episodes = int(re.search(r"(\d+) Episodes", out).group(1))  # type: ignore[union-attr]
    mean = float(re.search(r"Mean reward: (-?[\d.]+)", out).group(1))  # type: ignore[union-attr]
    assert episodes >= 20  # at most 10 turns each, in 300 steps
    assert EPISODE_RETURN_BOUNDS[0] <= mean <= EPISODE_RETURN_BOUNDS[1]

    # record_video has no --gym-packages (the Zoo's issue #396): cs_env is imported before it runs
    zoo(
        ["rl_zoo3.record_video", *common, "-n", "12", "-o", "videos", "--deterministic"],
        tmp_path,
        prelude="import cs_env; ",
    )
    (video,) = (tmp_path / "videos").glob("*.mp4")
    with imageio.get_reader(video) as reader:  # type: ignore[no-untyped-call]
        frames = [np.asarray(f) for f in reader]
    assert len(frames) == 13 and frames[0].shape == (576, 1024, 3)
    assert not np.array_equal(frames[0], frames[-1])


def test_the_zoo_file_holds_the_same_ppo_defaults_as_hyperparams_toml() -> None:
    from cs_tui.training.options import load_defaults

    shipped = yaml.safe_load(CONF.read_text())[ID]
    ours = load_defaults()["ppo"]
    assert shipped["n_envs"] == ours.n_envs and shipped["n_timesteps"] == ours.timesteps
    assert {k: shipped[k] for k in ours.model} == ours.model
    arch = re.search(r"net_arch=(\[[\d, ]+\])", shipped["policy_kwargs"]).group(1)  # type: ignore[union-attr]
    assert json.loads(arch) == ours.policy["net_arch"] and "nn.Tanh" in shipped["policy_kwargs"]
