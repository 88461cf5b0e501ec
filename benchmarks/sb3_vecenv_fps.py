"""SB3 training fps on the batched adapter vs DummyVecEnv of single envs, measured in the same run.

    python benchmarks/sb3_vecenv_fps.py [--n-envs 16] [--repeats 3] [--timesteps-a2c N] [--timesteps-ppo N]

Both kinds come from ``cs_tui.training.vecenv.make_training_env`` with the same seed; the models use
the same hyperparameters (those of ``cs_tui/training/hyperparams.toml`` at the time of writing, listed
below) and one torch thread. fps = timesteps / wall time of ``learn()`` (model construction excluded).
Rounds interleave algorithms and kinds; each figure is the best of ``--repeats``. The env-only line
steps each kind with random actions and no model: the adapter's own speed.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from cs_tui.training.vecenv import make_training_env

POLICY = {"net_arch": [64, 64]}
HYPERPARAMETERS: dict[str, dict[str, Any]] = {
    "A2C": {"learning_rate": 7e-4, "n_steps": 5, "gamma": 0.99, "gae_lambda": 1.0},
    "PPO": {"learning_rate": 3e-4, "n_steps": 256, "batch_size": 64, "n_epochs": 10, "gamma": 0.99},
}
KINDS = ("batched", "dummy")


def training_fps(algorithm: str, kind: str, n_envs: int, timesteps: int, seed: int) -> float:
    import stable_baselines3 as sb3
    import torch

    env = make_training_env("mixed", n_envs, seed, kind=kind)
    kwargs = dict(HYPERPARAMETERS[algorithm])
    kwargs["policy_kwargs"] = {**POLICY, "activation_fn": torch.nn.Tanh}
    model = getattr(sb3, algorithm)("MlpPolicy", env, seed=seed, device="cpu", **kwargs)
    start = time.perf_counter()
    model.learn(total_timesteps=timesteps)
    elapsed = time.perf_counter() - start
    env.close()
    return model.num_timesteps / elapsed


def env_only_fps(kind: str, n_envs: int, seconds: float, seed: int) -> float:
    env = make_training_env("mixed", n_envs, seed, kind=kind)
    actions = np.random.default_rng(seed).integers(0, 8, (64, n_envs))
    env.reset()
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for a in actions:
            env.step(a)
        calls += len(actions)
    return calls * n_envs / (time.perf_counter() - start)


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n-envs", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timesteps-a2c", type=int, default=20_000)
    parser.add_argument("--timesteps-ppo", type=int, default=16_384)
    parser.add_argument("--algorithms", default="A2C,PPO")
    args = parser.parse_args()
    torch.set_num_threads(1)
    algorithms = args.algorithms.split(",")
    steps = {"A2C": args.timesteps_a2c, "PPO": args.timesteps_ppo}
    best: dict[tuple[str, str], float] = {}
    for r in range(args.repeats):
        for kind in KINDS:
            key = ("env only", kind)
            best[key] = max(best.get(key, 0.0), env_only_fps(kind, args.n_envs, 0.5, seed=r))
        for algorithm in algorithms:
            for kind in KINDS:
                fps = training_fps(algorithm, kind, args.n_envs, steps[algorithm], seed=r)
                best[(algorithm, kind)] = max(best.get((algorithm, kind), 0.0), fps)
    print(f"{args.n_envs} envs, torch threads 1, best of {args.repeats} interleaved rounds")
    print(f"{'':<10}{'batched':>12}{'dummy':>12}{'batched/dummy':>15}")
    for what in ("env only", *algorithms):
        batched, dummy = best[(what, "batched")], best[(what, "dummy")]
        print(f"{what:<10}{batched:>12,.0f}{dummy:>12,.0f}{batched / dummy:>14.2f}x")


if __name__ == "__main__":
    main()
