"""How fast the app opens and answers keys, measured in a real pseudo-terminal.

1. Launch to first screen: from starting ``python -m cs_tui`` until the terminal has received its first
   frame (the title: "opening the play pane"), and until the play pane is up (the customer's opening
   line and the footer's keys), each beside a bare Textual app (one Static) launched the same way in
   the same run. Goals: the first frame <= 1.5x the bare app; the play pane <= 0.6 s.
2. Keypress to updated screen in the conversation pane: from writing a key (1-8, or enter for the next
   customer) to the terminal receiving the updated turn counter (or the next customer's seed). Goal:
   <= 50 ms. Measured twice: alone, and while the training pane follows a run whose ``metrics.jsonl``
   grows by a record every 0.1 s (a simulated training process, per the run-folder contract).
3. Launch to the opponent's suggestions: from starting ``python -m cs_tui`` with the shipped default agent
   until the play pane shows ``default suggests`` (the model read and run with numpy, its first answer
   drawn), beside the bare Textual app's launch in the same rounds. Goal: <= 1.5 s. And, in fresh
   interpreters, what loading costs before a first answer: numpy alone (``numpy_policy.load_numpy_policy``,
   what the app does), torch's network alone (``policy_net.load_policy_net``, what the app did before, in
   a process of its own, and what it still does for a recurrent model) and SB3's whole algorithm
   (``safe_load.load_model``, what the command line's ``evaluate`` checks files with).
4. Quit: from writing ``q`` (or ``ctrl+q``) to the process having exited (the shell prompt is back),
   beside a bare Textual app quit with ``ctrl+q``. Goal: <= 0.3 s in every state: idle, idle with a
   model loaded (its network in numpy in the process), while a model loads, while following a run, while a scenario
   run is in progress. The model states copy ``--model`` (default ``saves/default``) into a temp saves.

    .venv/bin/python benchmarks/app_latency.py [--launches 5] [--keys 60] [--suggest-launches 3]
        [--quits 3] [--only {quit,launch}]

``--only launch`` measures 1 and 3 alone (the launches and the suggestions, beside the bare app).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import pty
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

COLS, ROWS = 80, 24
ANSI = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\x1b[=>]")

REPO = Path(__file__).resolve().parents[1]
DEFAULT_AGENT = REPO / "saves" / "default"

#: a fresh interpreter that loads the default agent one way and answers one observation; prints seconds
FIRST_ANSWER = """
import sys, time
start = time.perf_counter()
import numpy as np
from cs_env.env import OBS_SIZE
obs = np.zeros((1, OBS_SIZE), dtype=np.float32)
if sys.argv[1] == "numpy":
    from cs_tui.training.numpy_policy import load_numpy_policy
    net, _ = load_numpy_policy(sys.argv[2])
    net.action_values(obs)
elif sys.argv[1] == "policy_net":
    import torch
    torch.set_num_threads(1)
    from cs_tui.training.policy_net import load_policy_net
    net, _ = load_policy_net(sys.argv[2])
    net.action_values(obs)
else:
    import torch
    torch.set_num_threads(1)
    from cs_tui.training.safe_load import load_model
    model = load_model(sys.argv[2])
    model.predict(obs, deterministic=True)
print(time.perf_counter() - start)
"""

BARE_APP = """
from textual.app import App
from textual.widgets import Static

class Bare(App):
    def compose(self):
        yield Static("bare textual app ready")

Bare().run()
"""


class Terminal:
    """A program running in a pseudo-terminal of COLS x ROWS; its output as text without escape codes."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.started = time.perf_counter()
        pid, fd = pty.fork()
        if pid == 0:  # the child: become the program
            os.execvpe(argv[0], argv, env)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        self.seen = b""

    def read_until(self, *markers: bytes, timeout: float = 20.0) -> float:
        """Read until every marker appeared in the output since the last call; the time that took."""
        start = time.perf_counter()
        buffer = b""
        while True:
            text = ANSI.sub(b"", buffer)
            if all(m in text for m in markers):
                self.seen = text
                return time.perf_counter() - start
            left = timeout - (time.perf_counter() - start)
            if left <= 0:
                raise TimeoutError(f"no {markers} after {timeout} s; last output: {text[-300:]!r}")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    buffer += os.read(self.fd, 65536)
                except OSError as error:
                    raise TimeoutError(f"the program ended before {markers}: {text[-300:]!r}") from error

    def drain(self, quiet: float = 0.15) -> None:
        """Read until the program is quiet for ``quiet`` seconds (animations, toasts settle)."""
        while select.select([self.fd], [], [], quiet)[0]:
            try:
                self.seen += ANSI.sub(b"", os.read(self.fd, 65536))
            except OSError:
                return

    def press(self, key: bytes, *markers: bytes) -> float:
        """Write a key; seconds until every marker appeared."""
        start = time.perf_counter()
        os.write(self.fd, key)
        self.read_until(*markers)
        return time.perf_counter() - start

    def quit(self, key: bytes = b"q", timeout: float = 20.0) -> tuple[float, int]:
        """Write ``key``; seconds until the process has exited, and its exit status."""
        start = time.perf_counter()
        os.write(self.fd, key)
        while time.perf_counter() - start < timeout:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                elapsed = time.perf_counter() - start
                self.pid = 0
                return elapsed, os.waitstatus_to_exitcode(status)
            # keep reading: a program blocked on a full terminal buffer would never exit
            if select.select([self.fd], [], [], 0.002)[0]:
                with contextlib.suppress(OSError):
                    os.read(self.fd, 65536)
        raise TimeoutError(f"still running {timeout} s after {key!r}")

    def close(self) -> None:
        if not self.pid:
            os.close(self.fd)
            return
        try:
            os.kill(self.pid, signal.SIGTERM)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(self.fd)


def environment(saves: Path) -> dict[str, str]:
    env = dict(os.environ, TERM="xterm-256color", COLUMNS=str(COLS), LINES=str(ROWS), CS_TUI_SAVES=str(saves))
    env.pop("TEXTUAL", None)  # no devtools
    return env


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def launch_time(argv: list[str], env: dict[str, str], *markers: bytes) -> tuple[float, float]:
    """Wall seconds until the markers are on screen, and the CPU seconds the program used by then."""
    term = Terminal(argv, env)
    try:
        term.read_until(*markers)
        return time.perf_counter() - term.started, cpu_seconds(term.pid)
    finally:
        term.close()


def key_latencies(term: Terminal, n_keys: int) -> list[float]:
    """Play customers by keys; the latency of each key."""
    latencies: list[float] = []
    term.drain()
    turn = 0
    strategies = b"16725"
    while len(latencies) < n_keys:
        key = strategies[len(latencies) % len(strategies) : len(latencies) % len(strategies) + 1]
        turn += 1
        start = time.perf_counter()
        os.write(term.fd, key)
        term.read_until(f"turn {turn}/10".encode())
        latencies.append(time.perf_counter() - start)
        term.drain(0.05)  # the opponent's turn in a worker, and any toast, settle before the next key
        ended = any(w in term.seen for w in (b"RESOLVED", b"ESCALATED", b"ABANDONED", b"TIMEOUT", b"Next"))
        if ended or turn == 10:
            latencies.append(term.press(b"\r", b"turn 0/10"))
            term.drain(0.05)
            turn = 0
    return latencies


def fake_training_run(saves: Path, stop: threading.Event) -> threading.Thread:
    """A run folder that looks alive (its pid is a sleeping child) and grows a metrics record every 0.1 s."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
    run = saves / "bench-ppo"
    run.mkdir(parents=True)
    total = 1_000_000
    meta = {
        "schema": 1,
        "name": run.name,
        "algorithm": "ppo",
        "industry": "mixed",
        "max_turns": 10,
        "seed": 0,
        "n_envs": 8,
        "total_timesteps": total,
        "timesteps_done": 0,
        "hyperparameters": {},
        "industry_digest": "",
        "versions": {},
        "created_at": "2026-01-01T00:00:00+00:00",
        "updated_at": "2026-01-01T00:00:00+00:00",
        "status": "running",
        "error": None,
        "pid": sleeper.pid,
        "reference": {"random_return": 0.4, "oracle_return": 1.76, "episodes": 200, "seed": 0},
        "last_eval": None,
        "best_eval": None,
    }
    (run / "meta.json").write_text(json.dumps(meta))

    def write() -> None:
        step = 0
        with (run / "metrics.jsonl").open("a") as stream:
            while not stop.is_set():
                step += 2048
                record = {
                    "type": "train",
                    "time": time.time(),
                    "timesteps": step,
                    "fps": 3000.0,
                    "progress": step / total,
                    "eta_seconds": (total - step) / 3000.0,
                    "episodes": step // 4,
                    "episode_returns": [1.0 + 0.001 * (i % 50) for i in range(64)],
                    "mean_return": 1.2,
                    "satisfaction": 0.7,
                    "resolution_rate": 0.7,
                    "escalation_rate": 0.1,
                    "abandonment_rate": 0.2,
                    "strategy_usage": {"technical": 0.5, "empathetic": 0.5},
                    "losses": {"value_loss": 0.1},
                }
                stream.write(json.dumps(record) + "\n")
                stream.flush()
                stop.wait(0.1)
        sleeper.terminate()

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def quit_times(
    argv: list[str],
    env: dict[str, str],
    rounds: int,
    ready: tuple[bytes, ...],
    prepare: list[tuple[bytes, bytes]],
    key: bytes = b"q",
    settle: float = 0.5,
) -> list[float]:
    """Launch, wait for ``ready``, press each ``(key, marker)`` of ``prepare``, settle, then quit; seconds each."""
    times = []
    for _ in range(rounds):
        term = Terminal(argv, env)
        try:
            term.read_until(*ready, timeout=60)
            for press, marker in prepare:
                term.press(press, marker)
            if settle:
                term.drain(settle)
            elapsed, code = term.quit(key)
            if code != 0:
                raise RuntimeError(f"{argv} exited with status {code} on {key!r}")
            times.append(elapsed)
        finally:
            term.close()
    return times


def measure_quits(tmp: Path, rounds: int, model: Path) -> list[tuple[str, list[float]]]:
    """Quit latency in each state, and a bare Textual app's for reference."""
    import shutil

    saves = tmp / "quit_saves"
    saves.mkdir()
    env = environment(saves)
    model_saves = tmp / "quit_model_saves"
    shutil.copytree(model, model_saves / "default")
    model_env = environment(model_saves)
    bare_script = tmp / "bare_quit.py"
    bare_script.write_text(BARE_APP)
    app = [sys.executable, "-m", "cs_tui"]
    first = (b"Customer", b"answer")
    rows = [
        (
            "bare Textual app (ctrl+q)",
            quit_times([sys.executable, str(bare_script)], env, rounds, (b"ready",), [], b"\x11"),
        ),
        ("cs-tui idle (q)", quit_times(app, env, rounds, first, [])),
        ("cs-tui idle (ctrl+q)", quit_times(app, env, rounds, first, [], b"\x11")),
        ("cs-tui idle, model loaded (q)", quit_times(app, model_env, rounds, (*first, b"default suggests"), [])),
        # q as soon as the first screen is up: the model is still being read in a worker thread
        ("cs-tui while the model loads (q)", quit_times(app, model_env, rounds, (*first, b"loading"), [], settle=0)),
    ]
    stop = threading.Event()
    writer = fake_training_run(saves, stop)
    try:
        follow = [(b"t", b"bench-ppo"), (b"l", b"bench-ppo")]
        rows.append(("cs-tui following a run (q)", quit_times(app, env, rounds, first, follow)))
    finally:
        stop.set()
        writer.join(timeout=5)
    # the scenario catalog (opened, it runs the heuristic; r runs it again): q while its worker plays trials
    scenarios = [(b"s", b"Urgent fraud"), (b"r", "running…".encode())]
    rows.append(
        ("cs-tui scenario run in progress (q)", quit_times(app, model_env, rounds, first, scenarios, settle=0.3))
    )
    return rows


def keys_alone_and_following(
    app_argv: list[str], env: dict[str, str], saves: Path, n_keys: int
) -> tuple[list[float], list[float]]:
    """Key latencies in the conversation pane: alone, then while the training pane follows a growing run."""
    term = Terminal(app_argv, env)
    try:
        term.read_until(b"Customer", b"answer")
        alone = key_latencies(term, n_keys)
    finally:
        term.close()
    stop = threading.Event()
    writer = fake_training_run(saves, stop)
    term = Terminal(app_argv, env)
    try:
        term.read_until(b"Customer", b"answer")
        term.press(b"t", b"bench-ppo")  # the training pane lists the run ...
        term.drain(0.5)
        term.press(b"l", b"bench-ppo")  # ... follows it live ...
        term.drain(0.5)
        term.press(b"p", b"Customer")  # ... and keeps following while we play
        following = key_latencies(term, n_keys)
    finally:
        term.close()
        stop.set()
        writer.join(timeout=5)
    return alone, following


def summary(name: str, values: list[float], goal: float | None = None) -> str:
    ms = sorted(v * 1000 for v in values)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    line = (
        f"{name:<44} median {statistics.median(ms):7.1f} ms   p95 {p95:7.1f} ms   max {ms[-1]:7.1f} ms  (n={len(ms)})"
    )
    if goal is not None:
        line += f"   goal <= {goal * 1000:.0f} ms: {'met' if statistics.median(ms) <= goal * 1000 else 'NOT met'}"
    return line


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--launches", type=int, default=5, help="launches of each app (default 5)")
    parser.add_argument("--keys", type=int, default=60, help="keys per latency run (default 60)")
    parser.add_argument("--quits", type=int, default=3, help="quits measured in each state (default 3)")
    parser.add_argument("--only", choices=("quit", "launch"), help="measure only this part")
    parser.add_argument(
        "--suggest-launches", type=int, default=3, help="launches to the default agent's suggestions (default 3)"
    )
    parser.add_argument(
        "--model",
        metavar="RUN",
        help="also measure keys against this run folder's model as the opponent (its network in the process)",
    )
    args = parser.parse_args()

    if args.only == "quit":
        with tempfile.TemporaryDirectory() as tmp:
            rows = measure_quits(Path(tmp), args.quits, Path(args.model or "saves/default"))
        print(f"quit: key to process exit, {COLS}x{ROWS} pseudo-terminal (load average {os.getloadavg()[0]:.1f})")
        for name, times in rows:
            print(summary(f"  {name}", times, goal=None if name.startswith("bare") else 0.3))
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        saves = Path(tmp) / "saves"
        saves.mkdir()
        env = environment(saves)
        bare_script = Path(tmp) / "bare_app.py"
        bare_script.write_text(BARE_APP)
        app_argv = [sys.executable, "-m", "cs_tui"]
        bare, first, app = [], [], []
        for _ in range(args.launches):  # interleaved, so all see the same machine load
            bare.append(launch_time([sys.executable, str(bare_script)], env, b"bare textual app ready"))
            first.append(launch_time(app_argv, env, b"opening the play pane"))
            app.append(launch_time(app_argv, env, b"Customer", b"answer"))
        print(f"launch to first screen, {COLS}x{ROWS} pseudo-terminal, {args.launches} launches each")
        print(
            f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; "
            "CPU time is the figure other processes' load does not move)"
        )
        print(summary("  bare Textual app (one Static), wall", [w for w, _ in bare]))
        ratio = statistics.median(w for w, _ in first) / statistics.median(w for w, _ in bare)
        print(summary("  cs-tui first frame (the title), wall", [w for w, _ in first]) + f"   {ratio:.2f}x bare")
        ratio = statistics.median(w for w, _ in app) / statistics.median(w for w, _ in bare)
        print(summary("  cs-tui play pane (a customer), wall", [w for w, _ in app], goal=0.6) + f"   {ratio:.2f}x bare")
        print(summary("  bare Textual app, CPU time", [c for _, c in bare]))
        print(summary("  cs-tui, CPU time", [c for _, c in app]))

        alone: list[float] = []
        following: list[float] = []
        if args.only != "launch":
            alone, following = keys_alone_and_following(app_argv, env, saves, args.keys)

        suggest_bare: list[float] = []
        suggest: list[float] = []
        first_answer: dict[str, list[float]] = {"numpy": [], "policy_net": [], "sb3": []}
        if args.suggest_launches and DEFAULT_AGENT.is_dir():
            import shutil

            agent_saves = Path(tmp) / "agent_saves"
            shutil.copytree(DEFAULT_AGENT, agent_saves / "default")
            agent_env = environment(agent_saves)
            model = str(agent_saves / "default" / "best.zip")
            for _ in range(args.suggest_launches):  # interleaved rounds: the same machine load for each
                suggest_bare.append(launch_time([sys.executable, str(bare_script)], env, b"bare textual app ready")[0])
                term = Terminal(app_argv, agent_env)
                try:
                    term.read_until(b"default suggests", timeout=120)
                    suggest.append(time.perf_counter() - term.started)
                finally:
                    term.close()
                for way in first_answer:
                    out = subprocess.run(
                        [sys.executable, "-c", FIRST_ANSWER, way, model], capture_output=True, text=True, check=True
                    )
                    first_answer[way].append(float(out.stdout.strip().splitlines()[-1]))

        with_model: list[float] = []
        if args.model:
            import shutil

            model_saves = Path(tmp) / "model_saves"
            shutil.copytree(args.model, model_saves / "default")  # the shipped agent's place
            term = Terminal(app_argv, environment(model_saves))
            try:
                term.read_until(b"Customer", b"answer")
                term.read_until(b"default suggests", timeout=60)  # the model loaded and answered
                with_model = key_latencies(term, args.keys)
            finally:
                term.close()

    if alone:
        print("keypress to updated screen in the conversation pane (opponent: heuristic)")
        print(summary("  alone", alone, goal=0.05))
        print(summary("  while following a training run (10 records/s)", following, goal=0.05))
    if with_model:
        print(summary(f"  opponent: the model in {args.model}", with_model, goal=0.05))
    if suggest:
        print(f"launch to the opponent's suggestions (the shipped default agent), {len(suggest)} rounds")
        print(f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
        print(summary("  bare Textual app (one Static), to first screen", suggest_bare))
        print(summary("  cs-tui, to 'default suggests'", suggest, goal=1.5))
        print(summary("  fresh interpreter, numpy (the app's way)", first_answer["numpy"]))
        print(summary("  fresh interpreter, torch's network alone", first_answer["policy_net"]))
        print(summary("  fresh interpreter, SB3's whole algorithm", first_answer["sb3"]))
    if args.only == "launch":
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        rows = measure_quits(Path(tmp), args.quits, Path(args.model or "saves/default"))
    print("quit: key to process exit")
    for name, times in rows:
        print(summary(f"  {name}", times, goal=None if name.startswith("bare") else 0.3))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
