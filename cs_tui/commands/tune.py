"""``cs-tui tune``: a hyperparameter study on Optuna; each trial is an ordinary run folder.

    cs-tui tune --algorithm ppo --industry mixed --trials 30 [--jobs 2] [--study NAME] [--storage URL]
    cs-tui tune --study NAME --best [--out FILE] [--json]     # the best trial, as a file train takes
    cs-tui tune --list [--storage URL]                         # the studies in a storage

Re-running the same command continues the study up to ``--trials`` complete or pruned trials. Exit
status: 0 done (or --timeout reached), 1 a worker failed, 2 bad input or an unreachable storage,
128 + the signal's number when stopped by one.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from cs_tui.commands.arguments import USAGE_ERROR, count_up_to, industry_choices
from cs_tui.commands.train import timesteps_type
from cs_tui.seeds import seed_arg
from cs_tui.training.registry import (
    ALGORITHMS,
    MAX_EPISODES,
    MAX_EPISODES_WHY,
    MAX_EVAL_EVERY,
    MAX_HEARTBEAT,
    MAX_JOBS,
    MAX_STARTUP_TRIALS,
    MAX_TIMEOUT,
    MAX_TIMESTEPS,
    MAX_TRIALS,
    TRIALS_CEILING_WHY,
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    from cs_tui.training.options import EVAL_EPISODES, EVAL_EVERY
    from cs_tui.tuning.options import HOLDOUT_EPISODES, STARTUP_TRIALS

    parser = subparsers.add_parser(
        "tune",
        help="a hyperparameter study on Optuna (trials are run folders)",
        description=(
            "Search hyperparameters with Optuna. Each trial trains into saves/<study>-tNNNN/ like `cs-tui "
            "train` and is scored as %% of oracle of its best model on held-out conversations (seed "
            "1000000000, which no trial trains on); trials below the median at an evaluation are pruned. "
            "The study lives in saves/.studies/studies.db (SQLite, shared by this host's workers) or at "
            "--storage URL (postgresql://... for many hosts). The search space is "
            "cs_tui/training/search_space.toml."
        ),
    )
    parser.add_argument("--algorithm", choices=ALGORITHMS, help="learning algorithm (default: ppo)")
    parser.add_argument("--industry", choices=industry_choices(), help="industry to train on (default: mixed)")
    parser.add_argument(
        "--trials", type=count_up_to(1, MAX_TRIALS, TRIALS_CEILING_WHY), metavar="N",
        help=f"complete or pruned trials the study should hold (at most {MAX_TRIALS:,})",
    )  # fmt: skip
    parser.add_argument(
        "--timeout", type=count_up_to(1, MAX_TIMEOUT, "30 days"), metavar="S", help="start no trial after S seconds"
    )
    parser.add_argument("--study", metavar="NAME", help="study name (default: ALGORITHM-INDUSTRY)")
    parser.add_argument(
        "--storage", metavar="URL", help="Optuna storage URL, e.g. postgresql://user:pw@host/db (default: embedded)"
    )
    parser.add_argument(
        "--jobs",
        type=count_up_to(1, MAX_JOBS, "each worker is a process training a run of its own"),
        default=1,
        metavar="J",
        help=f"worker processes (default: 1, at most {MAX_JOBS})",
    )
    parser.add_argument("--seed", type=seed_arg(), metavar="S", help="trial i trains with seed S + i (default: 0)")
    parser.add_argument("--timesteps", type=timesteps_type, metavar="N",
                        help=f"steps per trial, at most {MAX_TIMESTEPS:,} (default: the algorithm's)")  # fmt: skip
    parser.add_argument(
        "--eval-every",
        type=count_up_to(1, MAX_EVAL_EVERY, "more steps than any run trains"),
        metavar="N",
        help=f"steps between evaluations (default: {EVAL_EVERY})",
    )
    parser.add_argument(
        "--eval-episodes",
        type=count_up_to(2, MAX_EPISODES, MAX_EPISODES_WHY),
        metavar="N",
        help=f"conversations per evaluation (default: {EVAL_EPISODES}, at most {MAX_EPISODES:,})",
    )
    parser.add_argument(
        "--holdout-episodes",
        type=count_up_to(2, MAX_EPISODES, MAX_EPISODES_WHY),
        metavar="N",
        help=f"held-out conversations scoring a trial (default: {HOLDOUT_EPISODES})",
    )
    parser.add_argument(
        "--reference-episodes", type=count_up_to(2, MAX_EPISODES, MAX_EPISODES_WHY), metavar="N", help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--heartbeat", type=count_up_to(1, MAX_HEARTBEAT, "an hour"), metavar="S",
        help="seconds between heartbeats; a trial silent for 3x this "
        "is failed and retried (default: 10)"
    )  # fmt: skip
    parser.add_argument(
        "--startup-trials",
        type=count_up_to(0, MAX_STARTUP_TRIALS, "more trials than a study runs"),
        metavar="N",
        help=f"trials completed before pruning starts (default: {STARTUP_TRIALS})",
    )
    parser.add_argument(
        "--search-space", metavar="FILE", help="search space file (default: cs_tui/training/search_space.toml)"
    )
    parser.add_argument("--best", action="store_true", help="print the best trial and write its hyperparameters")
    parser.add_argument("--out", metavar="FILE", help="with --best: where to write them (default: saves/.studies/)")
    parser.add_argument("--list", action="store_true", help="list the studies in the storage")
    parser.add_argument("--json", action="store_true", help="print JSON (one object per line while tuning)")
    parser.add_argument("--worker-index", type=int, default=0, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    from cs_tui.training.runs import saves_dir
    from cs_tui.training.stop import StopFlag
    from cs_tui.tuning.options import (
        TuneError,
        TuneInputError,
        check_options,
    )
    from cs_tui.tuning.worker import run_worker

    saves = saves_dir(args.saves)
    try:
        if args.list:
            return _list(args, saves)
        if args.best:
            return _best(args, saves)
        if args.trials is None:
            return _usage("--trials N is needed to run a study (or --best, --list to read one)")
        options = _options(args, saves)
        check_options(options)
        if args.jobs > 1:
            return _supervise(args, options)
        printer = EventPrinter(json_lines=args.json)
        # a whole `cs-tui tune` process keeps its stop flag to the end (see `cs-tui train`)
        stop = StopFlag(kept=getattr(args, "whole_process", False))
        result = run_worker(options, on_event=printer, stop=stop)
        if args.worker_index == 0:
            _summary(args, options)
        return result.exit_code
    except TuneInputError as exc:  # (the exit status is chosen by the error's class)
        return _usage(str(exc))
    except TuneError as exc:
        print(f"cs-tui tune: {exc}", file=sys.stderr)
        return 1


def _options(args: argparse.Namespace, saves: Path) -> Any:
    from cs_tui.training.options import EVAL_EPISODES, EVAL_EVERY, REFERENCE_EPISODES
    from cs_tui.tuning.options import (
        HEARTBEAT_SECONDS,
        HOLDOUT_EPISODES,
        STARTUP_TRIALS,
        TuneOptions,
    )

    return TuneOptions(
        algorithm=args.algorithm or "ppo",
        industry=args.industry or "mixed",
        trials=args.trials or 1,
        study=args.study,
        storage=args.storage,
        saves=saves,
        seed=args.seed or 0,
        timeout=args.timeout,
        timesteps=args.timesteps,
        eval_every=args.eval_every or EVAL_EVERY,
        eval_episodes=args.eval_episodes or EVAL_EPISODES,
        holdout_episodes=args.holdout_episodes or HOLDOUT_EPISODES,
        reference_episodes=args.reference_episodes or REFERENCE_EPISODES,
        heartbeat=args.heartbeat or HEARTBEAT_SECONDS,
        startup_trials=STARTUP_TRIALS if args.startup_trials is None else args.startup_trials,
        worker=args.worker_index,
        search_space=Path(args.search_space) if args.search_space else None,
    )


def _usage(message: str) -> int:
    print(f"usage: cs-tui tune [options]\ncs-tui tune: error: {message}", file=sys.stderr)
    return USAGE_ERROR


#: The flags handed on to each worker process as they were given.
PASSED_ON = (
    "algorithm", "industry", "trials", "timeout", "study", "storage", "seed", "timesteps", "eval_every",
    "eval_episodes", "holdout_episodes", "reference_episodes", "heartbeat", "startup_trials", "search_space",
)  # fmt: skip


def worker_command(args: argparse.Namespace, saves: Path, index: int) -> list[str]:
    """``python -m cs_tui tune ...`` for worker ``index`` (the same study, one job)."""
    command = [sys.executable, "-m", "cs_tui", "--saves", str(saves), "tune"]
    for name in PASSED_ON:
        value = getattr(args, name)
        if value is not None:
            command += [f"--{name.replace('_', '-')}", str(value)]
    if args.json:
        command.append("--json")
    return [*command, "--worker-index", str(index)]


def _supervise(args: argparse.Namespace, options: Any) -> int:
    """Run ``--jobs`` workers as processes; a stop signal is passed on to each of them."""
    from cs_tui.tuning.options import (
        check_options,
    )
    from cs_tui.tuning.storage import WorkerMark, open_storage, open_study

    # open (and so create) the study once here: the workers then only join it
    open_study(options, open_storage(options.storage, options.saves, options.heartbeat),
                     check_options(options))  # fmt: skip
    children: list[subprocess.Popen[bytes]] = []
    try:
        for i in range(1, args.jobs + 1):
            children.append(subprocess.Popen(worker_command(args, options.saves, i)))
    except OSError as exc:  # the system's process limit: stop the workers started, say why
        for child in children:
            child.terminate()
        for child in children:
            child.wait()
        print(f"cs-tui tune: cannot start worker {len(children) + 1} of {args.jobs}: {exc.strerror or exc}; "
              "try fewer --jobs", file=sys.stderr)  # fmt: skip
        return 1
    received: list[int] = []

    def forward(signum: int, frame: Any) -> None:
        received.append(signum)
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    mark = WorkerMark(options.saves, check_options(options))  # x in the app stops us with the workers
    try:
        codes = [child.wait() for child in children]
    finally:
        mark.release()
        for s, handler in previous.items():
            signal.signal(s, handler)
    if received:
        return 128 + received[0]
    _summary(args, options)
    return 0 if all(c == 0 for c in codes) else 1


class EventPrinter:
    """A worker's trial events: one line each (``[w2] trial 5 complete: 91.3 % of oracle``), or JSON lines."""

    def __init__(self, json_lines: bool) -> None:
        self.json_lines = json_lines

    def __call__(self, event: dict[str, Any]) -> None:
        from cs_tui.files import to_json
        from cs_tui.training.search_space import format_params

        if self.json_lines:
            sys.stdout.write(to_json(event) + "\n")
            sys.stdout.flush()
            return
        who = f"[w{event['worker']}] " if event.get("worker") else ""
        if event["type"] == "worker":
            print(f"{who}worker {event['status']}: {event['message'] or 'no trial left'} "
                  f"({event['trials_run']} trials run here)", flush=True)  # fmt: skip
            return
        kind = event["event"]
        line = f"{who}trial {event.get('trial', '')} {kind}"
        if kind == "started":
            line += f": {event['run']} {format_params(event['params'])}"
        elif kind == "complete":
            line += f": {event['value']:.1f} % of oracle on held-out conversations ({event['run']})"
        else:
            line += f": {event['message']}"
        print(line, flush=True)


def _open(args: argparse.Namespace, saves: Path) -> tuple[Any, str]:
    from cs_tui.tuning.options import (
        HEARTBEAT_SECONDS,
        default_study_name,
    )
    from cs_tui.tuning.results import load_study
    from cs_tui.tuning.storage import open_storage

    storage = open_storage(args.storage, saves, args.heartbeat or HEARTBEAT_SECONDS)
    name = args.study or default_study_name(args.algorithm or "ppo", args.industry or "mixed")
    return load_study(storage, name), name


def _summary(args: argparse.Namespace, options: Any) -> None:
    """The study's trials as a table (or one JSON object) after a run."""
    from cs_tui.tuning.options import (
        check_options,
    )
    from cs_tui.tuning.results import load_study, trial_rows
    from cs_tui.tuning.storage import open_storage

    study = load_study(open_storage(options.storage, options.saves, options.heartbeat),
                       check_options(options))  # fmt: skip
    rows = trial_rows(study, _space(study))
    if args.json:
        print(json.dumps({"type": "study", "study": study.study_name, "trials": rows}), flush=True)
    else:
        _print_table(study.study_name, rows)


def _space(study: Any) -> list[Any]:
    from cs_tui.training.search_space import load_search_space

    algorithm = study.user_attrs.get("settings", {}).get("algorithm", "ppo")
    try:
        return load_search_space()[algorithm]
    except ValueError:
        return []


def _print_table(name: str, rows: list[dict[str, Any]]) -> None:
    from rich import box
    from rich.table import Table

    from cs_tui.report import make_console
    from cs_tui.training.search_space import STATE_STYLE, format_params, shown_state, shown_value

    table = Table(title=f"study {name}", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column, justify in (("#", "right"), ("state", "left"), ("% oracle", "right"), ("best", "right"),
                            ("run", "left"), ("parameters", "left")):  # fmt: skip
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        shown, _ = shown_value(row)
        params = format_params(row["params"])
        table.add_row(
            str(row["number"]),
            f"[{STATE_STYLE.get(shown_state(row), '')}]{shown_state(row)}[/]",
            shown,
            "–" if row["best_so_far"] is None else f"{row['best_so_far']:.1f}",
            row["run"] or "–",
            params,
        )
    console = make_console()
    console.print(table)
    console.print("% oracle: held-out; * the last evaluation during training (pruned, failed or running trials)")


def _list(args: argparse.Namespace, saves: Path) -> int:
    import optuna

    from cs_tui.tuning.storage import embedded_url, open_storage, shown_url

    storage = open_storage(args.storage, saves)
    summaries = optuna.get_all_study_summaries(storage, include_best_trial=True)
    rows: list[dict[str, Any]] = [
        {"study": s.study_name, "trials": s.n_trials,
         "best": s.best_trial.value if s.best_trial is not None else None,
         "settings": s.user_attrs.get("settings")}
        for s in summaries
    ]  # fmt: skip
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"no studies in {shown_url(args.storage or embedded_url(saves))}")
    for row in rows:
        best = "–" if row["best"] is None else f"{row['best']:.1f} % of oracle"
        settings: dict[str, Any] = row["settings"] or {}
        print(f"{row['study']}: {row['trials']} trials, best {best} "
              f"({settings.get('algorithm', '?')} on {settings.get('industry', '?')})")  # fmt: skip
    return 0


def _best(args: argparse.Namespace, saves: Path) -> int:
    from cs_tui.files import to_json
    from cs_tui.training.hyperparams_file import write_hyperparams
    from cs_tui.tuning.options import (
        STUDIES_DIR,
    )
    from cs_tui.tuning.results import best_hyperparams, best_trial, trial_rows

    study, name = _open(args, saves)
    rows = trial_rows(study, _space(study))
    trial = best_trial(study)
    if trial is None:
        if args.json:
            print(json.dumps({"study": name, "best": None, "trials": rows}))
        else:
            _print_table(name, rows)
        print(f"cs-tui tune: study {name!r} has no complete trial yet", file=sys.stderr)
        return 1
    algorithm, n_envs, hyperparameters = best_hyperparams(study, _space(study))
    out = Path(args.out) if args.out else saves / STUDIES_DIR / f"{name}-best.toml"
    run = trial.user_attrs.get("run")
    holdout = trial.user_attrs.get("holdout", {})
    comment = (
        f"The best trial of study {name}: trial {trial.number} (run {run}), {trial.value:.1f} % of oracle "
        f"on {holdout.get('episodes', '?')} held-out conversations.\nWritten by cs-tui tune --best; "
        f"train with: cs-tui train --hyperparams {out}"
    )
    try:
        write_hyperparams(out, algorithm, n_envs, hyperparameters, comment)
    except OSError as exc:
        print(f"cs-tui tune: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    best = {"study": name, "trial": trial.number, "value": trial.value, "run": run, "algorithm": algorithm,
            "n_envs": n_envs, "hyperparameters": hyperparameters, "holdout": holdout, "file": str(out)}  # fmt: skip
    if args.json:
        print(to_json({**best, "trials": rows}, indent=2))
        return 0
    _print_table(name, rows)
    print(f"best: trial {trial.number} ({run}), {trial.value:.1f} % of oracle on held-out conversations")
    if holdout.get("command"):
        print(f"  the same figure: {holdout['command']}")
    print(f"hyperparameters written to {out}\n  train with them: cs-tui train --hyperparams {out}")
    return 0


__all__ = ["add_parser", "run"]
