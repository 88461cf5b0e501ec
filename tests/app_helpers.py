"""Helpers for the app's Pilot tests: a host for one pane, waiting on the app, what the screen says."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from textual.app import App
from textual.screen import Screen
from textual.widgets import Static

from cs_tui.screens.pane import AppSettings


class PaneApp(App[None]):
    """The smallest host for one pane: what the real app gives its screens (the saves folder, the settings)."""

    def __init__(self, saves: Path, pane: Callable[[], Screen[Any]]) -> None:
        super().__init__()
        self.saves = saves
        self.settings = AppSettings()
        self.pane = pane

    def on_mount(self) -> None:
        self.push_screen(self.pane())


async def wait_for(pilot: Any, predicate: Callable[[], Any], timeout: float = 120.0) -> None:
    """Let the app run (timers, workers) until ``predicate()`` holds.

    ``timeout`` only bounds a hang: a busy machine may take many times longer than a quiet one, so it is
    never a claim about speed (a test waits for a state, never for a duration)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the app")
        await pilot.pause(0.05)


def shown(widget: Static) -> str:
    """What a Static widget shows, as plain text."""
    console = Console(width=200, file=io.StringIO(), record=True)
    console.print(widget.content)
    return console.export_text()


def toasts(app: Any) -> list[str]:
    """The notifications on screen now, each as its toast reads (title, then message), unwrapped.

    What the user sees, through public API only: the toasts are widgets of the screen (Textual names their
    type ``Toast``), and a widget's ``render()`` is what it draws. A toast is gone once its timeout passed.
    Textual shows none in a test unless asked: ``app.run_test(..., notifications=True)``.
    """
    return [str(toast.render()) for toast in app.screen.query("Toast")]


async def wait_for_toast(pilot: Any, *parts: str, timeout: float = 15.0) -> str:
    """Wait until a notification that contains every one of ``parts`` is on screen; its text."""
    found: list[str] = []

    def shown_now() -> bool:
        found[:] = [t for t in toasts(pilot.app) if all(part in t for part in parts)]
        return bool(found)

    await wait_for(pilot, shown_now, timeout)
    return found[0]


def screen_text(app: Any) -> str:
    """The current screen as the user reads it (plain text, one line per row)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True, record=True)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()
