"""A sparkline of episode returns that grows as training goes: the learning curve at a glance."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from textual.widgets import Sparkline


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def column_means(values: Sequence[float], columns: int) -> list[float]:
    """``values`` averaged into ``columns`` consecutive, nearly equal groups (fewer values: as they are)."""
    n = len(values)
    if columns <= 0 or n <= columns:
        return list(values)
    return [_mean(values[i * n // columns : (i + 1) * n // columns]) for i in range(columns)]


class RewardSparkline(Sparkline):
    """Episode returns, oldest on the left; each column shows the mean of the episodes it covers.

    The widget hands Textual's sparkline exactly one value per column (the mean of its episodes), so the
    vertical scale spans the column means, not single episodes' returns: single returns range over the
    whole reward scale and would flatten the learning curve to a line.

    Long runs finish hundreds of thousands of episodes: past ``max_points`` the history is halved
    (neighbouring points averaged) so memory and redraw cost stay flat while the curve keeps its shape.
    """

    DEFAULT_CSS = """
    RewardSparkline {
        height: 3;
    }
    """

    def __init__(
        self,
        *,
        max_points: int = 4096,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__([], summary_function=_mean, name=name, id=id, classes=classes)
        self.max_points = max_points
        self._points: list[float] = []
        self._stride = 1  # episodes per point
        self._pending: list[float] = []  # episodes not yet making a full point
        #: Episodes seen so far.
        self.episodes = 0

    def clear(self) -> None:
        """Forget every episode (another run is shown)."""
        self._points, self._pending, self._stride, self.episodes = [], [], 1, 0
        self.data = []

    def extend(self, returns: Iterable[float]) -> None:
        """Add the returns of newly finished episodes and redraw once."""
        added = False
        for value in returns:
            self.episodes += 1
            self._pending.append(float(value))
            if len(self._pending) >= self._stride:
                self._points.append(_mean(self._pending))
                self._pending = []
                added = True
                if len(self._points) > self.max_points:
                    pairs = zip(self._points[0::2], self._points[1::2], strict=False)
                    self._points = [(a + b) / 2 for a, b in pairs]
                    self._stride *= 2
        if added:
            self._redraw()

    def _redraw(self) -> None:
        # a new list, so the reactive sees a change and the widget repaints
        self.data = column_means(self._points, self.size.width)

    def on_resize(self) -> None:
        self._redraw()

    @property
    def value_range(self) -> tuple[float, float] | None:
        """The lowest and highest column drawn (the sparkline's vertical scale), or None before any data."""
        data = list(self.data or [])
        return (min(data), max(data)) if data else None

    @property
    def points(self) -> list[float]:
        """The values drawn (each the mean of ``stride`` episodes)."""
        return list(self._points)
