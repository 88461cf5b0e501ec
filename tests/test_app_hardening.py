"""The app under hostile input: text from files and paths that looks like Textual markup, quick keys
that race the screens they open and close, run folders holding FIFOs, pids it cannot prove are ours."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from app_helpers import PaneApp, screen_text, toasts, wait_for, wait_for_toast

from cs_tui.app import CsTuiApp
from cs_tui.files import atomic_write_json, now_iso
from cs_tui.training.model_file.format import META_MEMBER
from cs_tui.training.run_lock import RunLock

REPO = Path(__file__).resolve().parents[1]
#: A closing tag with nothing to close, an unclosed tag, a link: each once crashed the app (MarkupError).
MARKUP = "[/] [bold [link=https://example.com]x"


def with_meta(src: Path, dst: Path, **changes: Any) -> Path:
    """A copy of the model file ``src`` whose cs_tui.json has ``changes``."""
    with zipfile.ZipFile(src) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    meta = json.loads(members[META_MEMBER])
    meta.update(changes)
    members[META_MEMBER] = json.dumps(meta).encode()
    dst.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(dst, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return dst


def run_meta(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "schema": 1, "name": name, "algorithm": "ppo", "industry": "mixed", "max_turns": 10, "seed": 0, "n_envs": 4,
        "total_timesteps": 10_000, "timesteps_done": 5000, "hyperparameters": {}, "created_at": now_iso(),
        "updated_at": now_iso(), "status": "finished", "error": None, "pid": None, "reference": None,
        "last_eval": None, "best_eval": None, **extra,
    }  # fmt: skip


@pytest.fixture
def hostile_saves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A saves folder whose path, run names, metadata and model descriptions hold markup."""
    monkeypatch.chdir(tmp_path)  # a short relative path, so the pane's title shows all of it
    saves = Path("a[") / "]b [bold"  # the path reads "a[/]b [bold"
    saves.mkdir(parents=True)
    shipped = REPO / "saves" / "default" / "best.zip"
    with_meta(shipped, saves / "default" / "best.zip", industry="[/]")  # the default opponent
    atomic_write_json(saves / "default" / "meta.json", run_meta("default", industry="[/]"))
    folder = saves / "[bold run"
    folder.mkdir()
    atomic_write_json(
        folder / "meta.json",
        run_meta("[bold run", algorithm="[/]", industry="[link=x]y", status="failed", error=f"boom {MARKUP}"),
    )
    (folder / "metrics.jsonl").write_text(json.dumps({"type": "status", "status": "failed", "message": MARKUP}) + "\n")
    good = saves / "[link=x]r"
    with_meta(shipped, good / "model.zip", run="[/]", name=MARKUP)
    atomic_write_json(good / "meta.json", run_meta(good.name, error=MARKUP))
    broken = saves / "[b"
    broken.mkdir()
    (broken / "meta.json").write_text(MARKUP)
    return saves


@pytest.mark.slow
async def test_markup_in_files_and_paths_is_shown_as_text_in_every_pane(hostile_saves: Path) -> None:
    pytest.importorskip("stable_baselines3")
    app = CsTuiApp(saves=hostile_saves)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.5)
        for key in ("t", "down", "enter", "down", "enter", "x", "u", "question_mark", "question_mark"):
            await pilot.press(key)
            await pilot.pause(0.2)
        await wait_for(pilot, lambda: "[/]" in screen_text(app))  # the path, as typed
        await pilot.press("s", "o", "escape", "question_mark", "question_mark", "m")
        await pilot.pause(1.0)
        for key in ("down", "down", "e", "down", "e", "a", "down", "b", "c"):
            await pilot.press(key)
            await pilot.pause(0.3)
        await pilot.pause(2.0)
        await pilot.press("escape", "p", "o")
        await pilot.pause(0.5)
        await pilot.press("escape", "n")
        await pilot.pause(0.3)
        await pilot.press("escape")
        for _ in range(20):  # whatever notifications, evaluations and loads were started have shown
            await pilot.pause(0.2)
        assert app.is_running
    assert app.return_code in (None, 0)


async def test_the_training_pane_titles_a_saves_path_that_looks_like_markup(hostile_saves: Path) -> None:
    from cs_tui.screens.training import TrainingScreen

    app = PaneApp(hostile_saves, TrainingScreen)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: "[bold run" in screen_text(app))
        text = screen_text(app)
        assert "a[/]b" in text.replace("\n", "")  # the path and names as they are, not eaten as tags


def started_sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])  # killed by the test


def signalled(process: subprocess.Popen[bytes]) -> bool:
    """Whether ``process`` has ended or has a signal pending: a kill shows here as soon as it is sent."""
    if process.poll() is not None:
        return True
    status = Path(f"/proc/{process.pid}/status").read_text()
    pending = [int(line.split()[1], 16) for line in status.splitlines() if line.startswith(("SigPnd:", "ShdPnd:"))]
    return any(pending)


async def test_x_does_not_signal_a_pid_it_cannot_prove_is_the_runs_trainer(tmp_path: Path) -> None:
    """meta.json can name any process, with its start token copied from /proc: x leaves it alone."""
    from cs_tui.screens.training import TrainingScreen
    from cs_tui.training.run_lock import process_token

    victim = started_sleeper()
    try:
        folder = tmp_path / "forged"
        folder.mkdir()
        RunLock(folder).acquire().release()  # a lock file no one holds: no trainer
        atomic_write_json(
            folder / "meta.json",
            run_meta("forged", status="running", pid=victim.pid, pid_token=process_token(victim.pid)),
        )
        (folder / "metrics.jsonl").touch()
        app = PaneApp(tmp_path, TrainingScreen)
        async with app.run_test(size=(100, 30), notifications=True) as pilot:
            await wait_for(pilot, lambda: "forged" in screen_text(app))
            await pilot.pause(0.3)
            await pilot.press("x")
            await wait_for(pilot, lambda: toasts(app))
            messages = " ".join(toasts(app))
            assert "not ours to stop" in messages or "not running" in messages
        assert not signalled(victim)  # still alive, nothing pending: never signalled
    finally:
        victim.kill()
        victim.wait()


async def test_x_stops_the_process_that_holds_the_runs_lock(tmp_path: Path) -> None:
    from cs_tui.screens.training import TrainingScreen

    folder = tmp_path / "real"
    folder.mkdir()
    trainer = subprocess.Popen(
        [sys.executable, "-c", "import time; from cs_tui.training.run_lock import RunLock; "
         f"RunLock({str(folder)!r}).acquire(); print('held', flush=True); time.sleep(3600)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert trainer.stdout is not None and trainer.stdout.readline().strip() == "held"
        atomic_write_json(folder / "meta.json", run_meta("real", status="running", pid=12345678))  # a wrong pid
        (folder / "metrics.jsonl").touch()
        app = PaneApp(tmp_path, TrainingScreen)
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: "real" in screen_text(app))
            await pilot.pause(0.3)
            await pilot.press("x")
            await wait_for(pilot, lambda: trainer.poll() is not None)
        assert trainer.returncode == -signal.SIGTERM  # the lock holder, whatever meta.json said
    finally:
        trainer.kill()
        trainer.wait()


async def test_u_refuses_a_run_another_process_trains(tmp_path: Path) -> None:
    from cs_tui.screens.training import TrainingScreen

    folder = tmp_path / "busy"
    folder.mkdir()
    lock = RunLock(folder).acquire()
    try:
        atomic_write_json(folder / "meta.json", run_meta("busy", status="failed"))  # says failed, but is locked
        (folder / "metrics.jsonl").touch()
        app = PaneApp(tmp_path, TrainingScreen)
        async with app.run_test(size=(100, 30), notifications=True) as pilot:
            screen = app.screen
            await wait_for(pilot, lambda: "busy" in screen_text(app))
            await pilot.pause(0.3)
            await pilot.press("u")
            await wait_for(pilot, lambda: toasts(app))
            await wait_for_toast(pilot, "being trained by another process")
            assert not getattr(screen, "launched", {})
    finally:
        lock.release()


async def test_a_fifo_named_meta_json_does_not_freeze_the_app(tmp_path: Path) -> None:
    """Reading it blocked the UI thread forever; now it is refused as not a regular file."""
    from cs_tui.screens.models import ModelsScreen
    from cs_tui.screens.training import TrainingScreen

    for name in ("fifo-run", "fifo-model"):
        (tmp_path / name).mkdir()
        os.mkfifo(tmp_path / name / "meta.json")
    os.mkfifo(tmp_path / "fifo-model" / "model.zip")
    from cs_tui.screens.help import HelpScreen

    for pane in (TrainingScreen, ModelsScreen):
        app = PaneApp(tmp_path, pane)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause(1.0)
            await pilot.press("down", "enter", "e")
            await pilot.pause(0.5)
            app.push_screen(HelpScreen(app.screen, "x"))  # the UI thread still answers
            await pilot.pause(0.3)
            assert isinstance(app.screen, HelpScreen)


def test_scripted_fifos_are_left_unread(tmp_path: Path) -> None:
    """No reader of a run folder opens a FIFO (nothing here would return)."""
    from cs_tui.files import FileFormatError, read_json
    from cs_tui.training.run_record import RunError
    from cs_tui.training.runs import Run

    os.mkfifo(tmp_path / "meta.json")
    with pytest.raises(FileFormatError, match="not a regular file"):
        read_json(tmp_path / "meta.json")
    with pytest.raises(RunError, match="not a regular file"):
        _ = Run(tmp_path).meta


#: Key sequences typed faster than the screens they open and close (each crashed the app, exit 1).
FAST_KEYS = {
    "palette: Go, enter enter": ["ctrl+p", "G", "o", "enter", "enter"],
    "palette: enter enter enter": ["ctrl+p", "enter", "enter", "enter"],
    "new conversation dialog twice": ["n", "n", "enter", "enter", "escape", "escape"],
    "opponent dialog: enter enter": ["o", "enter", "enter", "escape", "escape"],
    "help three times": ["question_mark", "question_mark", "question_mark", "escape", "escape"],
    "models: mark, compare twice": ["m", "a", "b", "c", "c", "escape", "escape"],
    "training form twice": ["t", "n", "n", "escape", "escape"],
    "opponent dialog: pageup before it is laid out": ["o", "pageup", "pagedown", "pageup", "escape"],
}


def typed(app: Any, keys: list[str]) -> None:
    """Post every key at once, as a fast typist (or a terminal's paste) delivers them."""
    from textual import events

    for key in keys:
        app.post_message(events.Key(key, {"question_mark": "?"}.get(key, key if len(key) == 1 else None)))


@pytest.mark.parametrize("keys", FAST_KEYS.values(), ids=FAST_KEYS.keys())
async def test_keys_typed_faster_than_the_screens_never_crash_the_app(keys: list[str]) -> None:
    app = CsTuiApp(saves=REPO / "saves")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.5)
        typed(app, keys)
        typed(app, keys)  # twice: the second lands on whatever the first left open
        for _ in range(30):
            await pilot.pause(0.1)
        assert app.is_running and app.screen_stack  # a pane is still on screen
        for _ in range(4):
            await pilot.press("escape")
        await pilot.pause(0.5)


@pytest.mark.parametrize("key", ["pageup", "pagedown"])
async def test_paging_a_dialogs_list_that_has_no_room_yet_is_harmless(key: str, tmp_path: Path) -> None:
    """A list not laid out yet (zero lines high, as in a dialog squeezed by a tiny terminal, or before
    its first layout) once turned pageup into a KeyError that closed the app."""
    from textual.widgets import OptionList

    from cs_tui.screens.play_dialogs import ChoiceDialog

    app = CsTuiApp(saves=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(ChoiceDialog("Opponent", [(f"run{i}", f"run {i}") for i in range(20)], current="run7", hint=""))
        await wait_for(pilot, lambda: isinstance(app.screen, ChoiceDialog) and app.screen.query(OptionList))
        options = app.screen.query_one(OptionList)
        options.styles.height = options.styles.max_height = 0  # squeezed
        options.styles.border = ("none", "black")
        await pilot.pause(0.2)
        assert options.has_focus and options.highlighted == 7 and options.size.height == 0
        await pilot.press(key, key)
        await pilot.pause(0.1)
        assert app.is_running and isinstance(app.screen, ChoiceDialog)
        assert options.highlighted == 7  # nothing to page through: the highlight stays
        # once the list has room, paging works as before
        options.styles.height = 8
        options.styles.max_height = 8
        await pilot.pause(0.2)
        await pilot.press("pageup" if key == "pageup" else "pagedown")
        await pilot.pause(0.1)
        assert options.highlighted == (0 if key == "pageup" else 15)


#: (size at start, size once the dropdown is open): the documented minimum, and a wide terminal narrowed
DROPDOWN_SIZES = {"40x12": ((40, 12), None), "80x24 then 42 columns": ((80, 24), (42, 24)), "20x8": ((20, 8), None)}


@pytest.mark.parametrize(("size", "resize"), DROPDOWN_SIZES.values(), ids=DROPDOWN_SIZES.keys())
async def test_an_open_dropdown_on_a_small_terminal_does_not_crash_the_app(
    size: tuple[int, int], resize: tuple[int, int] | None, tmp_path: Path
) -> None:
    """Scenarios, o, Down opens the policy picker, squeezed to a cell or two at 40 columns: Textual's
    OptionList then wrapped its options at a width of 0 (ValueError) and the app closed."""
    from textual.widgets import Select

    app = CsTuiApp(saves=tmp_path)
    async with app.run_test(size=size) as pilot:
        await pilot.press("s")
        await wait_for(pilot, lambda: app.current_mode == "scenarios" and app.screen.query("#policy"))
        await pilot.press("o", "down")
        select = app.screen.query_one("#policy", Select)
        await wait_for(pilot, lambda: select.expanded)
        if resize is not None:
            await pilot.resize_terminal(*resize)
        await pilot.pause(0.3)
        assert app.is_running
        # the open list is readable: the options' names are on screen
        assert "baseline:random" in screen_text(app)
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: not select.expanded)
        assert app.is_running and select.value != Select.BLANK


def test_a_pane_says_what_its_host_app_lacks() -> None:
    from textual.app import App

    from cs_tui.app import CsTuiApp
    from cs_tui.screens.pane import AppSettings, host_of

    with pytest.raises(TypeError, match=r"App cannot host a cs-tui pane: it needs \.saves and \.settings"):
        host_of(App())
    app = CsTuiApp(saves="somewhere", settings=AppSettings(industry="tech"))
    assert host_of(app).settings.industry == "tech" and host_of(app).saves.name == "somewhere"
