"""The last turn's reward, part by part, and the running return."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from cs_env.reward import COMPONENTS
from cs_tui.labels import component_label, tone


class RewardBreakdown(Widget):
    """Satisfaction, efficiency, business impact and escalation of the last turn; the return so far."""

    DEFAULT_CSS = """
    RewardBreakdown {
        height: 5;
    }
    """

    components: reactive[dict[str, float] | None] = reactive(None)
    """The last turn's reward components (None before the first turn)."""
    total: reactive[float] = reactive(0.0)
    """The return so far."""

    def render(self) -> Text:
        text = Text("return ", style=tone("bold"))
        text.append(f"{self.total:+.2f}", style=tone("bold green" if self.total > 0 else "bold"))
        parts = self.components or dict.fromkeys(COMPONENTS, 0.0)
        # "turn ... =": the four lines below add up to the last turn's reward, not to the return
        text.append(f" · turn {sum(parts.values()):+.2f} =" if self.components is not None else "", style=tone("dim"))
        for key in COMPONENTS:
            value = parts.get(key, 0.0) + 0.0  # no "-0.00"
            style = "green" if value > 0 else "red" if value < 0 else "dim"
            text.append(f"\n {component_label(key):<13}")
            text.append(f"{value:+.2f}", style=tone(style))
        return text
