"""Quitting gives the shell back at once, in a real pseudo-terminal, with what the app keeps written first."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import signal
import sys
import time
from pathlib import Path

import pytest

ANSI = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\x1b[=>]")
SAVES = Path(__file__).parent.parent / "saves"

#: run before the app: loading any model never ends (a hung disk): only an exit that does not wait for
#: the load ends the process, however busy the machine
SLOW_LOAD = """
import threading
import cs_tui.agents as agents
def load_agent(*args, **kwargs):
    threading.Event().wait()
agents.load_agent = load_agent
"""


class App:
    """``python -m cs_tui`` in an 80 x 24 pseudo-terminal."""

    def __init__(self, saves: Path, extra_path: Path | None = None) -> None:
        env = dict(os.environ, TERM="xterm-256color", CS_TUI_SAVES=str(saves), COLUMNS="80", LINES="24")
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
                return os.waitstatus_to_exitcode(status)
            self._read(0.05)
        return None

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


def test_q_while_a_model_loads_exits_without_waiting_for_the_load(model_saves: Path, tmp_path: Path) -> None:
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SLOW_LOAD)
    app = App(model_saves, hook)
    try:
        app.wait_for(b"loading default")
        app.press(b"q")
        # the load never ends: an exit that waited for it (as asyncio.run's would) would never be over
        assert app.exit_status(within=120) == 0
        assert b"\x1b[?1049l" in app.raw  # the terminal left the app's screen: restored
    finally:
        app.kill()


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
