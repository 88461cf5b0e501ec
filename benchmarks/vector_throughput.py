"""Batched env throughput and memory: ours beside Gymnasium's CartPoleVectorEnv, measured in the same run.

    python benchmarks/vector_throughput.py [--repeats N] [--seconds S] [--sizes 1,16,256,4096,65536]

Each env steps with pre-drawn random actions under its default autoreset (next step); resets count
toward the time, as in training. Rounds interleave the envs and sizes so a burst of load elsewhere on
the machine hits all of them alike; each figure is the best of ``--repeats`` rounds. Peak memory at
65,536 envs is measured in a fresh subprocess per env (peak RSS over reset + 50 steps, less the
interpreter's peak after imports; plus tracemalloc's peak of the Python and numpy allocations).

Goals (issue 5): ours >= 5 M steps/s at 4,096 envs, and >= 0.3x CartPoleVectorEnv at the same size.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

import numpy as np

SIZES = (1, 16, 256, 4096, 65536)
MEMORY_SIZE = 65536


def make_env(name: str, n: int) -> tuple[Any, int]:
    """The env and its number of actions."""
    if name == "ours":
        from cs_env.vector import CustomerSupportVectorEnv

        return CustomerSupportVectorEnv(n), 8
    from gymnasium.envs.classic_control.cartpole import CartPoleVectorEnv

    return CartPoleVectorEnv(num_envs=n), 2


def steps_per_second(env: Any, n_actions: int, seconds: float, seed: int) -> float:
    """Env steps per second (one batched step of n envs counts n) over about ``seconds``."""
    n = env.num_envs
    actions = np.random.default_rng(seed).integers(0, n_actions, (16, n))
    env.reset(seed=seed)
    for i in range(3):  # warm up caches and the allocator
        env.step(actions[i])
    calls, start = 0, time.perf_counter()
    while True:
        for i in range(16):
            env.step(actions[i])
        calls += 16
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return calls * n / elapsed


def _peak_rss_kb() -> int:
    """Peak resident memory of this process in kB.

    VmHWM belongs to this process's own address space; ``ru_maxrss`` would also count the peak of the
    parent we were forked from (Linux carries it across fork and exec), hiding a smaller child's growth.
    """
    import resource

    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def memory_child(name: str, n: int) -> None:
    """Run in a fresh interpreter: print peak memory of one env of ``n`` as JSON."""
    import tracemalloc

    if name == "ours":
        import cs_env.vector  # noqa: F401  (imports belong to the baseline)
    else:
        import gymnasium.envs.classic_control.cartpole  # noqa: F401
    baseline_kb = _peak_rss_kb()
    tracemalloc.start()
    env, n_actions = make_env(name, n)
    actions = np.random.default_rng(0).integers(0, n_actions, (50, n))
    env.reset(seed=0)
    for a in actions:
        env.step(a)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(json.dumps({"rss_mb": (_peak_rss_kb() - baseline_kb) / 1024, "traced_mb": traced_peak / 2**20}))


def peak_memory(name: str, n: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", name, str(n)], check=True, capture_output=True, text=True
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=0.25, help="time per measurement")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--memory-child", nargs=2, metavar=("ENV", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child[0], int(args.memory_child[1]))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    names = ("ours", "CartPoleVectorEnv")
    envs = {(name, n): make_env(name, n) for n in sizes for name in names}
    best = dict.fromkeys(envs, 0.0)
    for r in range(args.repeats):
        for key, (env, n_actions) in envs.items():
            best[key] = max(best[key], steps_per_second(env, n_actions, args.seconds, seed=r))
    print(f"steps/s, best of {args.repeats} interleaved rounds of ~{args.seconds:g} s")
    print(f"{'envs':>7} {'ours':>14} {'CartPoleVectorEnv':>18} {'ratio':>7}")
    for n in sizes:
        ours, ref = best[("ours", n)], best[("CartPoleVectorEnv", n)]
        print(f"{n:>7,} {ours:>14,.0f} {ref:>18,.0f} {ours / ref:>6.2f}x")
    if 4096 in sizes:
        ours, ref = best[("ours", 4096)], best[("CartPoleVectorEnv", 4096)]
        print(f"goal at 4,096 envs: >= 5,000,000 steps/s: {ours:,.0f} ({'met' if ours >= 5e6 else 'NOT met'})")
        verdict = "met" if ours >= 0.3 * ref else "NOT met"
        print(f"goal at 4,096 envs: >= 0.3x CartPoleVectorEnv: {ours / ref:.2f}x ({verdict})")
    if not args.no_memory:
        print(f"peak memory at {MEMORY_SIZE:,} envs (reset + 50 steps, fresh process, less the interpreter):")
        for name in names:
            m = peak_memory(name, MEMORY_SIZE)
            print(f"  {name:<18} RSS +{m['rss_mb']:6.1f} MB   tracemalloc peak {m['traced_mb']:6.1f} MB")


if __name__ == "__main__":
    main()
