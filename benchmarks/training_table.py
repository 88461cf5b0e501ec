"""The training table of docs/results.md: % of oracle reached by each algorithm on each industry, with the defaults.

    python benchmarks/training_table.py [--algorithms ppo a2c dqn] [--industries bfsi retail tech mixed]
                                        [--seed 0] [--saves DIR]

Each cell is one ``cs-tui train`` run with the algorithm's defaults from
``cs_tui/training/hyperparams.toml`` (timesteps included) and the given seed, through the same trainer
the command uses (evaluations, checkpoints, metrics). Its ``best.zip`` (chosen on the trainer's
2,000-conversation evaluations) is then scored on 10,000 other conversations (seed 1), against random
and the oracle on those same conversations, so the figure is not the one the choice was made on.
Wall time is the whole run (setup, training, evaluations, checkpoints). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

SCORE_EPISODES = 10_000
SCORE_SEED = 1


def main() -> None:
    import torch

    from cs_env.env import valid_industries
    from cs_env.evaluate import reference_returns
    from cs_tui.training import trainer
    from cs_tui.training.evaluation import evaluate_model
    from cs_tui.training.options import TrainOptions, load_defaults
    from cs_tui.training.safe_load import load_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algorithms", nargs="+", choices=trainer.ALGORITHMS, default=list(trainer.ALGORITHMS))
    parser.add_argument("--industries", nargs="+", choices=valid_industries(), default=list(valid_industries()))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--saves", help="keep the runs here (default: a temporary folder)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    defaults = load_defaults()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        saves = Path(args.saves) if args.saves else Path(tmp)
        for industry in args.industries:
            random_return, oracle_return = reference_returns(industry, SCORE_EPISODES, SCORE_SEED)
            reference = {"random_return": random_return, "oracle_return": oracle_return}
            for algorithm in args.algorithms:
                options = TrainOptions(
                    algorithm=algorithm,
                    industry=industry,
                    seed=args.seed,
                    saves=saves,
                    name=f"table-{algorithm}-{industry}-seed{args.seed}",
                    checkpoints=False,
                )
                result = trainer.train(options)
                if result.status != "finished":
                    print(f"{algorithm} on {industry}: {result.status}: {result.message}")
                    continue
                model = load_model(result.run.best_path)
                score = evaluate_model(
                    model,
                    industry=industry,
                    max_turns=10,
                    episodes=SCORE_EPISODES,
                    seed=SCORE_SEED,
                    reference=reference,
                ).metrics
                row = {
                    "algorithm": algorithm,
                    "industry": industry,
                    "pct_of_oracle": round(score["pct_of_oracle"], 1),
                    "mean_return": round(score["mean_return"], 3),
                    "ci95": round(score["ci95"], 3),
                    "timesteps": result.timesteps,
                    "best_at": int(model.num_timesteps),
                    "n_envs": defaults[algorithm].n_envs,
                    "wall_seconds": round(result.wall_seconds, 1),
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    print()
    print("| algorithm | industry | % of oracle | return ± 95 % CI | timesteps (best at) | wall time |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['algorithm']} | {r['industry']} | {r['pct_of_oracle']:.1f} "
            f"| {r['mean_return']:.3f} ± {r['ci95']:.3f} | {r['timesteps']:,} ({r['best_at']:,}) "
            f"| {r['wall_seconds']:.0f} s |"
        )


if __name__ == "__main__":
    main()
