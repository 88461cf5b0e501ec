"""Recordings and the settings file under hostile content: ``[`` × 100,000, a FIFO, a huge file. The app
lists them as unreadable, says why it cannot replay one, starts with the default theme, and never
crashes or freezes (issue 30 item 6)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from app_helpers import screen_text, wait_for
from textual.widgets import OptionList

from cs_tui.app import AppSettings, CsTuiApp, read_saved
from cs_tui.play_session import RECORDING_LIMIT, RecordError, read_recording
from cs_tui.screens.play import PlayScreen
from cs_tui.screens.play_dialogs import ChoiceDialog, recording_label
from cs_tui.screens.play_phase import Phase

DEEP = b"[" * 100_000


def hostile(folder: Path, name: str) -> Path:
    """A hostile file ``name`` in ``folder``: ``deep`` (RecursionError), ``fifo`` (a blocking open),
    ``huge`` (past the read limit), ``wide`` (a 400-digit return)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"20260101-00000{'dfhw'.index(name[0])}-bfsi-{name}.json"
    if name == "deep":
        path.write_bytes(DEEP)
    elif name == "fifo":
        os.mkfifo(path)
    elif name == "huge":
        path.write_bytes(b'{"seed": 1, "pad": "' + b"x" * RECORDING_LIMIT + b'"}')
    else:
        record = {"created_at": "2026-01-01T00:00:00", "seed": 1, "customer": {"inquiry": 5}}
        record["human"] = {"outcome": "resolved", "return": 10**400}
        path.write_text(json.dumps(record))
    return path


def in_a_thread(call: object, ceiling: float = 120.0) -> list[object]:
    """``call()``'s result, run in a thread: fails if it is still waiting after a generous ceiling."""
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(call()), daemon=True)  # type: ignore[operator]
    thread.start()
    thread.join(ceiling)
    assert not thread.is_alive(), f"still waiting after {ceiling:.0f} s (a FIFO read blocks forever)"
    return result


@pytest.mark.parametrize("name", ["deep", "fifo", "huge", "wide"])
def test_a_hostile_recording_is_listed_as_unreadable_and_refused_with_the_reason(tmp_path: Path, name: str) -> None:
    path = hostile(tmp_path, name)
    assert in_a_thread(lambda: recording_label(path)) == [f"{path.stem}  (unreadable)"]

    def refused() -> str:
        try:
            read_recording(path)
        except RecordError as exc:
            return str(exc)
        return "accepted"

    (message,) = in_a_thread(refused)
    assert isinstance(message, str) and message.startswith(f"{path.name}: cannot replay this recording")
    reason = {"deep": "nested more than", "fifo": "FIFO", "huge": "allowed", "wide": "no 'env' field"}[name]
    assert reason in message and "\n" not in message


async def test_r_lists_hostile_recordings_and_each_is_a_notification_not_a_crash(tmp_path: Path) -> None:
    episodes = tmp_path / "episodes"
    paths = [hostile(episodes, name) for name in ("deep", "fifo", "huge", "wide")]
    app = CsTuiApp(saves=tmp_path, settings=AppSettings(opponent="baseline:heuristic", seed=0))
    told: list[str] = []
    shown = app.notify
    app.notify = lambda message, **kw: (told.append(message), shown(message, **kw))[1]  # type: ignore[method-assign]
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, PlayScreen) and "turn 0/10" in screen_text(app))
        play = app.screen
        await pilot.press("r", "down", "enter")  # mid-conversation, r asks to leave the customer first
        await wait_for(pilot, lambda: play.phase is Phase.REVIEWING)  # (the conversation left is recorded too)
        for path in paths:
            await pilot.press("r")
            await wait_for(pilot, lambda: isinstance(app.screen, ChoiceDialog), timeout=60)
            options = app.screen.query_one(OptionList)
            labels = [str(options.get_option_at_index(k).prompt) for k in range(options.option_count)]
            assert f"{path.stem}  (unreadable)" in labels  # every hostile file listed, each as unreadable
            assert all(f"{p.stem}  (unreadable)" in labels for p in paths)
            options.highlighted = labels.index(f"{path.stem}  (unreadable)")
            await pilot.press("enter")
            await wait_for(pilot, lambda path=path: any(path.name in m for m in told), timeout=60)  # type: ignore[misc]
            reason = {"deep": "nested more than", "fifo": "FIFO", "huge": "allowed", "wide": "no 'env' field"}
            assert reason[path.stem.rsplit("-", 1)[1]] in told[-1]
            assert app.screen is play and play.phase is Phase.REVIEWING  # what was shown stays
        await pilot.press("enter", "1")  # and the UI thread still answers: the next customer is played
        await wait_for(pilot, lambda: "You [empathetic]" in screen_text(app))


@pytest.mark.parametrize("name", ["deep", "fifo", "huge"])
def test_a_hostile_settings_file_reads_as_no_saved_theme(tmp_path: Path, name: str) -> None:
    path = hostile(tmp_path, name)
    assert in_a_thread(lambda: read_saved(path)) == [{}]


async def test_a_fifo_settings_file_does_not_hang_start_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config"
    (config / "cs-tui").mkdir(parents=True)
    os.mkfifo(config / "cs-tui" / "settings.json")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))

    def start() -> str:
        import asyncio

        async def run() -> str:
            app = CsTuiApp(saves=tmp_path / "saves", settings=AppSettings(opponent="baseline:random", seed=0))
            async with app.run_test(size=(80, 24)) as pilot:
                await wait_for(pilot, lambda: "turn 0/10" in screen_text(app), timeout=60)
                return app.theme

        return asyncio.run(run())

    assert in_a_thread(start) == ["textual-dark"]  # the default theme, and the play pane showing
