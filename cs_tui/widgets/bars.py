"""Horizontal bars for shares (strategy usage), one series or two side by side."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual.geometry import Size
from textual.reactive import reactive
from textual.widget import Widget

BLOCKS = " ▏▎▍▌▋▊▉█"
MIN_SCALE = 0.5


def bar(share: float, width: int) -> str:
    """A bar of ``share`` (0-1) of ``width`` cells, with eighth-cell resolution."""
    share = min(max(share, 0.0), 1.0)
    eighths = round(share * width * 8)
    full, part = divmod(eighths, 8)
    text = "█" * full + (BLOCKS[part] if part else "")
    return text.ljust(width)


class ShareBars(Widget):
    """One row per name: ``name  ████▌     22%``; with ``compare`` set, a second bar under the first.

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
    labels: reactive[tuple[str, str]] = reactive(("A", "B"))
    """Short names of the two series, shown when comparing (colour is not the only cue)."""

    def __init__(
        self,
        values: Mapping[str, float] | None = None,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        if values:
            self.values = dict(values)

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
        names = self._names()
        if not names:
            return Text("no data yet", style="dim")
        series = [self.values] if self.compare is None else [self.values, self.compare]
        # scale to the top share, but never past 50 %: close shares (a near-uniform policy) stay short bars
        top = max([v for s in series for v in s.values()] + [MIN_SCALE])
        label_width = min(max(len(n) for n in names), 18)
        tag_width = 2 if self.compare is not None else 0
        width = max(4, self.size.width - label_width - tag_width - 8)
        styles = [self.get_component_rich_style("sharebars--first"), self.get_component_rich_style("sharebars--second")]
        text = Text(no_wrap=True, overflow="crop")
        first = True
        for name in names:
            for i, s in enumerate(series):
                if not first:
                    text.append("\n")
                first = False
                label = name[:label_width] if i == 0 else ""
                text.append(label.ljust(label_width) + " ")
                if tag_width:
                    text.append(self.labels[i][:1] + " ", style="bold")
                share = s.get(name)
                if share is None:
                    text.append(" " * width + "     –")
                    continue
                text.append(bar(share / top, width), style=styles[i])
                text.append(f" {share * 100:5.1f}%")
        return text
