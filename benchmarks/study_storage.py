"""Which embedded Optuna storage holds with 4 worker processes on one study: journal file vs SQLite.

Four processes run ``--trials`` cheap trials each (five intermediate reports, a few ms of work) on one
study, for each storage in turn: Optuna's journal file (JournalFileBackend, its advice for processes on
one host), SQLite as SQLAlchemy opens it by default, and SQLite as ``cs-tui tune`` opens it (WAL, a
60 s busy timeout). Printed per storage: errors raised in the workers, trials recorded against those
asked for, duplicated trial numbers, trials per second, and whether the storage supports heartbeats
(the kill -9 recovery of ``cs-tui tune`` needs them).

    .venv/bin/python benchmarks/study_storage.py [--trials 60] [--workers 4]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

STORAGES = ("journal", "sqlite-default", "sqlite-wal (cs-tui)")


def storage_for(kind: str, folder: Path) -> Any:
    import optuna

    if kind == "journal":
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(str(folder / "journal.log")))
    if kind == "sqlite-default":
        return optuna.storages.RDBStorage(f"sqlite:///{folder / 'default.db'}")
    from cs_tui.tuning.storage import open_storage

    return open_storage(f"sqlite:///{folder / 'wal.db'}", folder, heartbeat=10)


def worker(kind: str, folder: Path, trials: int) -> int:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    errors = 0
    study = optuna.load_study(study_name="bench", storage=storage_for(kind, folder))

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", -10, 10)
        for step in range(5):
            time.sleep(0.001)
            trial.report(x * step, step)
        return x * x

    for _ in range(trials):
        try:
            study.optimize(objective, n_trials=1)
        except Exception as exc:  # what a storage that does not hold raises ("database is locked", ...)
            errors += 1
            print(f"error: {type(exc).__name__}: {str(exc).splitlines()[0][:100]}", file=sys.stderr)
    return errors


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=60, help="trials per worker")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        raise SystemExit(min(worker(args.worker[0], Path(args.worker[1]), args.trials), 100))
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    print(f"{args.workers} workers x {args.trials} trials on one study")
    print(f"{'storage':<22}{'errors':>8}{'recorded':>10}{'dupes':>7}{'trials/s':>10}  heartbeat")
    for kind in STORAGES:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            storage = storage_for(kind, folder)
            optuna.create_study(study_name="bench", storage=storage)
            started = time.perf_counter()
            procs = [
                subprocess.Popen(
                    [sys.executable, __file__, "--trials", str(args.trials), "--worker", kind, str(folder)],
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for _ in range(args.workers)
            ]
            errors = 0
            for proc in procs:
                _, err = proc.communicate()
                errors += err.count("error:")
            wall = time.perf_counter() - started
            study = optuna.load_study(study_name="bench", storage=storage_for(kind, folder))
            trials = study.get_trials(deepcopy=False)
            numbers = Counter(t.number for t in trials)
            complete = sum(t.state.name == "COMPLETE" for t in trials)
            dupes = sum(n - 1 for n in numbers.values() if n > 1)
            beats = "yes" if hasattr(storage, "record_heartbeat") else "no"
            print(
                f"{kind:<22}{errors:>8}{complete:>5}/{args.workers * args.trials:<4}{dupes:>7}"
                f"{complete / wall:>10.1f}  {beats}"
            )


if __name__ == "__main__":
    main()
