"""Campaign 7, hostile runs: a copied run folder with planted links, FIFOs and bad lines, huge counts and
names, tensors without data, a Ctrl-C in a command's first moments.

Per trial (issue 30's second campaign, items 4, 5, 7–12, 14):

- three planted files in copies of a real run (``saves/default``): one of the files a trainer writes
  (``.lock``, ``meta.json``, ``metrics.jsonl``, ``model.zip``, ``best.zip``, ``checkpoints/``) replaced by
  a symlink to a victim outside the folder, a FIFO, a link to ``/dev/zero``, a folder or a symlink loop;
  ``cs-tui train --resume`` must refuse in one line with exit 2 naming the file, the victim untouched,
  the lock free, and never block (a time limit);
- one metrics stream with bad lines among good ones (nested past the stack, ``"episode_returns": 5``,
  a 400-digit number, 5,000 digits, a line longer than a read): every good record reads back, in order;
- four bad counts or names for ``train`` / ``tune`` (10**k, negative, empty, 10,000 characters): a
  usage error (exit 2) naming the flag, nothing created;
- one model file whose ``policy.pth`` or optimizer state holds a meta tensor, a wrong shape or a NaN
  learning rate: ``cs-tui evaluate FILE`` refuses it naming the file, no traceback;
- one ``cs-tui`` process (as the console script starts it) sent SIGINT in its first 0.4 s: no traceback,
  the exit of a program stopped by Ctrl-C.
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from campaigns.common import REPO, worker

SOURCE_RUN = REPO / "saves" / "default"
WRITTEN = (".lock", "meta.json", "metrics.jsonl", "model.zip", "best.zip", "checkpoints")
PLANTS = ("victim_link", "fifo", "dev_zero", "folder", "loop")
#: what the refusal must say, by plant (a folder where a file belongs: "folder"; a file where
#: checkpoints/ belongs: "regular file")
SAYS = {"victim_link": "symbolic link (to", "fifo": "FIFO", "dev_zero": "symbolic link (to /dev/zero)",
        "loop": "symbolic link loop"}  # fmt: skip
HUGE = [str(10**k) for k in (10, 30, 400)]  # past every ceiling (the largest: --eval-every, 10**9)
COUNTS = {
    "train": ["--n-envs", "--eval-episodes", "--reference-episodes", "--eval-every", "--keep-checkpoints"],
    "tune": ["--jobs", "--eval-episodes", "--holdout-episodes", "--heartbeat", "--startup-trials", "--timeout",
             "--eval-every", "--reference-episodes"],
}  # fmt: skip
NAMES = {"train": ["--resume", "--warm-start"], "tune": []}


def _copy_run(workdir: Path, name: str) -> Path:
    target = workdir / "saves" / name
    shutil.copytree(SOURCE_RUN, target)
    (target / "checkpoints").mkdir(exist_ok=True)
    return target


def plant(path: Path, kind: str, victim: Path | None = None) -> None:
    """Put ``kind`` (one of :data:`PLANTS`) where ``path`` was: a link to ``victim``, a FIFO, a link to
    /dev/zero, a folder, or a link to itself."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
    if kind == "victim_link":
        assert victim is not None
        path.symlink_to(victim)
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev_zero":
        path.symlink_to("/dev/zero")
    elif kind == "folder":
        path.mkdir()
    else:
        path.symlink_to(path)


def planted_case(rng: random.Random, workdir: Path, i: int) -> str | None:
    from cs_tui.training.run_lock import run_locked

    run = _copy_run(workdir, f"planted{i}")
    name, kind = rng.choice(WRITTEN), rng.choice(PLANTS)
    if name == "checkpoints" and kind == "folder":
        kind = "fifo"  # (a folder is what belongs there)
    victim = workdir / f"victim{i}"
    if name == "checkpoints":
        victim.mkdir()
        (victim / "theirs.zip").write_bytes(b"someone's file")
    else:
        victim.write_bytes(b"precious\n")
    snapshot = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in [victim, *victim.glob("*")] if p.is_file()}
    plant(run / name, kind, victim)
    meta_before = (run / "meta.json").read_bytes() if name != "meta.json" else None
    what = f"{name} as {kind}"
    result = worker.run(["train", "--resume", str(run), "--timesteps", "10000000", "--quiet"], timeout=120)
    if result.timed_out or result.traceback:
        return f"{what}: {result.describe()}"
    expected = SAYS.get(kind, "folder" if name != "checkpoints" else "regular file")
    if kind == "folder" and name != "checkpoints":
        expected = "is a folder, not a regular file"
    if result.code != 2 or str(run / name) not in result.err or expected not in result.err:
        return f"{what}: {result.describe()} (expected exit 2 naming the file and {expected!r})"
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in [victim, *victim.glob("*")] if p.is_file()}
    if after != snapshot:
        return f"{what}: the victim outside the run was changed"
    if meta_before is not None and (run / "meta.json").read_bytes() != meta_before:
        return f"{what}: the refused resume changed meta.json"
    if run_locked(run):
        return f"{what}: the lock is left held"
    return None


def _good_record(step: int, rng: random.Random) -> dict[str, object]:
    return {"type": "train", "time": 1.0, "timesteps": step, "fps": 100.0, "episodes": step,
            "episode_returns": [round(rng.uniform(-1, 2), 3) for _ in range(rng.randint(0, 5))], "mean_return": 1.0,
            "strategy_usage": {"empathetic": 1.0}, "losses": {"loss": 0.5}}  # fmt: skip


BAD_LINES = [
    "[" * 100_000 + "]" * 100_000,
    '{"type": "train", "episode_returns": 5}',
    '{"type": "train", "timesteps": 1' + "0" * 400 + "}",
    '{"type": "train", "x": ' + "1" * 5000 + "}",
    '{"type": "train", "strategy_usage": {"a": [1, 2]}}',
    '{"type": "eval", "is_best": "yes"}',
    '{"type": ' + "{" * 50 + "}" * 50 + "}",
    "\xff\xfe not text",
    '{"type": 7}',
    '{"type": "train", "x": "' + "a" * (2 << 20) + '"}',
]


def metrics_case(rng: random.Random, workdir: Path, i: int) -> str | None:
    from cs_tui.training import runs

    run = _copy_run(workdir, f"metrics{i}")
    good = [_good_record(step, rng) for step in range(1, rng.randint(3, 8))]
    lines = [json.dumps(r) for r in good]
    bad = rng.sample(BAD_LINES, rng.randint(1, 4))
    for line in bad:
        lines.insert(rng.randrange(len(lines) + 1), line)
    (run / "metrics.jsonl").write_bytes(("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"))
    try:
        got = runs.Run(run).all_metrics()
    except Exception as exc:
        return f"metrics with {len(bad)} bad lines: {type(exc).__name__}: {exc}"
    if got != good:
        return f"metrics with bad lines {[b[:30] for b in bad]}: read {len(got)} records, expected the {len(good)} good"
    return None


def _bad_value(rng: random.Random, flag: str) -> str:
    if flag in ("--resume", "--warm-start"):
        return rng.choice(["", "x" * 10_000, "a/" * 3000])
    return rng.choice([*HUGE, "-1", "-" + HUGE[2]])


def counts_case(rng: random.Random, workdir: Path, i: int) -> str | None:
    command = rng.choice(["train", "tune"])
    flag = rng.choice(COUNTS[command] + NAMES[command])
    value = _bad_value(rng, flag)
    place = workdir / f"counts{i}"
    place.mkdir()
    argv = ["--saves", str(place / "saves"), command, *(["--trials", "1"] if command == "tune" else []),
            f"{flag}={value}", "--timesteps", "64"]  # fmt: skip
    if command == "train":
        argv.append("--quiet")
    result = worker.run(argv, timeout=120, cwd=place)
    what = f"{command} {flag} {value[:20]!r}{'…' if len(value) > 20 else ''}"
    if result.timed_out or result.traceback or result.code != 2 or flag not in result.err:
        return f"{what}: {result.describe()} (expected a usage error naming {flag})"
    if any(place.iterdir()):
        return f"{what}: files appeared: {sorted(p.name for p in place.iterdir())}"
    return None


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def model_case(rng: random.Random, workdir: Path, i: int) -> str | None:
    import torch

    members = _members(SOURCE_RUN / "model.zip")
    weights = torch.load(io.BytesIO(members["policy.pth"]), weights_only=True)
    kind = rng.choice(["meta_weight", "meta_moment", "wrong_shape", "nan_lr"])
    buffer = io.BytesIO()
    if kind == "meta_weight":
        name = rng.choice(sorted(weights))
        weights[name] = torch.empty(weights[name].shape, device="meta")
        torch.save(weights, buffer)
        member = "policy.pth"
    else:
        state = torch.load(io.BytesIO(members["policy.optimizer.pth"]), weights_only=True)
        first = next(iter(weights.values()))
        moment = {"meta_moment": torch.empty(first.shape, device="meta"), "wrong_shape": torch.zeros(2, 2)}
        state["state"] = {0: {"step": torch.tensor(1.0), "exp_avg": moment.get(kind, torch.zeros_like(first)),
                              "exp_avg_sq": torch.zeros_like(first)}}  # fmt: skip
        if kind == "nan_lr":
            state["param_groups"][0]["lr"] = float("nan")
        torch.save(state, buffer)
        member = "policy.optimizer.pth"
    members[member] = buffer.getvalue()
    path = workdir / f"model{i}.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    result = worker.run(["evaluate", str(path), "--episodes", "2"], timeout=300)
    if result.timed_out or result.traceback or result.code not in (1, 2) or str(path) not in result.err:
        return f"model with {kind}: {result.describe()} (expected a refusal naming the file)"
    if member not in result.err:
        return f"model with {kind}: the refusal does not name {member}: {result.err.strip()[:200]}"
    return None


def ctrl_c_case(rng: random.Random, workdir: Path) -> str | None:
    # as the console script starts it (`from cs_tui.cli import main; sys.exit(main())`), after a line that
    # says Python is up: the Ctrl-C lands in our first 0.4 s, not in the interpreter's own start-up
    script = "import sys\nprint('up', flush=True)\nfrom cs_tui.cli import main\nsys.exit(main())\n"
    argv = rng.choice([["evaluate", "baseline:random", "--episodes", "200"], ["--help"],
                       ["demo", "--policy", "baseline:heuristic", "--episodes", "1"]])  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", script, *argv], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "NO_COLOR": "1"})  # fmt: skip
    assert proc.stdout is not None
    proc.stdout.readline()
    delay = rng.uniform(0.0, 0.4)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()
        return f"Ctrl-C at {delay:.2f} s into {argv}: still running after 300 s"
    if proc.returncode == -signal.SIGINT and "KeyboardInterrupt" in err and ", in main" not in err:
        # stopped before main() ran, while the script's first line imported cs_tui.cli (its compile and
        # standard-library imports, ~15 ms): no code of ours can guard that without another console script
        return None
    if "Traceback" in err or proc.returncode not in (0, 130, -signal.SIGINT):
        last = err.strip().splitlines()[-1] if err.strip() else ""
        return f"Ctrl-C at {delay:.2f} s into {argv}: exit {proc.returncode}, {last[:200]}"
    return None


def trial(seed: int, workdir: Path) -> str | None:
    rng = random.Random(seed)
    problems = [planted_case(rng, workdir, i) for i in range(3)]
    problems.append(metrics_case(rng, workdir, 0))
    problems += [counts_case(rng, workdir, i) for i in range(4)]
    problems.append(model_case(rng, workdir, 0))
    problems.append(ctrl_c_case(rng, workdir))
    found = [p for p in problems if p]
    return "; ".join(found) if found else None
