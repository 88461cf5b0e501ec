"""Campaign 2, signals: SIGHUP, SIGTERM and SIGINT at a random moment of a tiny ``cs-tui train``.

The moment is drawn over the process's whole life: its start-up (the torch import, before and after the
run folder is written), training, evaluations and the final save. The promises (docs/command-line.md, "Exit status"):
the process exits 128 + the signal's number with the run marked interrupted and a checkpoint that
``--resume`` continues to the end, or, when the signal came after the last save, 0 with the run
finished; never a traceback; and a run folder it leaves behind is always one that resumes.
"""

from __future__ import annotations

import random
import signal
from pathlib import Path

from campaigns.common import PHASES, TINY, cs_tui, leftovers, stop, wait_for_phase, worker

SIGNALS = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)


def trial(seed: int, workdir: Path) -> str | None:
    from cs_tui.training.run_record import RunError
    from cs_tui.training.runs import Run

    rng = random.Random(seed)
    signum = SIGNALS[seed % 3]  # every signal equally often, whatever the count
    name = signal.Signals(signum).name
    algorithm = rng.choice(["ppo", "a2c", "dqn"])
    saves = workdir / "saves"
    proc = cs_tui(
        "--saves", str(saves), "train", "--algorithm", algorithm, "--name", "s", "--timesteps", "2048",
        "--eval-every", "500", *TINY,
    )  # fmt: skip
    run = saves / "s"
    when = wait_for_phase(proc, run, rng.choice(PHASES), rng)
    proc.send_signal(signum)
    _, err = stop(proc, timeout=900)
    where = f"{algorithm}, {name} at {when}"
    code = proc.returncode
    if code == -signum and not (saves / "s").exists():
        # stopped while Python itself was starting (site, runpy), before any cs-tui code ran: the interpreter
        # prints its own KeyboardInterrupt and dies of the signal, the shell reports 128 + N all the same, and
        # there is no run to resume. From cs_tui/__main__'s first line on, a stop is a quiet exit 128 + N.
        return None
    if "Traceback" in err:
        return f"{where}: a traceback: {err.strip().splitlines()[-1]}"
    if code not in (0, 128 + signum):
        return f"{where}: exit {code}, expected {128 + signum} (or 0 after the final save): {err.strip()[-200:]}"
    problems = [f"left behind {p}" for p in leftovers(saves)]
    if not (run / "meta.json").exists():
        if run.exists() and any(run.iterdir()):
            problems.append(f"a run folder without meta.json: {sorted(p.name for p in run.iterdir())}")
        return f"{where}: {'; '.join(problems)}" if problems else None
    try:
        meta = Run(run).meta
    except RunError as exc:
        return f"{where}: {exc}"
    expected = "finished" if code == 0 else "interrupted"
    if meta.get("status") != expected:
        problems.append(f"exit {code} but status {meta.get('status')!r}, expected {expected!r}")
    if code != 0:
        if not (run / "model.zip").exists():
            problems.append("stopped without a checkpoint (model.zip)")
        total = int(meta.get("total_timesteps", 2048)) + 100
        result = worker.run(["train", "--resume", str(run), "--timesteps", str(total), "--quiet"])
        if result.code != 0:
            problems.append(f"--resume: {result.describe()}")
        elif Run(run).meta.get("status") != "finished":
            problems.append("--resume did not finish the run")
    return f"{where}: {'; '.join(problems)}" if problems else None
