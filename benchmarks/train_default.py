"""Train the shipped agent, ``saves/default``, from nothing: one command for issue 25's recipe.

    python benchmarks/train_default.py --work DIR [--seeds 0 1 2] [--timesteps 1000000] [--jobs 3]
                                       [--heldout-episodes 10000] [--install]

Each step is a command a person could type, printed before it runs:

1. ``python benchmarks/information_ceiling.py --record DIR/planner --customers 4000``: 4,000 conversations
   of the belief planner, which sees only the observations (customers of ``reset(seed=50,000 + i)``,
   apart from the trainer's evaluations, seed 0, and the held-out figures, seed 1). Skipped when the
   folder already holds them (the planner is deterministic: the same files again).
2. per seed, ``cs-tui --saves DIR train --industry mixed --algorithm ppo --seed S --curriculum
   --warm-start DIR/planner --timesteps 1000000 --eval-every 50000 --keep-checkpoints 1 --name
   default-sS``: the policy cloned from the planner's choices (``--warm-start-epochs``' default, 100
   passes), then PPO with the curriculum; ``--jobs`` seeds at a time.
3. every seed's ``best.zip`` on the same ``--heldout-episodes`` held-out customers (seed 1;
   ``benchmarks/heldout_table.py``, the figures of ``cs-tui evaluate RUN --industry mixed --episodes N
   --seed 1``), and ``cs-tui test --policy RUN`` on the scenario catalog.
4. the seed to ship is the one whose ``best.zip`` scored highest on the trainer's own evaluation
   customers (seed 0, the set best.zip is chosen on), never on the held-out ones; ``--install`` copies its
   run folder (no checkpoints) to ``saves/default``, replacing the folder in one rename.

Step 2 takes some 10-15 minutes a seed on one core of this machine; the whole command about 40 minutes
with three seeds on two cores. A run that already finished is not trained again, so an interrupted
command picks up where it stopped (an interrupted run is resumed by ``cs-tui train --resume``).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECORDINGS = 4000
MAX_SEEDS = 16
SHIPPED = ("best.zip", "model.zip", "meta.json", "metrics.jsonl")


def _show(command: list[str]) -> None:
    print("$ " + shlex.join(command), flush=True)


def _cs_tui(*args: str) -> list[str]:
    return [sys.executable, "-m", "cs_tui", *args]


def _meta(run: Path) -> dict:
    meta_path = run / "meta.json"
    return json.loads(meta_path.read_text()) if meta_path.is_file() else {}


def record(folder: Path) -> None:
    if folder.is_dir() and len(list(folder.glob("*.json"))) >= RECORDINGS:
        print(f"{folder}: {RECORDINGS:,} recordings already there", flush=True)
        return
    command = [sys.executable, str(ROOT / "benchmarks" / "information_ceiling.py"), "--record", str(folder),
               "--customers", str(RECORDINGS)]  # fmt: skip
    _show(command)
    subprocess.run(command, check=True)


def train_seeds(work: Path, recordings: Path, seeds: list[int], timesteps: int, jobs: int) -> None:
    pending: list[list[str]] = []
    for seed in seeds:
        run = work / f"default-s{seed}"
        status = _meta(run).get("status")
        if status == "finished":
            print(f"{run}: finished already", flush=True)
        elif status is not None:
            pending.append(_cs_tui("--saves", str(work), "train", "--resume", run.name, "--quiet"))
        else:
            pending.append(_cs_tui(
                "--saves", str(work), "train", "--industry", "mixed", "--algorithm", "ppo", "--seed", str(seed),
                "--curriculum", "--warm-start", str(recordings), "--timesteps", str(timesteps),
                "--eval-every", "50000", "--keep-checkpoints", "1", "--name", run.name, "--quiet",
            ))  # fmt: skip
    running: list[tuple[list[str], subprocess.Popen[bytes]]] = []
    while pending or running:
        while pending and len(running) < jobs:
            command = pending.pop(0)
            _show(command)
            running.append((command, subprocess.Popen(command)))
        command, process = running.pop(0)
        if process.wait() != 0:
            for _, other in running:
                other.terminate()
            sys.exit(f"train_default: {shlex.join(command)} exited {process.returncode}")


def score(work: Path, seeds: list[int], episodes: int) -> None:
    agents = [str(work / f"default-s{seed}" / "best.zip") for seed in seeds]
    command = [sys.executable, str(ROOT / "benchmarks" / "heldout_table.py"), "--episodes", str(episodes), *agents]
    _show(command)
    subprocess.run(command, check=True)
    for seed in seeds:
        command = _cs_tui("--saves", str(work), "test", "--policy", str(work / f"default-s{seed}" / "best.zip"))
        _show(command)
        subprocess.run(command, check=False)  # exit 1 is a verdict (the catalog's bar not met), not a failure


def chosen_seed(work: Path, seeds: list[int]) -> int:
    print("\n| seed | best.zip at step | trainer's evaluation, % of oracle (2,000 customers, seed 0) |")
    print("|---|---|---|")
    best: dict[int, float] = {}
    for seed in seeds:
        record_ = _meta(work / f"default-s{seed}")["best_eval"]
        best[seed] = record_["pct_of_oracle"]
        print(f"| {seed} | {record_['timesteps']:,} | {record_['pct_of_oracle']:.2f} |")
    seed = max(seeds, key=lambda s: best[s])
    print(f"\nto ship: seed {seed} (the best on the trainer's evaluation customers)", flush=True)
    return seed


def install(run: Path, saves: Path) -> None:
    """``run``'s shipped files as ``saves/default``, the old folder replaced in one rename."""
    staging = Path(tempfile.mkdtemp(prefix=".default-", dir=saves))
    for name in SHIPPED:
        shutil.copy2(run / name, staging / name)
    meta = json.loads((staging / "meta.json").read_text())
    meta["name"] = "default"
    (staging / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    target = saves / "default"
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=".default-old-", dir=saves))
        os.replace(target, old / "default")
    os.replace(staging, target)
    if old is not None:
        shutil.rmtree(old)
    print(f"installed {run} as {target}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="a saves folder for the recordings and runs")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--timesteps", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=3, help="seeds trained at once")
    parser.add_argument("--heldout-episodes", type=int, default=10_000)
    parser.add_argument("--install", action="store_true", help="copy the chosen seed's run to saves/default")
    args = parser.parse_args()
    if not 1 <= len(args.seeds) <= MAX_SEEDS or len(set(args.seeds)) != len(args.seeds):
        parser.error(f"--seeds: 1 to {MAX_SEEDS} different seeds")
    if not 1 <= args.jobs <= MAX_SEEDS:
        parser.error(f"--jobs: 1 to {MAX_SEEDS}")
    if not 2 <= args.heldout_episodes <= 20_000:
        parser.error("--heldout-episodes: 2 to 20,000")
    args.work.mkdir(parents=True, exist_ok=True)
    recordings = args.work / "planner"
    record(recordings)
    train_seeds(args.work, recordings, args.seeds, args.timesteps, args.jobs)
    score(args.work, args.seeds, args.heldout_episodes)
    seed = chosen_seed(args.work, args.seeds)
    if args.install:
        install(args.work / f"default-s{seed}", ROOT / "saves")


if __name__ == "__main__":
    main()
