"""The cs-tui app: four panes (play, training, scenarios, models) as Textual modes.

The app only wires things together: each pane is a screen that owns its widgets and handlers and gets
the saves folder and the settings from the app, typed (``PaneScreen.saves`` and ``.settings``, see
:mod:`cs_tui.screens.pane`). Panes are imported when first shown, so opening the app stays fast and
never imports torch or stable-baselines3.

Pane keys (``p``, ``t``, ``s``, ``m``) are app bindings: screens should not bind those letters.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import ClassVar

from textual import events
from textual.app import App, SystemCommand
from textual.await_complete import AwaitComplete
from textual.binding import Binding, BindingType
from textual.dom import DOMNode
from textual.driver import Driver
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.theme import Theme

from cs_tui import textual_patches
from cs_tui.screens.pane import AppSettings
from cs_tui.training.runs import saves_dir

textual_patches.apply()

#: mode name -> (module, class, title): the four panes.
PANES: dict[str, tuple[str, str, str]] = {
    "play": ("cs_tui.screens.play", "PlayScreen", "Play"),
    "training": ("cs_tui.screens.training", "TrainingScreen", "Training"),
    "scenarios": ("cs_tui.screens.scenarios", "ScenariosScreen", "Scenarios"),
    "models": ("cs_tui.screens.models", "ModelsScreen", "Models"),
}

PANES_GROUP = Binding.Group("panes", compact=True)


def settings_path() -> Path:
    """Where the user's choices (the theme) are kept: ``$XDG_CONFIG_HOME/cs-tui/settings.json``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "cs-tui" / "settings.json"


#: The largest settings file read: it holds a theme's name.
SETTINGS_LIMIT = 64 << 10


def read_saved_theme(path: Path) -> str | None:
    """The theme saved in ``path``, or None (no file, or one that cannot be read: the default then).

    Read at start-up on the UI thread, so it must never wait: ``cs_env.files`` refuses a FIFO, a device
    or a socket without blocking and a file over :data:`SETTINGS_LIMIT` before reading it.
    """
    from cs_env.files import load_json

    try:
        saved = load_json(path, SETTINGS_LIMIT)
    except (OSError, ValueError):
        return None
    theme = saved.get("theme") if isinstance(saved, dict) else None
    return theme if isinstance(theme, str) else None


def _lazy_screen(mode: str) -> Callable[[], Screen[None]]:
    module_name, class_name, _ = PANES[mode]

    def make() -> Screen[None]:
        screen_class = getattr(importlib.import_module(module_name), class_name)
        screen: Screen[None] = screen_class()
        return screen

    return make


class CsTuiApp(App[int]):
    """The terminal app over the simulator: play against an agent, train, test scenarios, compare models."""

    CSS_PATH = "app.tcss"
    TITLE = "cs-tui"
    MODES: ClassVar[dict[str, str | Callable[[], Screen]]] = {mode: _lazy_screen(mode) for mode in PANES}
    DEFAULT_MODE = "play"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "switch_mode('play')", "Play", tooltip="play against an agent", group=PANES_GROUP),
        Binding("t", "switch_mode('training')", "Training", tooltip="start, follow, stop runs", group=PANES_GROUP),
        Binding("s", "switch_mode('scenarios')", "Scenarios", tooltip="the scenario catalog", group=PANES_GROUP),
        Binding("m", "switch_mode('models')", "Models", tooltip="evaluate, compare models", group=PANES_GROUP),
        Binding("question_mark", "toggle_help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, saves: Path | str | None = None, settings: AppSettings | None = None) -> None:
        super().__init__()
        #: the saves root: runs, the shipped default agent, recorded episodes
        self.saves: Path = saves_dir(None if saves is None else str(saves))
        self.settings: AppSettings = settings or AppSettings()
        self._settings_path = settings_path()

    def on_mount(self) -> None:
        # the theme chosen last time (ctrl+p → theme), if it still exists
        saved = read_saved_theme(self._settings_path)
        if saved is not None and saved in self.available_themes and saved != self.theme:
            self.theme = saved
        self.theme_changed_signal.subscribe(self, self._save_theme)

    def _save_theme(self, theme: Theme) -> None:
        """Remember the theme for the next start (atomically: a crash never leaves half a file)."""
        from cs_tui.training.runs import atomic_write_json

        try:
            self._settings_path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_json(self._settings_path, {"theme": theme.name})
        except OSError as exc:
            self.notify(f"Could not remember the theme: {exc}", severity="warning")

    def get_driver_class(self) -> type[Driver]:
        """Textual's driver for the platform; on Linux one that quits without waiting for its input poll."""
        driver_class = super().get_driver_class()
        if driver_class.__name__ == "LinuxDriver":  # not one set in TEXTUAL_DRIVER, nor another platform's
            from cs_tui.driver import QuickExitDriver

            return QuickExitDriver
        return driver_class

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Notifications show their message as text: it quotes paths, file names and file contents,
        which Textual would otherwise read as markup (``[/]`` in a path crashed the app)."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    async def on_event(self, event: events.Event) -> None:
        """Keys still queued while the app shuts down (typed after ``q``) find no screen: drop them."""
        if isinstance(event, events.Key) and not self.screen_stack:
            return
        await super().on_event(event)

    def pop_screen(self) -> AwaitComplete:
        """Pop the top screen, unless the request is stale: harmless when a screen is dismissed twice.

        Textual's ``Screen.dismiss`` pops whatever is on top. Keys typed fast reach a screen after it
        was dismissed (``ctrl+p``, ``Go``, ``enter enter``: the palette's second enter), and its second
        dismiss would pop the screen below it — the pane itself, leaving no screen (ScreenStackError).
        """
        from textual._context import active_message_pump

        pump = active_message_pump.get(None)
        caller = pump if isinstance(pump, Screen) else getattr(pump, "screen", None) if pump is not None else None
        stale = isinstance(caller, Screen) and caller is not self and caller not in self.screen_stack
        if stale or len(self.screen_stack) <= 1:
            return AwaitComplete.nothing()
        return super().pop_screen()

    def action_toggle_help(self) -> None:
        """Show the help page of the pane on screen (its own ``?`` closes it)."""
        from cs_tui.widgets.help_screen import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss()
            return
        title = PANES[self.current_mode][2] if self.current_mode in PANES else "cs-tui"
        self.push_screen(HelpScreen(self.screen, title))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The command palette: the panes, then every key action of the current screen, then Textual's own."""
        for mode, (_, _, title) in PANES.items():
            if mode != self.current_mode:
                yield SystemCommand(f"Go to {title}", f"Switch to the {title.lower()} pane", self._switcher(mode))
        seen = {"switch_mode", "toggle_help", "quit", "command_palette"}
        for node, b, enabled, _ in screen.active_bindings.values():
            # the pane's own keys (shown in its key bar), not Textual's hidden focus and copy keys
            if b.show and enabled and b.description and b.action not in seen and node is not self:
                seen.add(b.action)
                key = self.get_key_display(b)
                help_text = f"key {key}" + (f" · {b.tooltip}" if b.tooltip else "")
                yield SystemCommand(b.description, help_text, self._runner(b.action, node))
        yield from super().get_system_commands(screen)

    def _switcher(self, mode: str) -> Callable[[], None]:
        def switch() -> None:
            self.switch_mode(mode)

        return switch

    def _runner(self, action: str, node: DOMNode) -> Callable[[], None]:
        def run() -> None:
            self.call_later(self.run_action, action, node)

        return run


def run_app(saves: str | None = None) -> int:
    """Build and run the app; the exit status, as soon as the app has shut down and restored the terminal.

    The app runs on a loop of its own rather than under ``asyncio.run``, which on the way out joins
    the loop's worker threads: a thread worker midway through importing torch (a model loading, a
    scenario run starting) would keep the user waiting for seconds after ``q``. Those threads are
    left to the caller; ``cs_tui.cli`` then ends the process at once (``exit_now``).
    """
    app = CsTuiApp(saves=saves)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    app.run(loop=loop)
    return app.return_code or 0
