"""PPO training throughput (env steps per second of ``learn``) on our env beside CartPole-v1, same settings.

    python benchmarks/ppo_fps.py [--timesteps N] [--repeats R]

Both use the default PPO hyperparameters of ``cs_tui/training/hyperparams.toml`` (network, n_envs,
n_steps, batch size, epochs), one torch thread, and the training env each would get: ours from
``make_training_env`` (what ``cs-tui train`` uses), CartPole-v1 as SB3's ``make_vec_env`` gives it.
Rounds interleave the two envs, so a burst of load elsewhere on the machine hits both alike; the best
round of each counts. Goal (issue 3): ours at least 0.9x CartPole-v1's fps.
"""

from __future__ import annotations

import argparse
import time
from typing import Any


def fps(make_env: Any, timesteps: int, seed: int) -> float:
    from stable_baselines3.common.vec_env import VecEnv

    from cs_tui.training.options import load_defaults
    from cs_tui.training.session import build_model

    defaults = load_defaults()["ppo"]
    env: VecEnv = make_env(defaults.n_envs, seed)
    model = build_model("ppo", env, defaults.hyperparameters(), seed, None)
    model.learn(defaults.model["n_steps"] * defaults.n_envs)  # warm-up: first allocations, torch's lazy init
    start = time.perf_counter()
    model.learn(timesteps, reset_num_timesteps=True)
    return timesteps / (time.perf_counter() - start)


def main() -> None:
    import torch
    from stable_baselines3.common.env_util import make_vec_env

    from cs_tui.training.vecenv import make_training_env

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    envs = {
        "cs_env mixed (make_training_env)": lambda n, seed: make_training_env("mixed", n, seed),
        "CartPole-v1 (make_vec_env)": lambda n, seed: make_vec_env("CartPole-v1", n_envs=n, seed=seed),
    }
    best = dict.fromkeys(envs, 0.0)
    for r in range(args.repeats):
        for name, make_env in envs.items():
            best[name] = max(best[name], fps(make_env, args.timesteps, r))
    for name, rate in best.items():
        print(f"PPO on {name:<36}{rate:>10,.0f} steps/s")
    ratio = best["cs_env mixed (make_training_env)"] / best["CartPole-v1 (make_vec_env)"]
    print(f"ratio ours / CartPole-v1: {ratio:.2f}x (goal >= 0.9x)")


if __name__ == "__main__":
    main()
