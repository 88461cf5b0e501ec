"""Single-env step() throughput: ours beside Gymnasium's CartPole-v1, measured in the same run.

    python benchmarks/env_throughput.py [--steps N]

Each env is stepped with pre-drawn random actions, resetting when an episode ends (resets count
toward the time, as in training). Goal (issue 25): ours at least 0.9x CartPole-v1's steps/s (issue 2
asked 0.5x of v0).
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np

import cs_env  # noqa: F401  (registers the env)


def steps_per_second(env: gym.Env, steps: int, seed: int = 0) -> float:
    actions = np.random.default_rng(seed).integers(0, env.action_space.n, steps).tolist()
    env.reset(seed=seed)
    start = time.perf_counter()
    for a in actions:
        _, _, terminated, truncated, _ = env.step(a)
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    envs = {
        "cs_env/CustomerSupport-v1 (unwrapped)": gym.make("cs_env/CustomerSupport-v1").unwrapped,
        "CartPole-v1 (unwrapped)": gym.make("CartPole-v1").unwrapped,
        "cs_env/CustomerSupport-v1 (gym.make)": gym.make("cs_env/CustomerSupport-v1"),
        "CartPole-v1 (gym.make)": gym.make("CartPole-v1"),
    }
    # rounds interleave the envs, so a burst of load elsewhere on the machine hits all of them alike
    best = dict.fromkeys(envs, 0.0)
    for r in range(args.repeats):
        for name, env in envs.items():
            best[name] = max(best[name], steps_per_second(env, args.steps, r))
    for name, rate in best.items():
        print(f"{name:<40}{rate:>12,.0f} steps/s")
    for kind in ("unwrapped", "gym.make"):
        ours = best[f"cs_env/CustomerSupport-v1 ({kind})"]
        ref = best[f"CartPole-v1 ({kind})"]
        print(f"ratio ours / CartPole-v1 ({kind}): {ours / ref:.2f}x (goal >= 0.9x)")


if __name__ == "__main__":
    main()
