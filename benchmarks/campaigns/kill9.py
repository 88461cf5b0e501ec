"""Campaign 1, ``kill -9``: a tiny ``cs-tui train`` killed at a random moment, then checked and resumed.

The moment is drawn over the whole life of the process (start-up, training, evaluations, checkpoints,
DQN's replay-buffer save), with checkpoints every few hundred steps so that a good share of kills land
inside a write. The promises: every model file in the folder loads (``cs-tui evaluate FILE``), meta.json
parses, the metrics stream reads, ``--resume`` continues to the end, and the steps lost are at most one
checkpoint interval (plus the rollout in flight).
"""

from __future__ import annotations

import random
from pathlib import Path

from campaigns.common import PHASES, TINY, cs_tui, last_steps_seen, leftovers, model_files, stop, wait_for_phase, worker

EVAL_EVERY = 500
#: steps one rollout collects with the defaults (SB3 stops only between rollouts), by algorithm
ROLLOUT = {"ppo": 32 * 64, "a2c": 16 * 5, "dqn": 8}


def check_run(run: Path, lost_limit: int) -> str | None:
    """The promises on a run folder whose trainer died: files load, steps lost bounded, resume works."""
    from cs_tui.training.run_record import RunError
    from cs_tui.training.runs import Run

    problems: list[str] = []
    if not (run / "meta.json").exists():
        return None  # killed before the run existed: nothing to check
    try:
        meta = Run(run).meta
    except RunError as exc:
        return f"meta.json does not parse: {exc}"
    try:
        Run(run).read_metrics()
    except Exception as exc:
        return f"metrics.jsonl does not read: {type(exc).__name__}: {exc}"
    for path in model_files(run):
        result = worker.run(["evaluate", str(path), "--episodes", "2"])
        if result.code != 0:
            problems.append(f"{path.relative_to(run)} does not load: {result.describe()}")
    done = int(meta.get("timesteps_done", 0))
    seen = last_steps_seen(run / "metrics.jsonl")
    if seen - done > lost_limit:
        problems.append(f"lost {seen - done} steps ({seen} seen, {done} checkpointed), more than {lost_limit}")
    if not (run / "model.zip").exists():
        # before the first checkpoint: resume starts the run over (and finishes it) or says why it cannot
        result = worker.run(["train", "--resume", str(run), "--quiet"])
        if result.code == 0:
            if Run(run).meta.get("status") != "finished":
                problems.append("resume before any checkpoint exited 0 but left the run unfinished")
        elif result.code is None or result.traceback or "model.zip" not in result.err:
            problems.append(f"resume before any checkpoint: {result.describe()}")
        return "; ".join(problems + _leftovers(run)) or None
    total = max(done, int(meta.get("total_timesteps", 0))) + 200
    result = worker.run(["train", "--resume", str(run), "--timesteps", str(total), "--quiet"])
    if result.code != 0:
        problems.append(f"--resume failed: {result.describe()}")
    else:
        after = Run(run).meta
        if after.get("status") != "finished" or int(after.get("timesteps_done", 0)) < total:
            problems.append(f"--resume ended {after.get('status')} at {after.get('timesteps_done')} of {total}")
    return "; ".join(problems + _leftovers(run)) or None


def _leftovers(run: Path) -> list[str]:
    """A kill mid-write leaves a temp file; the next trainer of the run (the resume) must clear it."""
    return [f"left behind {p} after the resume" for p in leftovers(run)]


def trial(seed: int, workdir: Path) -> str | None:
    rng = random.Random(seed)
    algorithm = rng.choice(["ppo", "a2c", "dqn"])
    saves = workdir / "saves"
    proc = cs_tui(
        "--saves", str(saves), "train", "--algorithm", algorithm, "--name", "k", "--timesteps", "6000",
        "--eval-every", str(EVAL_EVERY), "--keep-checkpoints", str(rng.randint(0, 3)), *TINY,
    )  # fmt: skip
    run = saves / "k"
    # most kills while training (evaluations, checkpoints and DQN's buffer are written every 500 steps)
    phase = rng.choices(PHASES, [1, 2, 6, 1])[0]
    when = wait_for_phase(proc, run, phase, rng)
    proc.kill()
    _, err = stop(proc)
    if proc.returncode not in (-9, 0):
        return f"{algorithm}: exit {proc.returncode} before the kill: {err.strip()[-300:]}"
    problem = check_run(run, EVAL_EVERY + ROLLOUT[algorithm])
    return f"{algorithm}, killed at {when}: {problem}" if problem else None
