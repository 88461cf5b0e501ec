"""Campaign 4, hostile storage: a read-only saves folder, a full disk, one name trained twice at once, bad names.

The promises: a clear error (exit 1 or 2, the reason in words, never a traceback), no partial files left
behind (no ``*.tmp``, no run folder without its meta.json, every model file that exists loads), and no
file written outside the saves folder. As root the read-only folder and the full disk are real tmpfs
mounts (of a random size, so the disk fills at a different moment each time); otherwise the folder is
made read-only with its mode and the disk "fills" at a per-process file-size limit (RLIMIT_FSIZE).
"""

from __future__ import annotations

import os
import random
import resource
import signal
import subprocess
import time
from pathlib import Path

from campaigns.common import TINY, cs_tui, leftovers, model_files, stop, tree, worker

ROOT = os.geteuid() == 0
CONTROL = [chr(c) for c in [*range(0, 32), 127]]


def mount_tmpfs(path: Path, size_kb: int, read_only: bool = False) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size_kb}k" + (",ro" if read_only else "")
    return (
        subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True).returncode == 0
    )


def bad_name(rng: random.Random) -> str:
    """A run name that must be refused: path tricks, control characters, 300 characters, ..."""
    pieces = [
        "../escape", "../../etc/cron.d/x", "a/b", "/abs/path", ".", "..", "", " ", "-dash", "trail\n",
        "x" * 300, "a" * 101, "tab\tname", "nul\0byte", "~", "runé", "a\\b", "$(touch pwned)", "`id`",
        "name\r", "\x1b[31mred", "con:", "a..", "..hidden",
    ]  # fmt: skip
    name = rng.choice(pieces)
    if rng.random() < 0.5:
        name = "run" + rng.choice(CONTROL) + name[: rng.randint(0, 20)]
    return name


def _problems_in(saves: Path) -> list[str]:
    """Partial files under the saves folder: temp files, run folders without meta.json, models that do not load."""
    problems = [f"left behind {p}" for p in leftovers(saves)]
    if not saves.is_dir():
        return problems
    for run in (p for p in saves.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if not (run / "meta.json").is_file():
            problems.append(f"{run.name}/ has no meta.json (a half-made run blocks its name)")
        for path in model_files(run):
            result = worker.run(["evaluate", str(path), "--episodes", "2"])
            if result.code != 0:
                problems.append(f"{path.relative_to(saves)} does not load: {result.describe()}")
    return problems


def appeared(workdir: Path, before: set[str]) -> list[str]:
    """What a refused command wrote: it should have written nothing."""
    new = sorted(tree(workdir) - before)
    return [f"files appeared: {new[:5]}"] if new else []


def names_trial(rng: random.Random, workdir: Path) -> list[str]:
    saves = workdir / "saves"
    saves.mkdir()
    before = tree(workdir)
    problems = []
    for _ in range(8):
        name = bad_name(rng)
        result = worker.run(["--saves", str(saves), "train", "--name", name, "--timesteps", "100", *TINY], cwd=workdir)
        if result.code != 2 or result.traceback or "name" not in result.err:
            problems.append(f"--name {name!r}: {result.describe()} (expected a usage error naming the name)")
    return problems + appeared(workdir, before)


def read_only_trial(rng: random.Random, workdir: Path) -> list[str]:
    saves = workdir / "saves"
    if ROOT:
        mount_tmpfs(saves, 1024, read_only=True)
    else:
        saves.mkdir()
        saves.chmod(0o555)
    before = tree(workdir)
    argv = rng.choice(
        [["train", "--timesteps", "100", *TINY], ["train", "--name", "ro", "--timesteps", "100", *TINY],
         ["demo", "--policy", "baseline:heuristic", "--episodes", "1"],
         ["test", "--policy", "baseline:heuristic", "--trials", "1", "--junit", str(saves / "r.xml")]]
    )  # fmt: skip
    result = worker.run(["--saves", str(saves), *argv], cwd=workdir)
    problems = []
    if result.traceback or result.timed_out:
        problems.append(f"{argv[0]} on a read-only saves folder: {result.describe()}")
    elif argv[0] == "train" and (result.code not in (1, 2) or str(saves) not in result.err):
        problems.append(f"train on a read-only saves folder: {result.describe()} (expected an error naming it)")
    return problems + appeared(workdir, before)


def full_disk_trial(rng: random.Random, workdir: Path) -> list[str]:
    saves = workdir / "saves"
    size_kb = rng.choice([16, 64, 200, 400, 800, 1500, 3000])
    algorithm = rng.choice(["ppo", "dqn"])
    argv = ["--saves", str(saves), "train", "--algorithm", algorithm, "--name", "full", "--timesteps", "3000",
            "--eval-every", "500", *TINY]  # fmt: skip
    if ROOT and mount_tmpfs(saves, size_kb):
        proc = cs_tui(*argv)
    else:
        saves.mkdir()

        def limit() -> None:  # the file-size limit stands in for the disk: writes past it fail with EFBIG
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (size_kb * 1024, size_kb * 1024))

        proc = cs_tui(*argv, preexec_fn=limit)
    _, err = stop(proc, timeout=900)
    where = f"{algorithm} on {size_kb} KB"
    problems = []
    if "Traceback" in err:
        problems.append(f"{where}: a traceback: {err.strip().splitlines()[-1]}")
    if proc.returncode not in (0, 1):
        problems.append(f"{where}: exit {proc.returncode}: {err.strip()[-200:]}")
    elif proc.returncode == 1 and not any(w in err.lower() for w in ("space", "disk", "too large", "full")):
        problems.append(f"{where}: the error does not say the disk is full: {err.strip()[-200:]}")
    problems += [f"{where}: {p}" for p in _problems_in(saves)]
    return problems


def same_name_trial(rng: random.Random, workdir: Path) -> list[str]:
    from cs_tui.training.run_record import RunError
    from cs_tui.training.runs import Run

    saves = workdir / "saves"
    argv = ["--saves", str(saves), "train", "--name", "twin", "--timesteps", "1000", "--eval-every", "500", *TINY]
    first = cs_tui(*argv)
    time.sleep(rng.uniform(0.0, 0.5))
    second = cs_tui(*argv)
    (_, err1), (_, err2) = stop(first, 900), stop(second, 900)
    codes = sorted([first.returncode, second.returncode])
    problems = []
    if "Traceback" in err1 + err2:
        problems.append("a traceback")
    if codes != [0, 2] or "already exists" not in err1 + err2:
        problems.append(f"exit statuses {codes}, expected one 0 and one 2 naming the taken name")
    try:
        run = Run(saves / "twin")
        records = run.read_metrics()[0]
        finished = [r for r in records if r.get("type") == "status" and r.get("status") == "finished"]
        if run.meta.get("status") != "finished" or len(finished) != 1:
            problems.append(f"the run is {run.meta.get('status')} with {len(finished)} finished records")
    except RunError as exc:
        problems.append(str(exc))
    return problems + _problems_in(saves)


KINDS = (names_trial, read_only_trial, full_disk_trial, same_name_trial)


def trial(seed: int, workdir: Path) -> str | None:
    rng = random.Random(seed)
    kind = KINDS[seed % len(KINDS)]
    problems = kind(rng, workdir)
    return f"{kind.__name__}: {'; '.join(problems)}" if problems else None
