"""Campaign 5, the app: random keys across every pane and dialog, random resizes, with work going on.

Even trials open the app on a saves folder holding the shipped default agent and a real ``cs-tui train``
process training into it; odd trials on an empty saves folder (no runs, no studies: the tuning view's
empty table). Both hold hostile files where the app reads them: recordings of ``[`` × 100,000, a FIFO and
a 2 MB file in ``episodes/``, and a FIFO as the settings file (``$XDG_CONFIG_HOME``). The Scenarios pane
starts a catalog run first. Then seeded random keys (every key any pane, dialog or the command palette
binds, plus typing, never ``q``/ctrl+q/ctrl+c), now and then a scripted move into a state random keys
rarely reach (a ``Select`` dropdown open, the tuning view), and a resize to a random size from 20x8 to
250x80 (half of them small, up to 60x24, some while a dropdown is open). The promises: no exception
escapes (the app would exit with it), and afterwards ``q`` still quits. Runs the app's ``n`` form starts
are capped to a few thousand steps (the campaign must not load the machine), by rewriting the
``--timesteps`` the pane passes to ``cs-tui train``.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

from textual.widgets import Select

from campaigns.common import REPO, TINY, cs_tui

KEYS = [
    *"12345678", "enter", "escape", "tab", "shift+tab", "up", "down", "left", "right", "pageup", "pagedown",
    "home", "end", "space", "backspace", "delete", *"ptsm", *"nobrvefacluxd", "ctrl+s", "ctrl+p",
    "question_mark", *"Go9-", "ctrl+a", "ctrl+e", "ctrl+k", "y",
]  # fmt: skip
#: keys pressed more often: the pane keys and the dialogs' openers, so every pane and dialog is visited
WEIGHTS = {k: 4 for k in ["p", "t", "s", "m", "n", "o", "r", "enter", "escape", "ctrl+p", "question_mark", "e"]}
RESIZE_EVERY = 100  # keys between resizes, on average
#: scripted moves into states random keys rarely reach: a dropdown open (the policy Select of the
#: Scenarios pane, the industry Select of the training form), the tuning view on whatever table it has
MOVES = [
    ["escape", "escape", "s", "o", "down"],
    ["escape", "escape", "s", "o", "enter"],
    ["escape", "escape", "t", "y", "tab", "up"],
    ["escape", "escape", "t", "y", "down", "enter"],
    ["escape", "escape", "t", "n", "tab", "enter"],
    ["escape", "escape", "m", "tab", "enter"],
]
MOVE_CHANCE = 0.06  # per burst of keys
SMALL = ((20, 60), (8, 24))  # the small sizes half the resizes are drawn from


def plant_hostile_files(saves: Path, config: Path) -> None:
    """Recordings the play pane lists on ``r`` and a settings file the app reads at start, all hostile."""
    episodes = saves / "episodes"
    episodes.mkdir(parents=True, exist_ok=True)
    (episodes / "20990101-000000-bfsi-seed1.json").write_bytes(b"[" * 100_000)
    os.mkfifo(episodes / "20990101-000001-bfsi-seed2.json")
    (episodes / "20990101-000002-bfsi-seed3.json").write_bytes(b'{"seed": "' + b"x" * (2 << 20) + b'"}')
    (episodes / "20990101-000003-bfsi-seed4.json").write_text('{"seed": 1' + "0" * 400 + "}")
    (config / "cs-tui").mkdir(parents=True, exist_ok=True)
    os.mkfifo(config / "cs-tui" / "settings.json")


def _capped(launch: Any) -> Any:
    def launch_small(self: Any, name: str, argv: list[str]) -> Any:
        argv = list(argv)
        if "--timesteps" in argv:
            i = argv.index("--timesteps") + 1
            argv[i] = str(min(int(argv[i]), 4096))
        if "--resume" not in argv:
            argv += [a for a in TINY if a != "--quiet"]
        return launch(self, name, argv)

    return launch_small


#: every process the app launched in a trial (runs from the training pane, studies from the tuning view):
#: they run in sessions of their own, so the trial ends them itself before its folder is removed
STARTED: list[subprocess.Popen[Any]] = []


def _recorded(launch: Any) -> Any:
    def launch_recorded(*args: Any, **kwargs: Any) -> Any:
        launched = launch(*args, **kwargs)
        STARTED.append(launched.process)
        return launched

    return launch_recorded


def _kill(proc: subprocess.Popen[Any]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()
    proc.wait()


async def drive(seed: int, saves: Path, keys: int, resizes: int) -> list[str]:
    from cs_tui.app import AppSettings, CsTuiApp
    from cs_tui.screens import training

    rng = random.Random(seed)
    from cs_tui import launcher

    original, original_launch = training.TrainingScreen._launch, launcher.launch
    training.TrainingScreen._launch = _capped(original)  # type: ignore[method-assign]
    launcher.launch = _recorded(original_launch)
    app = CsTuiApp(saves=saves, settings=AppSettings(seed=seed))
    problems: list[str] = []
    pressed: list[str] = []
    weights = [WEIGHTS.get(k, 1) for k in KEYS]
    resize_at = sorted(rng.sample(range(keys), min(resizes, keys)))
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("s", "r")  # a scenario run going
            await pilot.pause(0.1)
            await pilot.press("t", "l")  # follow the live training run
            i = 0
            while i < keys:
                while resize_at and resize_at[0] <= i:
                    resize_at.pop(0)
                    (w0, w1), (h0, h1) = SMALL if rng.random() < 0.5 else ((20, 250), (8, 80))
                    size = (rng.randint(w0, w1), rng.randint(h0, h1))
                    pressed.append(f"resize{size}")
                    await pilot.resize_terminal(*size)
                # bursts of keys, as fast as a person mashing them (a dialog may still be opening)
                if rng.random() < MOVE_CHANCE:
                    burst = rng.choice(MOVES)[: keys - i]
                else:
                    burst = rng.choices(KEYS, weights, k=min(rng.randint(1, 8), keys - i))
                pressed.extend(burst)
                await pilot.press(*burst)
                i += len(burst)
                if app._exception is not None or not app.is_running:
                    break
            await pilot.pause(0.2)
            if app._exception is None and app.is_running:
                # q quits from anywhere a person can be: close dialogs and an open dropdown first, as a
                # person would (an open Select takes q as a letter to search its options by)
                for _ in range(6):
                    if len(app.screen_stack) <= 1 and not any(s.expanded for s in app.screen.query(Select)):
                        break
                    await pilot.press("escape")
                await pilot.press("q")
                await pilot.pause(0.5)
                if app.is_running:
                    focused = type(app.focused).__name__ if app.focused is not None else "nothing"
                    screen = type(app.screen).__name__
                    problems.append(f"the app did not quit on q (screen {screen}, {focused} focused)")
    except Exception as exc:
        problems.append(f"{type(exc).__name__}: {str(exc)[:300]}")
    finally:
        training.TrainingScreen._launch = original  # type: ignore[method-assign]
        launcher.launch = original_launch
    if app._exception is not None and not problems:
        problems.append(f"{type(app._exception).__name__}: {app._exception}")
    if problems:
        keys_pressed = sum(not p.startswith("resize") for p in pressed)
        problems.append(f"after {keys_pressed} keys; last keys: {' '.join(pressed[-12:])}")
    return problems


def trial(seed: int, workdir: Path, keys: int = 1000, resizes: int = 10) -> str | None:
    saves, config = workdir / "saves", workdir / "config"
    plant_hostile_files(saves, config)
    trainer = None
    if seed % 2 == 0:  # odd trials: an empty saves folder (no runs, no studies, no default agent)
        shutil.copytree(REPO / "saves" / "default", saves / "default")
        trainer = cs_tui(
            "--saves", str(saves), "train", "--name", "live", "--timesteps", "100000", "--eval-every", "2000",
            *TINY, start_new_session=True,
        )  # fmt: skip
    config_before = os.environ.get("XDG_CONFIG_HOME")
    os.environ["XDG_CONFIG_HOME"] = str(config)  # the app reads its settings file from here
    try:
        problems = asyncio.run(drive(seed, saves, keys, resizes))
    finally:
        if config_before is None:
            os.environ.pop("XDG_CONFIG_HOME", None)
        else:
            os.environ["XDG_CONFIG_HOME"] = config_before
        for proc in [p for p in (trainer, *STARTED) if p is not None]:
            _kill(proc)
        STARTED.clear()
    return "; ".join(problems) or None
