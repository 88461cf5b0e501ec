"""``cs-tui train``: train PPO, A2C or DQN into a run folder, with a progress bar, JSON lines or silence.

    cs-tui train --industry mixed --algorithm ppo --timesteps 150000 --seed 0
    cs-tui train --resume saves/ppo-mixed-20260101-120000

Ctrl-C, SIGTERM and SIGHUP stop at the next step with a checkpoint; the run is marked interrupted and
``--resume`` continues it. Exit status: 0 finished, 1 failed, 2 bad input, 128 + signal number when stopped.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from cs_tui.commands.arguments import USAGE_ERROR, count_up_to, industry_choices
from cs_tui.seeds import seed_arg
from cs_tui.training.registry import (
    ALGORITHMS,
    MAX_EPISODES,
    MAX_EPISODES_WHY,
    MAX_EVAL_EVERY,
    MAX_FRAME_STACK,
    MAX_KEEP_CHECKPOINTS,
    MAX_N_ENVS,
    MAX_TIMESTEPS,
    MAX_WARM_START_EPOCHS,
    MAX_WARM_START_EPOCHS_WHY,
    MIN_TIMESTEPS,
    ON_POLICY,
    TIMESTEPS_CEILING_WHY,
    WARM_START_EPOCHS,
    check_path_text,
)

if TYPE_CHECKING:
    from cs_tui.training.run_record import RunRecord
    from cs_tui.training.runs import Run
    from cs_tui.training.session import TrainResult

#: ``--timesteps`` here and in ``cs-tui tune``: the registry's floor and ceiling, the ceiling named in the error
timesteps_type = count_up_to(MIN_TIMESTEPS, MAX_TIMESTEPS, TIMESTEPS_CEILING_WHY)


def path_text(flag: str) -> Any:
    """An argparse type: a run, folder or source name that is not empty and not longer than a path can be."""

    def parse(text: str) -> str:
        try:
            return check_path_text(flag, text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix(f"{flag} ")) from None

    return parse


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from cs_tui.training.options import EVAL_EPISODES, EVAL_EVERY, KEEP_CHECKPOINTS, REFERENCE_EPISODES

    parser = subparsers.add_parser(
        "train",
        help="train an agent (PPO, A2C, DQN or recurrent PPO) into saves/<run>/",
        description=(
            "Train an agent into a run folder under the saves folder: meta.json, a metrics stream "
            "(metrics.jsonl), model.zip, best.zip and checkpoints. Defaults per algorithm come from "
            "cs_tui/training/hyperparams.toml. Ctrl-C, SIGTERM or SIGHUP stop with a checkpoint; "
            "--resume continues the run."
        ),
    )
    parser.add_argument("--industry", choices=industry_choices(), help="industry to train on (default: mixed)")
    parser.add_argument("--algorithm", choices=ALGORITHMS, help="learning algorithm (default: ppo)")
    parser.add_argument(
        "--timesteps",
        type=timesteps_type,
        metavar="N",
        help=f"total environment steps, at most {MAX_TIMESTEPS:,} (default: the algorithm's, from "
        "hyperparams.toml); with --resume, the run's new total",
    )
    parser.add_argument(
        "--seed", type=seed_arg(), metavar="SEED", help="seeds Python, numpy, torch and the envs (default: 0)"
    )
    parser.add_argument(
        "--n-envs",
        type=count_up_to(1, MAX_N_ENVS, "each is a conversation played in parallel"),
        metavar="N",
        help=f"parallel conversations (default: per algorithm, at most {MAX_N_ENVS:,})",
    )
    parser.add_argument(
        "--hyperparams",
        metavar="FILE",
        help="hyperparameters from FILE (as `cs-tui tune --best` writes them); the rest from hyperparams.toml",
    )
    parser.add_argument("--name", help="run folder name under the saves folder (default: ALGORITHM-INDUSTRY-TIME)")
    parser.add_argument("--tensorboard", metavar="DIR", help="also log to TensorBoard in DIR (needs tensorboard)")
    parser.add_argument(
        "--resume",
        type=path_text("--resume"),
        metavar="RUN",
        help="continue this run: its folder, or its name under the saves folder",
    )
    parser.add_argument(
        "--eval-every",
        type=count_up_to(1, MAX_EVAL_EVERY, "more steps than any run trains"),
        metavar="N",
        help=f"steps between evaluations and checkpoints (default: {EVAL_EVERY})",
    )
    parser.add_argument(
        "--eval-episodes",
        type=count_up_to(2, MAX_EPISODES, MAX_EPISODES_WHY),
        metavar="N",
        help=f"conversations per evaluation (default: {EVAL_EPISODES}, at most {MAX_EPISODES:,})",
    )
    parser.add_argument(
        "--reference-episodes",
        type=count_up_to(2, MAX_EPISODES, MAX_EPISODES_WHY),
        metavar="N",
        help="conversations behind the random and oracle returns that define %% of oracle "
        f"(default: {REFERENCE_EPISODES})",
    )
    parser.add_argument(
        "--keep-checkpoints",
        type=count_up_to(0, MAX_KEEP_CHECKPOINTS, "each is a whole model file"),
        metavar="K",
        help=f"checkpoints kept (default: {KEEP_CHECKPOINTS})",
    )
    parser.add_argument(
        "--warm-start",
        type=path_text("--warm-start"),
        metavar="SOURCE",
        help="imitate baseline:NAME (oracle, heuristic, ...), playbook:FILE or a FOLDER of recorded conversations "
        "(the play pane's saves/episodes) before reinforcement learning (ppo, a2c)",
    )
    parser.add_argument(
        "--warm-start-epochs",
        type=count_up_to(1, MAX_WARM_START_EPOCHS, MAX_WARM_START_EPOCHS_WHY),
        metavar="N",
        help="passes of the warm start's imitation over its demonstrations "
        f"(default: {WARM_START_EPOCHS}, at most {MAX_WARM_START_EPOCHS:,})",
    )
    parser.add_argument(
        "--frame-stack",
        type=count_up_to(1, MAX_FRAME_STACK, "a few turns of history"),
        metavar="K",
        help=f"show the policy the last K observations side by side (default: 1, at most {MAX_FRAME_STACK}; "
        "not with recurrent_ppo)",
    )
    parser.add_argument(
        "--curriculum",
        action="store_true",
        default=None,
        help="meet rare cases (specialist, angry, VIP, urgent, novice, impatient customers) more often "
        "early in training, through the env's reset options",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--quiet", action="store_true", help="print nothing but errors")
    output.add_argument("--json", action="store_true", help="print one JSON object per line (every record)")


def run(args: argparse.Namespace) -> int:
    from cs_tui.training import trainer
    from cs_tui.training.options import (
        EVAL_EPISODES,
        EVAL_EVERY,
        KEEP_CHECKPOINTS,
        REFERENCE_EPISODES,
        TrainingError,
        TrainingInputError,
        TrainOptions,
    )
    from cs_tui.training.runs import saves_dir
    from cs_tui.training.session import NullReporter, Reporter
    from cs_tui.training.stop import StopFlag

    # a whole `cs-tui train` process keeps its stop flag to the end: a signal after the run is recorded
    # finished (while printing, or tearing torch down) leaves exit 0, where the default action would kill it
    stop = StopFlag(kept=getattr(args, "whole_process", False))
    reporter: Reporter
    if args.quiet:
        reporter = NullReporter()
    elif args.json:
        reporter = JsonReporter()
    else:
        reporter = ConsoleReporter()
    try:
        if args.resume is not None:
            clashes = [
                flag
                for flag, value in (
                    ("--industry", args.industry),
                    ("--algorithm", args.algorithm),
                    ("--seed", args.seed),
                    ("--n-envs", args.n_envs),
                    ("--name", args.name),
                    ("--hyperparams", args.hyperparams),
                    ("--eval-every", args.eval_every),
                    ("--eval-episodes", args.eval_episodes),
                    ("--keep-checkpoints", args.keep_checkpoints),
                    ("--reference-episodes", args.reference_episodes),
                    ("--warm-start", args.warm_start),
                    ("--warm-start-epochs", args.warm_start_epochs),
                    ("--frame-stack", args.frame_stack),
                    ("--curriculum", args.curriculum),
                )
                if value is not None
            ]
            if clashes:
                return _usage(
                    f"--resume continues a run with its own settings (from its meta.json); "
                    f"drop {', '.join(clashes)} (only --timesteps and --tensorboard may be given)"
                )
            result = trainer.resume(
                args.resume,
                saves=saves_dir(args.saves),
                timesteps=args.timesteps,
                tensorboard=args.tensorboard,
                reporter=reporter,
                stop=stop,
            )
        else:
            if args.warm_start_epochs is not None and args.warm_start is None:
                return _usage("--warm-start-epochs sets the warm start's imitation: give --warm-start SOURCE too")
            algorithm, n_envs, overrides = args.algorithm or "ppo", args.n_envs, {}
            if args.hyperparams:
                from cs_tui.training.hyperparams_file import read_hyperparams

                try:
                    chosen = read_hyperparams(args.hyperparams)
                except ValueError as exc:
                    return _usage(str(exc))
                if args.algorithm and args.algorithm != chosen.algorithm:
                    return _usage(
                        f"{args.hyperparams} holds {chosen.algorithm} hyperparameters, not {args.algorithm}'s"
                    )
                algorithm, overrides = chosen.algorithm, chosen.overrides
                n_envs = n_envs if n_envs is not None else chosen.n_envs
            options = TrainOptions(
                algorithm=algorithm,
                industry=args.industry or "mixed",
                timesteps=args.timesteps,
                seed=args.seed if args.seed is not None else 0,
                n_envs=n_envs,
                name=args.name,
                saves=saves_dir(args.saves),
                tensorboard=args.tensorboard,
                eval_every=args.eval_every or EVAL_EVERY,
                eval_episodes=args.eval_episodes or EVAL_EPISODES,
                reference_episodes=args.reference_episodes or REFERENCE_EPISODES,
                keep_checkpoints=KEEP_CHECKPOINTS if args.keep_checkpoints is None else args.keep_checkpoints,
                overrides=overrides,
                warm_start=args.warm_start,
                warm_start_epochs=args.warm_start_epochs or WARM_START_EPOCHS,
                frame_stack=args.frame_stack or 1,
                curriculum=bool(args.curriculum),
            )
            result = trainer.train(options, reporter=reporter, stop=stop)
    except TrainingInputError as exc:  # (the exit status is chosen by the error's class)
        return _usage(str(exc))
    except TrainingError as exc:
        print(f"cs-tui train: {exc}", file=sys.stderr)
        return 1
    if result.status == "failed":
        print(f"cs-tui train: {result.run.name} failed: {result.message}", file=sys.stderr)
        if result.exit_code != USAGE_ERROR:
            print(f"  (details in {result.run.meta_path})", file=sys.stderr)
    return result.exit_code


def _usage(message: str) -> int:
    print(f"usage: cs-tui train [options]\ncs-tui train: error: {message}", file=sys.stderr)
    return USAGE_ERROR


class JsonReporter:
    """One JSON object per line on stdout: a ``started`` line, every record, a ``result`` line."""

    def _print(self, obj: dict[str, Any]) -> None:
        from cs_tui.files import to_json

        sys.stdout.write(to_json(obj) + "\n")
        sys.stdout.flush()

    def started(self, run: Run, record: RunRecord, resumed: bool) -> None:
        self._print(
            {"type": "started", "path": str(run.path), "resumed": resumed, "name": record.name,
             "algorithm": record.algorithm, "industry": record.industry, "seed": record.seed, "n_envs": record.n_envs,
             "total_timesteps": record.total_timesteps, "timesteps_requested": record.timesteps_requested,
             "timesteps_done": record.timesteps_done}
        )  # fmt: skip

    def record(self, record: dict[str, Any]) -> None:
        self._print(record)

    def finished(self, result: TrainResult) -> None:
        self._print(
            {
                "type": "result",
                "path": str(result.run.path),
                "status": result.status,
                "timesteps": result.timesteps,
                "message": result.message,
                "exit_code": result.exit_code,
                "wall_seconds": round(result.wall_seconds, 2),
                "best_eval": None if result.best_eval is None else result.best_eval.to_json(),
            }
        )


class ConsoleReporter:
    """A rich progress bar (steps, fps, ETA, mean return, last evaluation) on a terminal; plain lines otherwise."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(stderr=False)
        self.progress: Any = None
        self.task: Any = None
        self.last_eval = "-"
        self.last_line = 0.0

    def started(self, run: Run, record: RunRecord, resumed: bool) -> None:
        from rich.progress import BarColumn, Progress, TextColumn

        from cs_tui.labels import middle_cut

        verb = "Resuming" if resumed else "Training"
        total = record.total_timesteps
        requested = total if record.timesteps_requested is None else record.timesteps_requested
        n_envs = record.n_envs or 1  # (the trainer's own record always has it; a resume refuses one without)
        self.console.print(
            f"{verb} [bold]{record.algorithm}[/] on [bold]{record.industry}[/] "
            f"({total:,} steps, {n_envs} env{'s' * (n_envs != 1)}, seed {record.seed}) → {run.path}"
        )
        if requested != total:  # SB3 trains whole rollouts: say so before the count passes the request
            from cs_tui.training.options import collection_size

            size = collection_size(record.algorithm, n_envs, record.hyperparameters)
            rounds = "rollouts" if record.algorithm in ON_POLICY else "collection rounds"
            self.console.print(f"({requested:,} steps asked, rounded up: SB3 trains whole {rounds} of {size:,} steps)")
        extras = [
            *([f"{record.frame_stack} frames stacked"] if record.frame_stack > 1 else []),
            *(["a curriculum of rare cases"] if record.curriculum else []),
            *([f"a warm start from {record.warm_start['source']}"] if record.warm_start else []),
        ]
        if extras:
            self.console.print(f"(with {', '.join(extras)})", markup=False)
        if self.console.is_terminal:
            # one line that fits 80 columns: the name cut in the middle, steps in thousands
            self.progress = Progress(
                TextColumn("[progress.description]{task.description}"),
                BarColumn(bar_width=12),
                TextColumn("{task.fields[steps]}"),
                TextColumn("{task.fields[fps]} fps"),
                TextColumn("ETA {task.fields[eta]}"),
                TextColumn("return {task.fields[ret]}"),
                TextColumn("eval {task.fields[eval]}"),
                console=self.console,
            )
            self.progress.start()
            self.task = self.progress.add_task(
                middle_cut(record.name, 14),
                steps=_steps(record.timesteps_done, total),
                total=total,
                completed=record.timesteps_done,
                fps="-",
                eta="-",
                ret="-",
                eval="-",
            )

    def record(self, record: dict[str, Any]) -> None:
        import time

        kind = record.get("type")
        if kind == "eval":
            self.last_eval = f"{record['pct_of_oracle']:.1f}%"
            if self.progress is None:
                self.console.print(
                    f"eval at {record['timesteps']:,} steps: return {record['mean_return']:.3f} "
                    f"± {record['ci95']:.3f}, {self.last_eval} of oracle{' (best)' if record.get('is_best') else ''}"
                )
        if kind == "status" and self.progress is None and record["status"] == "running":
            self.console.print(record["message"])  # "started at 0 steps", "resumed at 20,480 steps"
        if kind != "train" and self.progress is None:
            return
        if self.progress is not None:
            fields: dict[str, Any] = {"eval": self.last_eval}
            if kind == "train":
                mean = record.get("mean_return")
                eta = record.get("eta_seconds")
                fields.update(
                    fps=f"{record['fps']:,.0f}",
                    eta=_duration(eta) if eta is not None else "-",
                    ret=f"{mean:.3f}" if mean is not None else "-",
                )
                total = self.progress.tasks[0].total
                fields["steps"] = _steps(record["timesteps"], total)
                self.progress.update(self.task, completed=record["timesteps"], **fields)
            else:
                self.progress.update(self.task, **fields)
        elif time.monotonic() - self.last_line >= 10:  # not a terminal (a log file): a line every 10 s
            self.last_line = time.monotonic()
            mean = record.get("mean_return")
            self.console.print(
                f"{record['timesteps']:,} steps ({record['progress']:.0%}), {record['fps']:,.0f} fps, "
                f"return {mean if mean is None else round(mean, 3)}"
            )

    def finished(self, result: TrainResult) -> None:
        if self.progress is not None:
            self.progress.stop()
        if result.status != "failed":
            # "finished 6,144 steps; best ...": the message says the status already
            said = result.message if result.message.startswith(result.status) else f"{result.status}: {result.message}"
            self.console.print(f"{said} ({_duration(result.wall_seconds)})")
            if result.status == "finished":
                self.console.print(f"model: {result.run.best_path} (best), {result.run.model_path} (latest)")


def _steps(done: float, total: float | None) -> str:
    """``"13k/600k"``: steps done of the total, in thousands once past 10,000."""

    def short(n: float) -> str:
        return f"{n / 1000:,.0f}k" if n >= 10_000 else f"{n:,.0f}"

    return f"{short(done)}/{short(total)}" if total else short(done)


def _duration(seconds: float) -> str:
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


__all__ = ["add_parser", "run"]
