"""Quitting gives the shell back at once, in a real pseudo-terminal, with what the app keeps written first."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ANSI = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\x1b[=>]")
SAVES = Path(__file__).parent.parent / "saves"

#: run before the app, and before any process that loads a model: the loader says it started (its pid in
#: the file MARKER names), then never ends (a hung disk): only an exit that does not wait for the load ends
#: the app, however busy the machine. CS_TUI_TEST_HANG names the loader that hangs: "numpy" (the app's own,
#: in a thread) or "torch" (the numpy loader leaves the file to torch, whose process then hangs)
SLOW_LOAD = """
import os, threading

def hang(*args, **kwargs):
    with open(os.environ["CS_TUI_TEST_MARKER"], "w") as marker:
        marker.write(str(os.getpid()))
    threading.Event().wait()

if os.environ.get("CS_TUI_TEST_HANG") == "numpy":
    import cs_tui.training.numpy_policy as numpy_policy
    numpy_policy.load_numpy_policy = hang
else:
    import cs_tui.training.numpy_policy as numpy_policy
    import cs_tui.training.policy_net as policy_net
    from cs_tui.training.model_file.torch_zip import Unsupported

    def only_torch(*args, **kwargs):
        raise Unsupported("the test leaves every file to torch")

    numpy_policy.load_numpy_policy = only_torch
    policy_net.load_policy_net = hang
"""


class App:
    """``python -m cs_tui`` in an 80 x 24 pseudo-terminal."""

    def __init__(self, saves: Path, extra_path: Path | None = None, **extra_env: str) -> None:
        env = dict(os.environ, TERM="xterm-256color", CS_TUI_SAVES=str(saves), COLUMNS="80", LINES="24", **extra_env)
        if extra_path is not None:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(extra_path), env.get("PYTHONPATH")]))
        pid, fd = pty.fork()
        if pid == 0:
            os.execve(sys.executable, [sys.executable, "-m", "cs_tui"], env)
        self.pid, self.fd, self.raw = pid, fd, b""

    def wait_for(self, marker: bytes, timeout: float = 120) -> None:
        end = time.monotonic() + timeout
        while marker not in ANSI.sub(b"", self.raw):
            assert time.monotonic() < end, f"no {marker!r} on screen: {ANSI.sub(b'', self.raw)[-500:]!r}"
            self._read(0.1)

    def _read(self, wait: float) -> None:
        if select.select([self.fd], [], [], wait)[0]:
            try:
                self.raw += os.read(self.fd, 65536)
            except OSError:  # the program closed the terminal
                time.sleep(wait)

    def press(self, key: bytes) -> None:
        os.write(self.fd, key)

    def exit_status(self, within: float) -> int | None:
        """The exit status once the process has ended, or None if it still runs after ``within`` seconds."""
        end = time.monotonic() + within
        while time.monotonic() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self._drain()  # what it wrote last (the terminal's restore) may still wait in the pty
                return os.waitstatus_to_exitcode(status)
            self._read(0.05)
        return None

    def _drain(self) -> None:
        """Read what the ended program left in the terminal, up to its end (EOF, or EIO on Linux)."""
        while select.select([self.fd], [], [], 0)[0]:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.raw += chunk

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(self.fd)


@pytest.fixture
def model_saves(tmp_path: Path) -> Path:
    saves = tmp_path / "saves"
    shutil.copytree(SAVES / "default", saves / "default")
    return saves


@pytest.mark.parametrize("loader", ["numpy", "torch"])
def test_q_while_a_model_loads_exits_without_waiting_for_the_load(
    loader: str, model_saves: Path, tmp_path: Path
) -> None:
    """Importing torch holds the interpreter lock for up to a second at a stretch: in the app's process it
    kept q waiting (430-955 ms in 4 of 14 tries). A model loads with numpy in a thread of the app, or, for
    what numpy does not run, with torch in a process of its own: the app never maps torch, and quits while
    either load is still in flight."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SLOW_LOAD)
    marker = tmp_path / "loading"
    app = App(model_saves, hook, CS_TUI_TEST_MARKER=str(marker), CS_TUI_TEST_HANG=loader)
    pid = 0
    try:
        app.wait_for(b"loading default")
        end = time.monotonic() + 120
        while not marker.is_file() or not marker.read_text():
            assert time.monotonic() < end, "the model's loader never started"
            app._read(0.1)
        pid = int(marker.read_text())
        # numpy loads in the app's process; torch in a process of its own ...
        assert (pid == app.pid) == (loader == "numpy")
        maps = Path(f"/proc/{app.pid}/maps").read_text()
        assert "libtorch" not in maps and "torch/_C" not in maps  # ... and torch never enters the app's
        app.press(b"q")
        # the load never ends: an exit that waited for it would never be over (120 s only bounds a hang)
        assert app.exit_status(within=120) == 0
        assert b"\x1b[?1049l" in app.raw  # the terminal left the app's screen: restored
    finally:
        app.kill()
        if pid and pid != app.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_ctrl_q_quits_and_a_finished_conversation_is_recorded_first(tmp_path: Path) -> None:
    saves = tmp_path / "saves"
    saves.mkdir()
    app = App(saves)  # no default model: the heuristic opponent, no torch
    try:
        app.wait_for(b"answer")
        app.press(b"3")  # escalate: the conversation ends at once
        app.wait_for(b"ESCALATED")
        app.press(b"\x11")  # ctrl+q, Textual's quit key, right away
        assert app.exit_status(within=120) == 0
    finally:
        app.kill()
    (record,) = (saves / "episodes").glob("*.json")
    episode = json.loads(record.read_text())
    assert episode["human"]["actions"] == [2]


async def test_cs_tui_draws_its_title_first_then_opens_the_play_pane_by_itself(tmp_path: Path) -> None:
    """The first frame waits for Textual only: the play pane (numpy, Gymnasium, the env, the industry
    files) comes right after it (benchmarks/app_latency.py measures both beside a bare Textual app)."""
    from app_helpers import screen_text, wait_for

    from cs_tui.app import OpeningApp, StartScreen
    from cs_tui.screens.play import PlayScreen

    app = OpeningApp(saves=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        assert isinstance(app.screen, StartScreen) and app.current_mode == "start"
        assert "opening the play pane" in screen_text(app)
        await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen))  # no key pressed
        await wait_for(pilot, lambda: "Customer (" in screen_text(app))
        assert app.industry_problem is None and app.current_mode == "play"


def test_what_runs_before_the_first_frame_loads_no_numpy_nor_gymnasium() -> None:
    """`cs-tui [--saves DIR]` reads its options without the commands' parsers (which import the env for
    their choices) and builds the app from Textual alone: numpy and Gymnasium load after the first frame."""
    code = """
import sys
from cs_tui.cli import _app_saves
assert _app_saves(["--saves", "here"]) == (True, "here") and _app_saves([]) == (True, None)
assert _app_saves(["train", "--help"])[0] is False and _app_saves(["--bogus"])[0] is False
from cs_tui.app import OpeningApp
OpeningApp(saves="here")
print(sorted(m for m in ("numpy", "gymnasium", "cs_env", "torch") if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
