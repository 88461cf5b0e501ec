"""Randomized campaigns that hold the reliability promises of docs/reliability.md under abuse, with figures.

    .venv/bin/python benchmarks/torture.py                      # every campaign, the full counts
    .venv/bin/python benchmarks/torture.py kill9 signals --count 10 --seed 100
    .venv/bin/python benchmarks/torture.py corrupt --seed 1234 --count 1   # replay one failing case

Each campaign runs ``--count`` trials from ``--seed`` (trial i uses seed + i, so a failing case replays
with its own seed and ``--count 1``) and prints one line: tried, held, failed and the failing seeds;
``-v`` prints what broke in each. The exit status is 1 if any case failed. The campaigns
(``benchmarks/campaigns/``):

- ``kill9``    kill -9 at random moments of a tiny training run (start-up, training, evaluations,
               checkpoints, DQN's replay-buffer save): files load, meta.json parses, metrics read,
               --resume finishes, at most one checkpoint interval lost.        default 50 trials
- ``signals``  SIGHUP, SIGTERM, SIGINT (in turn) at random moments, start-up and final save included:
               exit status 128 + N (or 0 after the last save), status interrupted, resume finishes.  60
- ``corrupt``  per trial 20 mutations of a real model zip (bit flips, truncation, member swaps, zip-slip
               names, bombs, symlinks, crafted pickles, ...), one of meta.json, one of metrics.jsonl, fed
               to ``cs-tui evaluate`` and opened in the app: no traceback, no code run, nothing accepted
               that should not be, every refusal names the file.       50 trials = 1,000 model files
- ``storage``  a read-only saves folder, a full disk (tmpfs of random size when root), one name trained
               twice at once, hostile run names: clear errors, nothing partial, nothing outside.   40
- ``app``      1,000 random keys and 10 resizes (20x8 to 250x80, half up to 60x24) a trial across every
               pane and dialog, scripted moves into open dropdowns and the tuning view, hostile
               recordings and a FIFO settings file, with a training run and a scenario run going (odd
               trials: an empty saves folder): no exception, q still quits.
               10 trials = 10,000 keys, 100 resizes
- ``env``      wrong reset options, actions and seeds (numpy types, bools, arrays, NaN, huge) and
               industry / scenario files with NaN, infinities, huge numbers (10**400), missing keys, a
               FIFO or nesting past the recursion limit: a ValueError naming the problem, at once, never
               a wrong trajectory.  100 trials = 10,000 inputs, 200 files
- ``hostile``  copied run folders with planted symlinks to a victim, FIFOs, /dev/zero, folders and loops
               (--resume: exit 2 naming the file, victim untouched, never blocks), metrics lines nested,
               mistyped or huge (each costs itself), huge counts and names for train and tune (usage
               errors, nothing created), meta tensors and bad optimizer states (refused), a Ctrl-C in a
               command's first 0.4 s (no traceback).  40 trials = 120 plants, 160 bad inputs, 40 models
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from campaigns import app_keys, common, corrupt_files, env_inputs, hostile_runs, kill9, signals, storage

CAMPAIGNS: dict[str, tuple[common.Trial, int]] = {
    "kill9": (kill9.trial, 50),
    "signals": (signals.trial, 60),
    "corrupt": (corrupt_files.trial, 50),
    "storage": (storage.trial, 40),
    "app": (app_keys.trial, 10),
    "env": (env_inputs.trial, 100),
    "hostile": (hostile_runs.trial, 40),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("campaigns", nargs="*", choices=[[], *CAMPAIGNS], help="which (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="the first trial's seed (default: 0)")
    parser.add_argument("--count", type=int, help="trials per campaign (default: each campaign's own)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print what broke in each failing case")
    args = parser.parse_args(argv)
    names = args.campaigns or list(CAMPAIGNS)
    failed = 0
    started = time.monotonic()
    for name in names:
        trial, default_count = CAMPAIGNS[name]
        log = (lambda line: print(line, flush=True)) if args.verbose else None
        result = common.run_trials(name, trial, args.seed, args.count or default_count, log=log)
        print(result.line(), flush=True)
        failed += result.failed
    print(f"all: {failed} failed case(s) in {time.monotonic() - started:.0f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
