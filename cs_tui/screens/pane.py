"""What the app gives its panes, typed: the saves folder and the settings they share.

Every pane is a ``PaneScreen``: ``self.saves`` and ``self.settings`` come from the app that hosts it,
checked once, instead of each screen reaching for ``self.app`` attributes by name. The real host is
``CsTuiApp``; a test hosts one pane in any app that has the two attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from textual import work
from textual.app import App
from textual.message import Message
from textual.screen import Screen

if TYPE_CHECKING:
    from textual.notifications import SeverityLevel

    from cs_tui.export import Export
    from cs_tui.screens.study_form import StudyFormFields
    from cs_tui.screens.training_form import RunFormFields


@dataclass
class AppSettings:
    """What the panes share: the environment they play, the first customer's seed, and what the new-run
    and new-study forms were last filled with in this app session (a fresh app starts from the defaults)."""

    industry: str = "mixed"
    max_turns: int = 10
    #: seed of the first customer in the play pane; None draws one at start-up
    seed: int | None = None
    #: the opponent spec for ``cs_tui.agents.load_agent``; None means the shipped ``default`` if present
    opponent: str | None = None
    #: the Scenarios pane's policy as last chosen, kept across restarts (None: the default agent if present)
    scenario_policy: str | None = None
    #: the new-run form's fields as last left (None until it is first closed)
    run_form: RunFormFields | None = None
    #: the new-study form's fields as last left (None until it is first closed)
    study_form: StudyFormFields | None = None


@runtime_checkable
class Host(Protocol):
    """An app that can host the panes."""

    saves: Path
    settings: AppSettings


def host_of(app: App[Any]) -> Host:
    """``app`` as a pane's host; ``TypeError`` naming what is missing."""
    if not isinstance(app, Host):
        raise TypeError(f"{type(app).__name__} cannot host a cs-tui pane: it needs .saves and .settings")
    return app


class PaneScreen(Screen[None]):
    """A pane of the app: reads the host's saves folder and settings."""

    class Remember(Message):
        """A choice to keep across restarts: the host saves ``value`` under ``key`` (a host that keeps
        nothing, as a test's, lets it pass)."""

        def __init__(self, key: str, value: str) -> None:
            super().__init__()
            self.key, self.value = key, value

    @property
    def saves(self) -> Path:
        """The saves root: runs, the shipped default agent, recorded episodes."""
        return Path(host_of(self.app).saves)

    @property
    def settings(self) -> AppSettings:
        return host_of(self.app).settings

    def export(self, folder: Path, stem: str, export: Export, what: str) -> None:
        """Write ``export`` under ``folder`` (:func:`cs_tui.export.write_export`) in a thread; a toast names
        the files written, or why nothing was (the pane goes on either way)."""
        self._export(folder, stem, export, what)

    @work(thread=True, group="export", exit_on_error=False)
    def _export(self, folder: Path, stem: str, export: Export, what: str) -> None:
        from cs_tui.export import export_and_say

        message, ok = export_and_say(folder, stem, export, what)
        severity: SeverityLevel = "information" if ok else "error"
        self.app.call_from_thread(self.notify, message, title="Export" if ok else "Not exported", severity=severity)

    def help_text(self) -> str:
        """The pane's help page (Markdown) as it reads now: a pane whose layout follows the terminal's
        size overrides this to say where things are in the layout on screen."""
        return (self.HELP or "").strip()
