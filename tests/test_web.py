"""`cs-tui web`: the app in headless Chromium — the play pane shows, a key plays a turn; a screenshot is kept.

Chromium is driven over its DevTools protocol (a WebSocket), with no browser-automation library: launch it
headless, open the page, wait for the app's first bytes, press a key, and read the result where the app
writes it (a finished conversation is recorded under saves/episodes/).
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CEILING_S = 120.0
TOKEN = "a-browser-token-long-enough"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(predicate: Any, what: str) -> Any:
    deadline = time.monotonic() + CEILING_S
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.1)
    return value


class DevTools:
    """The few DevTools protocol calls the test needs, on one page."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws, self.ids = ws, itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self.ids)
        self.ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.ws.recv(timeout=CEILING_S))
            if reply.get("id") == call_id:
                assert "error" not in reply, reply
                return dict(reply.get("result", {}))

    def evaluate(self, expression: str) -> Any:
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def press(self, key: str) -> None:
        for kind in ("keyDown", "char", "keyUp"):
            self.call("Input.dispatchKeyEvent", type=kind, text=key if kind != "keyUp" else "", key=key)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[DevTools]:
    assert CHROMIUM is not None, "the browser test needs Debian's chromium: ./dev test installs it"
    profile = tmp_path / "chromium-profile"
    flags = ["--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0"]
    process = subprocess.Popen(
        [str(CHROMIUM), *flags, f"--user-data-dir={profile}", "--window-size=1280,800", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        port = _wait_for(lambda: port_file.exists() and port_file.read_text().split("\n")[0], "chromium starts")
        pages = httpx.get(f"http://127.0.0.1:{port}/json/list").json()
        page = next(p for p in pages if p["type"] == "page")
        with connect(page["webSocketDebuggerUrl"], max_size=2**26) as ws:
            yield DevTools(ws)
    finally:
        process.kill()
        process.wait()


@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    saves = tmp_path / "saves"
    saves.mkdir()
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cs_tui", "--saves", str(saves), "web", "--port", str(port), "--token", TOKEN],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(url).status_code == 401
        except httpx.TransportError:
            assert process.poll() is None, "cs-tui web exited"
            return False

    try:
        _wait_for(up, "cs-tui web answers")
        yield url, saves
    finally:
        process.terminate()
        process.wait()


def test_the_app_plays_in_a_browser(browser: DevTools, web: tuple[str, Path], tmp_path: Path) -> None:
    url, saves = web
    assert httpx.get(url).status_code == 401  # no token, no app
    browser.call("Page.enable")
    browser.call("Page.navigate", url=f"{url}/?token={TOKEN}")
    _wait_for(lambda: browser.evaluate("document.body.classList.contains('-first-byte')"), "the app draws")
    # the play pane opens first and waits for an answer: 3 is escalate, which ends the conversation in one turn
    # focus the terminal's keyboard input (a click could land on the title bar's command palette icon)
    browser.evaluate("document.querySelector('.xterm-helper-textarea').focus()")
    recordings = saves / "episodes"

    def played() -> list[Path]:
        browser.press("3")
        return sorted(recordings.glob("*.json")) if recordings.is_dir() else []

    recorded = _wait_for(played, "a key plays a turn (the finished conversation is recorded)")
    record = json.loads(recorded[0].read_text())
    assert record["human"]["strategies"][0] == "escalate"
    shot = base64.b64decode(browser.call("Page.captureScreenshot", format="png")["data"])
    assert shot.startswith(b"\x89PNG")
    (tmp_path / "cs-tui-web.png").write_bytes(shot)


def test_binding_beyond_loopback_requires_a_token(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.cli_helpers import run_cli

    monkeypatch.delenv("CS_TUI_TOKEN", raising=False)
    code, err = run_cli(capsys, "web", "--host", "0.0.0.0")
    assert code == 2 and "token" in err
