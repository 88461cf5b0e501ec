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
from cs_tui.labels import strategy_label
from cs_tui.widgets import tone

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


class StrategyKey(Widget):
    """One strategy: its key, its name, and the opponent's value for it."""

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

    text: reactive[Text] = reactive(Text, layout=False)
    """What the key shows (set by the picker)."""

    def __init__(self, strategy: int) -> None:
        super().__init__(id=f"strategy-{strategy + 1}")
        self.strategy = strategy

    def render(self) -> Text:
        return self.text

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.post_message(self.Chosen(self.strategy))


class ActionPicker(Widget, can_focus=False):
    """Keys 1-8 and their strategies; the opponent's values beside them unless hidden (blind mode)."""

    DEFAULT_CSS = """
    ActionPicker {
        layout: grid;
        grid-size: 4;
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
        fractions = view.bar_fractions() if view else None
        best = view.recommended if view else -1
        for key in self.query(StrategyKey):
            i = key.strategy
            text = Text()
            text.append(f"{i + 1}", style=tone("bold reverse" if self.enabled else "dim"))
            text.append(f" {LABELS[i]}", style=tone("bold" if i == best else ""))
            text.append("\n  ")
            if view is not None and fractions is not None:
                cells = round(fractions[i] * 5)
                text.append("█" * cells + "░" * (5 - cells), style=tone("cyan" if i == best else "dim cyan"))
                text.append(f" {view.label(i)}")
                if i == best:
                    text.append(" ★", style=tone("bold yellow"))
            elif self.hidden and self.enabled:
                text.append("·····", style=tone("dim"))
            key.set_class(not self.enabled, "-disabled")
            key.text = text
