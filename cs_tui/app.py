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
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.actions import SkipAction
from textual.app import App, ComposeResult, SystemCommand
from textual.await_complete import AwaitComplete
from textual.binding import Binding, BindingType
from textual.dom import DOMNode
from textual.driver import Driver
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.theme import Theme
from textual.widgets import Header, OptionList, Static

from cs_tui.saves import saves_dir
from cs_tui.screens.pane import AppSettings, PaneScreen

#: mode name -> (module, class, title): the four panes.
PANES: dict[str, tuple[str, str, str]] = {
    "play": ("cs_tui.screens.play", "PlayScreen", "Play"),
    "training": ("cs_tui.screens.training", "TrainingScreen", "Training"),
    "scenarios": ("cs_tui.screens.scenarios", "ScenariosScreen", "Scenarios"),
    "models": ("cs_tui.screens.models", "ModelsScreen", "Models"),
}

PANES_GROUP = Binding.Group("panes", compact=True)


#: what settings.json keeps: the theme (ctrl+p), the Scenarios pane's policy
SAVED_KEYS = ("theme", "scenario_policy")


def settings_path() -> Path:
    """Where the user's choices (the theme, …) are kept: ``$XDG_CONFIG_HOME/cs-tui/settings.json``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "cs-tui" / "settings.json"


#: The largest settings file read: it holds a few names.
SETTINGS_LIMIT = 64 << 10


def read_saved(path: Path) -> dict[str, str]:
    """The choices saved in ``path`` (each of ``SAVED_KEYS`` that holds text); none when there is no file
    or it cannot be read (the defaults then).

    Read at start-up on the UI thread, so it must never wait: a FIFO, a device or a socket is refused
    without blocking (opened non-blocking, then checked), a file over :data:`SETTINGS_LIMIT` before it is
    read. (``cs_env.files`` does the same for data files, but importing ``cs_env`` loads numpy and
    Gymnasium, which the first frame must not wait for.)
    """
    import json
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError:
        return {}
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > SETTINGS_LIMIT:
            return {}
        saved = json.loads(os.read(fd, SETTINGS_LIMIT + 1))
    except (OSError, ValueError, RecursionError):  # (RecursionError: "[" nested past the interpreter's limit)
        return {}
    finally:
        os.close(fd)
    if not isinstance(saved, dict):
        return {}
    return {key: saved[key] for key in SAVED_KEYS if isinstance(saved.get(key), str)}


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
        # seen before the focused widget's own keys: see action_page_guard
        Binding("pageup,pagedown", "page_guard", show=False, priority=True),
    ]

    def __init__(self, saves: Path | str | None = None, settings: AppSettings | None = None) -> None:
        super().__init__()
        #: the saves root: runs, the shipped default agent, recorded episodes
        self.saves: Path = saves_dir(None if saves is None else str(saves))
        self.settings: AppSettings = settings or AppSettings()
        self._settings_path = settings_path()
        self._saved: dict[str, str] = {}  # what settings.json holds, read once at start

    def on_mount(self) -> None:
        self._saved = read_saved(self._settings_path)
        # the theme chosen last time (ctrl+p → theme), if it still exists
        theme = self._saved.get("theme")
        if theme is not None and theme in self.available_themes and theme != self.theme:
            self.theme = theme
        self.settings.scenario_policy = self._saved.get("scenario_policy")  # the pane checks it still exists
        self.theme_changed_signal.subscribe(self, self._save_theme)

    def _save_theme(self, theme: Theme) -> None:
        self._remember("theme", theme.name)

    def on_pane_screen_remember(self, message: PaneScreen.Remember) -> None:
        self._remember(message.key, message.value)

    def _remember(self, key: str, value: str) -> None:
        """Keep ``key`` for the next start, beside the other choices (atomically: a crash never leaves half a file)."""
        from cs_tui.files import atomic_write_json

        self._saved[key] = value
        try:
            self._settings_path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_json(self._settings_path, self._saved)
        except OSError as exc:
            self.notify(f"Could not remember the {key.replace('_', ' ')}: {exc}", severity="warning")

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

    def action_page_guard(self) -> None:
        """Drop pageup / pagedown aimed at an option list that has no room yet; else let it page.

        Textual's ``OptionList`` maps options to lines only once it has a size: a page key that reaches
        it before its first layout, or while a tiny terminal squeezes it to zero lines, raised
        ``KeyError`` and closed the app (Textual 8.2; the random-key campaign). There is no page to move
        by then. Every other case goes on to the list's own binding (``SkipAction``).
        """
        focused = self.focused
        if isinstance(focused, OptionList) and focused.option_count and not focused.scrollable_content_region:
            return
        raise SkipAction()

    def action_toggle_help(self) -> None:
        """Show the help page of the pane on screen (its own ``?`` closes it)."""
        from cs_tui.screens.help import HelpScreen

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


class StartScreen(Screen[None]):
    """The first frame of ``cs-tui``: the title, while the play pane's modules load behind it."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Text("cs-tui: opening the play pane…", style="dim"), id="starting")


class OpeningApp(CsTuiApp):
    """The app as ``cs-tui`` runs it: the title first, then the play pane.

    The play pane needs numpy, Gymnasium and the env (and the industry files read and checked) before it
    can draw a customer: most of what the app's first frame waited for beyond a bare Textual app's. Here
    the first frame is the title, drawn as soon as Textual is up; the industry files are checked and the
    play pane opened right after it is on screen. (Tests host ``CsTuiApp``, which opens on the play pane.)
    """

    MODES: ClassVar[dict[str, str | Callable[[], Screen]]] = {**CsTuiApp.MODES, "start": StartScreen}
    DEFAULT_MODE = "start"

    #: what is wrong with the industry files, when the app closed for it (the CLI prints it, exit status 2)
    industry_problem: str | None = None

    def on_mount(self) -> None:  # (after CsTuiApp's own on_mount: Textual calls both)
        self.call_after_refresh(self._open_play)

    def _open_play(self) -> None:
        from cs_env.industries import industry_data_problem

        self.industry_problem = industry_data_problem()
        if self.industry_problem is not None:
            self.exit(return_code=2)
        elif self.current_mode == "start":  # (not a pane the user already went to)
            self.switch_mode("play")


def run_app(saves: str | None = None) -> int:
    """Build and run the app; the exit status, as soon as the app has shut down and restored the terminal.

    The app runs on a loop of its own rather than under ``asyncio.run``, which on the way out joins
    the loop's worker threads: a thread worker midway through importing torch (a model loading, a
    scenario run starting) would keep the user waiting for seconds after ``q``. Those threads are
    left to the caller; ``cs_tui.cli`` then ends the process at once (``exit_now``).
    """
    app = OpeningApp(saves=saves)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    app.run(loop=loop)
    if app.industry_problem is not None:
        print(f"cs-tui: error: the industry data cannot be loaded: {app.industry_problem}", file=sys.stderr)
    return app.return_code or 0
