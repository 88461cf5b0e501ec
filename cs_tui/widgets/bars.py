"""Horizontal bars for shares (strategy usage), one series or two side by side, as ``cs-tui evaluate`` draws them."""

from __future__ import annotations

from rich.text import Text
from textual.geometry import Size
from textual.reactive import reactive
from textual.widget import Widget

from cs_tui.evaluation_view import usage_bars


class ShareBars(Widget):
    """One row per name: ``name  ████▌     22.0%``; with ``compare`` set, a second bar (B) under the first (A).

    The bars scale to the largest share shown (at least 50 %) so differences stay visible; the percentages
    are exact.
    """

    DEFAULT_CSS = """
    ShareBars {
        height: auto;
    }
    ShareBars > .sharebars--first {
        color: $primary;
    }
    ShareBars > .sharebars--second {
        color: $warning;
    }
    """

    COMPONENT_CLASSES = {"sharebars--first", "sharebars--second"}  # noqa: RUF012  (Textual's convention)

    values: reactive[dict[str, float]] = reactive(dict, layout=True)
    """The shares to draw (name → 0-1)."""
    compare: reactive[dict[str, float] | None] = reactive(None, layout=True)
    """A second series drawn under the first (None: one series)."""

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        names = self._names()
        return max(1, len(names) * (2 if self.compare is not None else 1))

    def _names(self) -> list[str]:
        names = list(self.values)
        for name in self.compare or {}:
            if name not in names:
                names.append(name)
        return names

    def render(self) -> Text:
        series = [self.values] if self.compare is None else [self.values, self.compare]
        styles = [self.get_component_rich_style("sharebars--first"), self.get_component_rich_style("sharebars--second")]
        return usage_bars(series, self.size.width, styles=styles)
