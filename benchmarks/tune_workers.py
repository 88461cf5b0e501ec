"""Trials per 10 minutes of `cs-tui tune` with 1 worker vs 2 (`--jobs 2`), beside the machine's own
2-process speed-up on a plain CPU-bound job measured in the same run (the reference: on a shared 2-core
machine two processes rarely get twice the work done).

Each side runs a fresh PPO study on mixed for --seconds (`--timeout`, so the last trial started
finishes after it: the count is trials finished per wall second, scaled to 10 minutes).

    .venv/bin/python benchmarks/tune_workers.py [--seconds 300] [--timesteps 50000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cs_tui.tuning.results import counts, load_study
from cs_tui.tuning.storage import open_storage


def study_rate(jobs: int, seconds: int, timesteps: int) -> tuple[float, int, float]:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "cs_tui", "--saves", tmp, "tune", "--study", "bench", "--trials", "1000",
             "--timeout", str(seconds), "--jobs", str(jobs), "--timesteps", str(timesteps), "--json"],
            check=True, capture_output=True,
        )  # fmt: skip
        wall = time.perf_counter() - started
        tally = counts(load_study(open_storage(None, Path(tmp)), "bench"))
        done = tally["complete"] + tally["pruned"]
        return done / wall * 600, done, wall


def reference_ratio(seconds: float = 20.0) -> float:
    """Work done by 2 processes over 1 in the same wall time (a pure-Python loop)."""
    code = (
        "import time\nend = time.perf_counter() + {s}\nn = 0\n"
        "while time.perf_counter() < end:\n    sum(i * i for i in range(1000))\n    n += 1\nprint(n)"
    )
    one = int(subprocess.run([sys.executable, "-c", code.format(s=seconds)], capture_output=True, text=True).stdout)
    procs = [subprocess.Popen([sys.executable, "-c", code.format(s=seconds)], stdout=subprocess.PIPE, text=True)
             for _ in range(2)]  # fmt: skip
    two = sum(int(p.communicate()[0]) for p in procs)
    return two / one


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=300)
    parser.add_argument("--timesteps", type=int, default=50_000)
    args = parser.parse_args()
    ref_before = reference_ratio()
    one = study_rate(1, args.seconds, args.timesteps)
    two = study_rate(2, args.seconds, args.timesteps)
    ref_after = reference_ratio()
    print(f"PPO trials of {args.timesteps:,} steps on mixed, {args.seconds} s per side")
    print(f"1 worker : {one[0]:5.1f} trials / 10 min ({one[1]} trials in {one[2]:.0f} s)")
    print(f"2 workers: {two[0]:5.1f} trials / 10 min ({two[1]} trials in {two[2]:.0f} s)")
    print(f"ratio 2/1: {two[0] / one[0]:.2f}x; reference (2 processes of a CPU-bound loop / 1): "
          f"{ref_before:.2f}x before, {ref_after:.2f}x after")  # fmt: skip


if __name__ == "__main__":
    main()
