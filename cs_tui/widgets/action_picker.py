"""The eight strategies on keys 1-8, with the opponent's view of the current state beside each."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from cs_env.domain import STRATEGY_NAMES
from cs_tui.labels import strategy_label, tone

#: how each strategy reads on its key, and wherever the play pane names one
LABELS = tuple(strategy_label(i) for i in range(len(STRATEGY_NAMES)))


@dataclass(frozen=True)
class AgentView:
    """The opponent's values for the current state: probabilities, or Q-values for DQN."""

    kind: str  # "probabilities" | "q_values"
    values: tuple[float, ...]

    @property
    def recommended(self) -> int:
        """The strategy the agent prefers; -1 when it has no preference (all values equal: random)."""
        v = np.asarray(self.values, dtype=np.float64)
        return -1 if float(v.max() - v.min()) < 1e-9 else int(np.argmax(v))

    def bar_fractions(self) -> list[float]:
        """0-1 per strategy, for bars: probabilities as they are, Q-values scaled min..max."""
        v = np.asarray(self.values, dtype=np.float64)
        if self.kind == "probabilities":
            return [float(x) for x in np.clip(v, 0.0, 1.0)]
        span = float(v.max() - v.min())
        return [float(x) for x in ((v - v.min()) / span if span > 0 else np.ones_like(v))]

    def label(self, i: int) -> str:
        x = self.values[i]
        return f"{x:4.0%}" if self.kind == "probabilities" else f"q{x:+.2f}"


@dataclass(frozen=True)
class KeyFace:
    """What a strategy key shows besides its name: whether it can be pressed, and the opponent's value."""

    enabled: bool = True
    best: bool = False  # the opponent's choice: its name in bold, a star after its value
    fraction: float | None = None  # the bar's length (0-1); None: no value shown
    value: str = ""  # the value as written: " 12%", "q+0.31"
    hidden: bool = False  # blind mode: dots stand in for the value


#: the widest key's first part ("4 product recommend"): on one line, the values line up after it
NAME_CELLS = max(len(f"{i + 1} {label}") for i, label in enumerate(LABELS))
BAR_CELLS = 5


class StrategyKey(Widget):
    """One strategy: its key, its name, and the opponent's value for it.

    Two rows high, the value and its bar go under the name; one row high (a small terminal), the value
    follows the name where the key is wide enough, then the bar where there is room for it too.
    """

    DEFAULT_CSS = """
    StrategyKey {
        height: 2;
        width: 1fr;
    }
    StrategyKey:hover {
        background: $boost;
    }
    StrategyKey.-disabled {
        color: $text-disabled;
    }
    """

    class Chosen(Message):
        """The strategy was clicked."""

        def __init__(self, strategy: int) -> None:
            super().__init__()
            self.strategy = strategy

    face: reactive[KeyFace] = reactive(KeyFace, layout=False)
    """What the key shows (set by the picker)."""

    def __init__(self, strategy: int) -> None:
        super().__init__(id=f"strategy-{strategy + 1}")
        self.strategy = strategy

    @property
    def text(self) -> Text:
        """The key on two rows: its number and name, then the opponent's value with its bar."""
        text = self._label()
        text.append("\n  ")
        text.append_text(self._value(bar=True))
        return text

    def render(self) -> Text:
        if self.size.height != 1:
            return self.text
        text = self._label()
        value = self._value(bar=False)
        room = self.size.width - NAME_CELLS - 1
        if value.cell_len and value.cell_len <= room:  # else the name alone: the opponent's line names its choice
            text.pad_right(NAME_CELLS + 1 - text.cell_len)
            text.append_text(self._value(bar=BAR_CELLS + 1 + value.cell_len <= room))
        return text

    def _label(self) -> Text:
        face = self.face
        text = Text()
        text.append(f"{self.strategy + 1}", style=tone("bold reverse" if face.enabled else "dim"))
        text.append(f" {LABELS[self.strategy]}", style=tone("bold" if face.best else ""))
        return text

    def _value(self, *, bar: bool) -> Text:
        """The opponent's value, after its bar if ``bar``; the star of its choice (dots in blind mode)."""
        face = self.face
        text = Text()
        if face.fraction is not None:
            if bar:
                cells = round(face.fraction * BAR_CELLS)
                text.append("█" * cells + "░" * (BAR_CELLS - cells), style=tone("cyan" if face.best else "dim cyan"))
                text.append(" ")
            text.append(face.value)
            if face.best:
                text.append(" ★", style=tone("bold yellow"))
        elif face.hidden:
            text.append("·" * (BAR_CELLS if bar else 4), style=tone("dim"))
        return text

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.post_message(self.Chosen(self.strategy))


class ActionPicker(Widget, can_focus=False):
    """Keys 1-8 and their strategies; the opponent's values beside them unless hidden (blind mode)."""

    DEFAULT_CSS = """
    ActionPicker {
        layout: grid;
        grid-size: 4;
        grid-rows: 2;  /* the keys' height, not their text's: a key drawn on one row stays two high */
        grid-gutter: 0 1;
        height: auto;
        border-top: solid $primary;
        padding: 0 1;
    }
    """

    agent_view: reactive[AgentView | None] = reactive(None)
    """The opponent's values for the current state (None: not known yet, or not shown for this opponent)."""
    hidden: reactive[bool] = reactive(False)
    """Blind mode: the values are hidden until the human commits."""
    enabled: reactive[bool] = reactive(True)
    """False when the conversation has ended."""

    def compose(self) -> ComposeResult:
        for i in range(len(STRATEGY_NAMES)):
            yield StrategyKey(i)

    def on_mount(self) -> None:
        self._paint()

    def watch_agent_view(self) -> None:
        self._paint()

    def watch_hidden(self) -> None:
        self._paint()

    def watch_enabled(self) -> None:
        self._paint()

    def _paint(self) -> None:
        view = None if self.hidden else self.agent_view
        fractions = view.bar_fractions() if view else []
        best = view.recommended if view else -1
        for key in self.query(StrategyKey):
            i = key.strategy
            key.face = KeyFace(
                enabled=self.enabled,
                best=i == best,
                fraction=fractions[i] if view else None,
                value=view.label(i) if view else "",
                hidden=self.hidden and self.enabled,
            )
            key.set_class(not self.enabled, "-disabled")
