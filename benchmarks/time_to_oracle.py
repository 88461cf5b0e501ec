"""Wall time for PPO (the defaults of ``cs-tui train``) to reach 90 % and 95 % of oracle on ``mixed``,
beside the variants issue 18 asks about, in the same run.

    python benchmarks/time_to_oracle.py [--targets 90 95] [--seeds 0 1 2] [--eval-every 5000]
                                        [--variants plain warm-oracle curriculum ...] [--max-timesteps N]

Variants (``VARIANTS``): ``plain`` (the defaults), ``warm-oracle`` (``--warm-start baseline:oracle``),
``curriculum`` (``--curriculum``), ``warm-curriculum`` (both), ``frame-stack-4`` (``--frame-stack 4``),
``recurrent`` (``--algorithm recurrent_ppo``). Each best model is also scored on 10,000 held-out
conversations (seed 1) with its escalation recall (the specialist's cases handed over).

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


#: the variants measured: TrainOptions fields beyond the defaults
VARIANTS: dict[str, dict[str, Any]] = {
    "plain": {},
    "warm-oracle": {"warm_start": "baseline:oracle"},
    "curriculum": {"curriculum": True},
    "warm-curriculum": {"warm_start": "baseline:oracle", "curriculum": True},
    "frame-stack-4": {"frame_stack": 4},
    "recurrent": {"algorithm": "recurrent_ppo"},
}


def main() -> None:
    import torch

    from cs_env.evaluate import escalation_quality, reference_returns, rollout
    from cs_tui.agents import load_agent
    from cs_tui.training import trainer
    from cs_tui.training.evaluation import evaluate_model, reference_for
    from cs_tui.training.options import EVAL_SEED, TrainOptions
    from cs_tui.training.safe_load import load_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=float, nargs="+", default=[90.0, 95.0], help="%% of oracle to reach")
    parser.add_argument("--variants", nargs="+", default=["plain"], choices=list(VARIANTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--eval-every", type=int, default=5000)
    parser.add_argument(
        "--eval-episodes", type=int, default=10_000, help="conversations per evaluation (and for the references)"
    )
    parser.add_argument("--max-timesteps", type=int, default=1_000_000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    confirm_random, confirm_oracle = reference_returns("mixed", 10_000, 1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        saves = Path(tmp)
        reference_for("mixed", 10, args.eval_episodes, EVAL_SEED, saves)  # cache it
        for variant in args.variants:
            times: dict[float, list[float]] = {t: [] for t in args.targets}
            held_out, recalls = [], []
            for seed in args.seeds:
                reporter = StopAtTarget(args.targets)
                options = TrainOptions(
                    industry="mixed",
                    timesteps=args.max_timesteps,
                    seed=seed,
                    saves=saves,
                    name=f"{variant}-seed{seed}",
                    eval_every=args.eval_every,
                    eval_episodes=args.eval_episodes,
                    reference_episodes=args.eval_episodes,
                    **VARIANTS[variant],
                )
                reporter.start = time.perf_counter()
                result = trainer.train(options, reporter=reporter)
                for target in args.targets:
                    reached = reporter.reached.get(target)
                    if reached is None:
                        print(f"{variant} seed {seed}: did not reach {target:g} % in {result.timesteps:,} steps")
                        continue
                    times[target].append(reached["wall"])
                    print(
                        f"{variant} seed {seed}: {reached['pct_of_oracle']:.1f} % of oracle (target {target:g}) at "
                        f"{reached['timesteps']:,} steps after {reached['wall']:.1f} s wall"
                    )
                model = load_model(result.run.path / "best.zip")
                confirm = evaluate_model(
                    model,
                    industry="mixed",
                    max_turns=10,
                    episodes=10_000,
                    seed=1,
                    reference={"random_return": confirm_random, "oracle_return": confirm_oracle},
                ).metrics
                recall, _ = escalation_quality(rollout(load_agent(str(result.run.path / "best.zip")),
                                                       episodes=10_000, seed=1))  # fmt: skip
                held_out.append(confirm["pct_of_oracle"])
                recalls.append(recall)
                print(f"{variant} seed {seed}: best model on 10,000 other conversations: "
                      f"{confirm['pct_of_oracle']:.1f} %, recall {recall:.1%}")  # fmt: skip
            rows.append((variant, times, held_out, recalls))
    print(f"\n{'variant':<17}" + "".join(f"{f'to {t:g} % (s)':>22}" for t in args.targets)
          + f"{'held-out %':>22}{'recall':>22}")  # fmt: skip
    for variant, times, held_out, recalls in rows:
        cells = []
        for target in args.targets:
            walls = times[target]
            cells.append(f"{statistics.median(walls):.1f} ({len(walls)}/{len(args.seeds)})" if walls else "-")
        spread = " / ".join(f"{p:.1f}" for p in held_out)
        recall = " / ".join(f"{r:.0%}" for r in recalls)
        print(f"{variant:<17}" + "".join(f"{c:>22}" for c in cells) + f"{spread:>22}{recall:>22}")
    print(f"(median wall seconds over the seeds that reached it, of {len(args.seeds)}; seeds {args.seeds}; "
          f"{os.cpu_count()} CPUs)")  # fmt: skip


if __name__ == "__main__":
    main()
