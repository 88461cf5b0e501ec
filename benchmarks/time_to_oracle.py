"""Wall time for PPO (the defaults of ``cs-tui train``) to reach 90 % and 95 % of oracle on ``mixed``.

    python benchmarks/time_to_oracle.py [--targets 90 95] [--seeds 0 1 2] [--eval-every 5000]
                                        [--warm-start baseline:NAME]

Runs the real trainer (``cs_tui.training.trainer.train``: env, evaluations, checkpoints, metrics) in a
temporary saves folder, notes the first evaluation at or above each target and stops a run at the
highest (or at ``--max-timesteps``). Evaluations
here use 10,000 conversations (95 % CI about ±1 point; ``cs-tui train`` uses 2,000 by default), the
same ones as the random and oracle references, and their time counts. The clock runs from the call to
``train`` (the references are computed beforehand, once, as a cached run would find them) to that
evaluation. The stopping model is then checked on 10,000 other conversations (seed 1).
Goal (issue 3): at most 60 s on this 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


class StopAtTarget:
    """Notes the first evaluation at or above each target and stops the run, the way a signal would, at
    the highest."""

    def __init__(self, targets: list[float]) -> None:
        self.targets = sorted(targets)
        self.start = time.perf_counter()
        self.reached: dict[float, dict[str, Any]] = {}

    def started(self, run: Any, meta: dict[str, Any], resumed: bool) -> None:
        pass

    def record(self, record: dict[str, Any]) -> None:
        if record["type"] != "eval":
            return
        for target in self.targets:
            if record["pct_of_oracle"] >= target and target not in self.reached:
                self.reached[target] = {**record, "wall": time.perf_counter() - self.start}
        if len(self.reached) == len(self.targets):
            os.kill(os.getpid(), signal.SIGINT)  # the trainer's own stop: at the next step

    def finished(self, result: Any) -> None:
        pass


def main() -> None:
    import torch

    from cs_env.evaluate import reference_returns
    from cs_tui.training import trainer
    from cs_tui.training.safe_load import load_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=float, nargs="+", default=[90.0, 95.0], help="%% of oracle to reach")
    parser.add_argument("--warm-start", help="baseline:NAME to imitate first (cs-tui train --warm-start)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--eval-every", type=int, default=5000)
    parser.add_argument(
        "--eval-episodes", type=int, default=10_000, help="conversations per evaluation (and for the references)"
    )
    parser.add_argument("--max-timesteps", type=int, default=1_000_000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    confirm_random, confirm_oracle = reference_returns("mixed", 10_000, 1)
    times: dict[float, list[float]] = {t: [] for t in args.targets}
    with tempfile.TemporaryDirectory() as tmp:
        saves = Path(tmp)
        trainer.reference_for("mixed", 10, args.eval_episodes, trainer.EVAL_SEED, saves)  # cache it
        for seed in args.seeds:
            reporter = StopAtTarget(args.targets)
            options = trainer.TrainOptions(
                algorithm="ppo",
                industry="mixed",
                timesteps=args.max_timesteps,
                seed=seed,
                saves=saves,
                name=f"seed{seed}",
                eval_every=args.eval_every,
                eval_episodes=args.eval_episodes,
                reference_episodes=args.eval_episodes,
                warm_start=args.warm_start,
            )
            reporter.start = time.perf_counter()
            result = trainer.train(options, reporter=reporter)
            for target in args.targets:
                reached = reporter.reached.get(target)
                if reached is None:
                    print(f"seed {seed}: did not reach {target:g} % in {result.timesteps:,} steps")
                    continue
                times[target].append(reached["wall"])
                print(
                    f"seed {seed}: {reached['pct_of_oracle']:.1f} % of oracle (target {target:g}) at "
                    f"{reached['timesteps']:,} steps after {reached['wall']:.1f} s wall"
                )
            model = load_model(result.run.path / "best.zip")
            confirm = trainer.evaluate_model(
                model,
                industry="mixed",
                max_turns=10,
                episodes=10_000,
                seed=1,
                reference={"random_return": confirm_random, "oracle_return": confirm_oracle},
            )
            print(f"seed {seed}: best model on 10,000 other conversations: {confirm['pct_of_oracle']:.1f} %")
    for target, walls in times.items():
        if walls:
            print(
                f"median wall time to {target:g} % of oracle: {statistics.median(walls):.1f} s over {len(walls)} "
                f"of {len(args.seeds)} seeds on {os.cpu_count()} CPUs"
            )


if __name__ == "__main__":
    main()
