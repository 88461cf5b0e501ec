"""Is the oracle converged? Its return at more depth and more rollouts, on the same customers and draws.

    python benchmarks/oracle_convergence.py [--episodes 2000] [--seed 3] [--industry mixed]
                                            [--settings d1k16 d1k32 d1k128 d2k32i16@300 ...] [--save F.npz]

Every setting plays the very same conversations: episode i meets the customer and the turn draws of
``CustomerSupportEnv(industry).reset(seed=SEED * 1_000_000 + i)`` (``rollout(env_seeds=...)``), so two
settings differ only by their own choices (common random numbers), and each row's difference from the
default oracle is paired, with its standard error. A setting is ``dDkK`` (depth D, K rollouts per
strategy at the top), with ``sScC`` for racing (every strategy gets S rollouts, the best C the rest of
the K), ``iI`` for the inner levels' rollouts at depth 2 and more, and ``@N`` to play
only the first N episodes (the deep settings are slow; their difference is then against the default on
those N). The last rows are the old oracle (depth 1, 32 rollouts), the greedy rule the oracle rolls
out (``trait_policy``), the heuristic and random, with their % of the default oracle on the same
customers. The criterion (issue 25, item 6): more depth or rollouts add less than 0.3 % of its return.
Time is per 10,000 conversations on this machine in this run: CPU seconds (what the work costs; the
process runs on one core) / wall seconds (what it took beside the machine's other work; the load is
printed).
"""

from __future__ import annotations

import argparse
import os
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

SETTING = re.compile(
    r"d(?P<depth>\d+)k(?P<rollouts>\d+)(?:s(?P<screen>\d+)c(?P<contenders>\d+))?(?:i(?P<inner>\d+))?(?:@(?P<episodes>\d+))?$"
)


def parse(setting: str) -> tuple[dict[str, int], int | None]:
    """``d2k32i16@500`` or ``d1k256s32c3`` as the oracle's keyword options and the episodes to play (None: all)."""
    found = SETTING.match(setting)
    if not found:
        raise SystemExit(f"--settings: {setting!r} is not dDkK[sScC][iI][@N] (e.g. d1k64, d1k256s32c3, d2k32i16@500)")
    options = {"depth": int(found["depth"]), "rollouts": int(found["rollouts"])}
    options["screen"] = options["rollouts"]  # no racing unless sScC says so
    for key, option in (("inner", "inner_rollouts"), ("screen", "screen"), ("contenders", "contenders")):
        if found[key]:
            options[option] = int(found[key])
    return options, int(found["episodes"]) if found["episodes"] else None


def main() -> None:
    from cs_env.evaluate import rollout
    from cs_env.policies import (
        ORACLE_CONTENDERS,
        ORACLE_DEPTH,
        ORACLE_ROLLOUTS,
        ORACLE_SCREEN,
        HeuristicPolicy,
        OraclePolicy,
        RandomPolicy,
        trait_policy,
    )

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--industry", default="mixed")
    parser.add_argument("--settings", nargs="*", default=["d1k64", "d1k256s32c3", "d1k1024s128c3", "d2k64i16@300"])
    parser.add_argument("--save", type=Path, help="also write every row's per-episode returns to this .npz")
    args = parser.parse_args()
    saved: dict[str, np.ndarray] = {}
    seeds = [args.seed * 1_000_000 + i for i in range(args.episodes)]

    class Greedy:
        """trait_policy as a policy: the rule the oracle rolls out."""

        name, needs_state = "trait_policy", True

        def __call__(self, obs: Any, state: Any = None) -> np.ndarray:
            return trait_policy(state)

    def play(policy: Any, n: int | None = None) -> tuple[np.ndarray, str]:
        wall, cpu = time.perf_counter(), time.process_time()
        returns = rollout(policy, industry=args.industry, env_seeds=seeds[:n]).returns
        per = 10_000 / len(returns)
        return returns, f"{(time.process_time() - cpu) * per:.0f} / {(time.perf_counter() - wall) * per:.0f}"

    default = f"d{ORACLE_DEPTH}k{ORACLE_ROLLOUTS}s{ORACLE_SCREEN}c{ORACLE_CONTENDERS}"
    print(f"{args.industry}, {args.episodes:,} conversations (env seeds {seeds[0]}…), load {os.getloadavg()[0]:.1f}")
    reference, seconds = play(OraclePolicy(args.industry, seed=args.seed))
    random_returns, _ = play(RandomPolicy(args.seed))
    saved[default] = reference
    ref_mean = reference.mean()

    def se(x: np.ndarray) -> float:
        return float(x.std(ddof=1) / np.sqrt(len(x)))

    head = f"{'setting':<26}{'episodes':>9}{'return ± s.e.':>18}{'vs default ± s.e.':>20}{'% of return':>13}"
    print(head + f"{'CPU / wall s per 10k':>22}{'% of oracle':>13}")
    first = f"{default + ' (default)':<26}{len(reference):>9}{ref_mean:>10.4f} ± {se(reference):.4f}"
    print(f"{first}{'':>33}{seconds:>22}")
    rows: list[tuple[str, Any, int | None]] = []
    for setting in args.settings:
        options, n = parse(setting)
        rows.append((setting, OraclePolicy(args.industry, seed=args.seed, **options), n))
    rows += [
        ("old oracle (d1k32)", OraclePolicy(args.industry, rollouts=32, screen=32, depth=1, seed=args.seed + 1), None),
        ("trait_policy", Greedy(), None),
        ("heuristic", HeuristicPolicy(), None),
    ]
    for label, policy, n in rows:
        returns, seconds = play(policy, n)
        saved[label] = returns
        if args.save:
            np.savez(args.save, **saved)
        paired = returns - reference[: len(returns)]
        share = 100 * paired.mean() / reference[: len(returns)].mean()
        gap = ref_mean - random_returns.mean()
        pct = 100 * (returns.mean() - random_returns[: len(returns)].mean()) / gap if n is None else float("nan")
        print(
            f"{label:<26}{len(returns):>9}{returns.mean():>10.4f} ± {se(returns):.4f}"
            f"{paired.mean():>+12.4f} ± {se(paired):.4f}{share:>+12.2f}%"
            f"{seconds:>22}{pct:>12.1f}%",
            flush=True,
        )
    print(f"{'random':<26}{len(random_returns):>9}{random_returns.mean():>10.4f} ± {se(random_returns):.4f}")


if __name__ == "__main__":
    main()
