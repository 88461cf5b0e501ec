"""What every campaign shares: running seeded trials, the CLI in a reusable worker process, file checks."""

from __future__ import annotations

import atexit
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
#: a tiny training run: a few thousand steps, small evaluations (campaigns test the promises, not learning)
TINY = ["--eval-episodes", "20", "--reference-episodes", "20", "--quiet"]
Trial = Callable[[int, Path], "str | None"]


@dataclass
class CampaignResult:
    """One campaign's tally; ``failures`` holds (seed, what broke) for every failing trial."""

    name: str
    tried: int = 0
    held: int = 0
    failures: list[tuple[int, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> int:
        return len(self.failures)

    def line(self) -> str:
        """The one line ``torture.py`` prints for the campaign."""
        text = f"{self.name}: tried {self.tried}, held {self.held}, failed {self.failed} ({self.seconds:.0f} s)"
        if self.failures:
            text += "; failing seeds: " + ", ".join(str(seed) for seed, _ in self.failures)
        return text


def run_trials(
    name: str, trial: Trial, seed: int, count: int, log: Callable[[str], None] | None = None
) -> CampaignResult:
    """Run trials ``seed`` … ``seed + count - 1`` of one campaign, each in its own scratch folder."""
    result = CampaignResult(name)
    started = time.monotonic()
    for trial_seed in range(seed, seed + count):
        with tempfile.TemporaryDirectory(prefix=f"torture-{name}-") as scratch:
            try:
                problem = trial(trial_seed, Path(scratch))
            except Exception:  # the harness itself broke: that is a failed case too, with its reason
                problem = "harness error: " + traceback.format_exc(limit=4)
            finally:
                _make_removable(Path(scratch))
        result.tried += 1
        if problem is None:
            result.held += 1
        else:
            result.failures.append((trial_seed, problem))
        if log is not None:  # a running tally, so that a campaign stopped early still has its figures
            log(f"  {name} seed {trial_seed}: {'held' if problem is None else problem}")
            log(f"  {name} so far: {result.line()} ({time.monotonic() - started:.0f} s)")
    result.seconds = time.monotonic() - started
    return result


def _make_removable(path: Path) -> None:
    """Undo what hostile-storage trials did (read-only modes, mounts) so the scratch folder can go."""
    for mount in sorted(mounts_under(path), key=len, reverse=True):
        subprocess.run(["umount", "-l", mount], check=False, capture_output=True)
    for root, dirs, _ in os.walk(path):
        for d in dirs:
            full = os.path.join(root, d)
            if not os.path.islink(full):
                os.chmod(full, 0o755)
    os.chmod(path, 0o755)


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below ``path`` (from /proc/self/mounts)."""
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return []
    prefix = str(path.resolve())
    points = [line.split()[1].replace("\\040", " ") for line in lines if len(line.split()) > 1]
    return [p for p in points if p == prefix or p.startswith(prefix + "/")]


# -- the CLI ----------------------------------------------------------------------------------


@dataclass
class CliResult:
    """What one ``cs-tui`` command did: exit status, output, and the traceback if it escaped."""

    code: int | None
    out: str
    err: str
    escaped: str | None = None  # a traceback that left cs_tui.cli.main: never allowed
    seconds: float = 0.0
    timed_out: bool = False

    def describe(self) -> str:
        if self.timed_out:
            return f"timed out after {self.seconds:.0f} s"
        if self.escaped:
            return "traceback: " + self.escaped.strip().splitlines()[-1]
        return f"exit {self.code}: {(self.err or self.out).strip()[-300:]}"

    @property
    def traceback(self) -> bool:
        return bool(self.escaped) or "Traceback (most recent call last)" in self.err + self.out


WORKER = REPO / "benchmarks" / "campaigns" / "cli_worker.py"


class CliWorker:
    """``cs_tui.cli.main`` in a long-lived child process: torch is imported once, not per command.

    A command that runs longer than its timeout kills the worker (a new one starts on the next call),
    so a file that hangs the loader is a failed case, not a hung campaign.
    """

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen(
                [sys.executable, str(WORKER)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                cwd=REPO,
                env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
            )
            assert self.proc.stdout is not None
            ready, _, _ = select.select([self.proc.stdout], [], [], 300)
            if not ready or not self.proc.stdout.readline():
                raise RuntimeError("the CLI worker did not start")
        return self.proc

    def run(self, argv: list[str], timeout: float = 60.0, cwd: Path | None = None) -> CliResult:
        proc = self._start()
        assert proc.stdin is not None and proc.stdout is not None
        started = time.monotonic()
        proc.stdin.write(json.dumps({"argv": argv, "cwd": str(cwd) if cwd else None}) + "\n")
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        if not ready:
            self.close()
            return CliResult(None, "", "", seconds=time.monotonic() - started, timed_out=True)
        line = proc.stdout.readline()
        if not line:
            code = proc.wait()
            self.proc = None
            return CliResult(
                code, "", "", escaped=f"the process died (exit {code})", seconds=time.monotonic() - started
            )
        answer = json.loads(line)
        return CliResult(answer["code"], answer["out"], answer["err"], answer["escaped"], time.monotonic() - started)

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            self.proc = None


#: the worker every campaign shares (closed when the interpreter exits)
worker = CliWorker()
atexit.register(worker.close)


def cs_tui(*args: str, **kwargs: Any) -> subprocess.Popen[str]:
    """A real ``python -m cs_tui`` process (the one a user starts), its output captured."""
    return subprocess.Popen(
        [sys.executable, "-m", "cs_tui", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=kwargs.pop("cwd", REPO),
        env={**os.environ, "NO_COLOR": "1", **kwargs.pop("env", {})},
        **kwargs,
    )


def stop(proc: subprocess.Popen[str], timeout: float = 60.0) -> tuple[str, str]:
    """Wait for ``proc`` (killed if it does not end in time); its output."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return out, err + f"\n[torture: killed after {timeout:.0f} s]"


# -- checks on a run folder -------------------------------------------------------------------


def last_steps_seen(metrics: Path) -> int:
    """The highest ``timesteps`` any whole record of the metrics stream reports (0 if none)."""
    from cs_tui.training.runs import parse_jsonl

    try:
        records, _ = parse_jsonl(metrics.read_bytes())
    except FileNotFoundError:
        return 0
    return max((int(r.get("timesteps", 0)) for r in records), default=0)


def model_files(run: Path) -> list[Path]:
    """Every model file a run folder holds."""
    return sorted([*run.glob("*.zip"), *(run / "checkpoints").glob("*.zip")])


def leftovers(root: Path) -> list[str]:
    """Temp files the atomic writes left behind under ``root``."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.name.endswith(".tmp") or ".tmp" in p.suffixes)


def tree(root: Path) -> set[str]:
    """Every path under ``root`` (to prove nothing was written outside the saves folder)."""
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def read_jsonish(path: Path) -> Any:
    return json.loads(path.read_text())


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


PHASES = ("startup", "run_written", "training", "final_save")


def wait_for_phase(proc: subprocess.Popen[str], run: Path, phase: str, rng: Any, timeout: float = 120.0) -> str:
    """Sleep until a random moment of ``phase`` of a training process; says when it was, in words.

    Wall time alone would not do: on a loaded machine the start-up (torch's import) can take 3 s or 30 s.
    startup: before the run folder is written; run_written: just after meta.json appears; training: a
    random moment after the first checkpoint; final_save: once the last steps are recorded.
    """
    started = time.monotonic()

    def until(condition: Callable[[], bool]) -> bool:
        while not condition():
            if proc.poll() is not None or time.monotonic() - started > timeout:
                return False
            time.sleep(0.01)
        return True

    if phase == "startup":
        time.sleep(rng.uniform(0.0, 2.5))
    elif phase == "run_written":
        until(lambda: (run / "meta.json").exists())
        time.sleep(rng.uniform(0.0, 0.5))
    elif phase == "training":
        until(lambda: (run / "model.zip").exists())
        time.sleep(rng.uniform(0.0, 4.0))
    else:
        until(lambda: _final_steps_reached(run))
        time.sleep(rng.uniform(0.0, 0.3))
    return f"{phase} +{time.monotonic() - started:.1f} s"


def _final_steps_reached(run: Path) -> bool:
    try:
        meta = json.loads((run / "meta.json").read_text())
    except (OSError, ValueError):
        return False
    return last_steps_seen(run / "metrics.jsonl") >= int(meta.get("total_timesteps") or 1 << 62)
