"""A sparkline of episode returns that grows as training goes: the learning curve at a glance."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from textual.widgets import Sparkline

MAX_POINTS = 4096


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def column_means(values: Sequence[float], columns: int) -> list[float]:
    """``values`` averaged into ``columns`` consecutive, nearly equal groups (fewer values: as they are)."""
    n = len(values)
    if columns <= 0 or n <= columns:
        return list(values)
    return [_mean(values[i * n // columns : (i + 1) * n // columns]) for i in range(columns)]


class ReturnHistory:
    """Every episode's return, kept in at most ``max_points`` points (plain data: a worker thread may fill it).

    Long runs finish hundreds of thousands of episodes: past ``max_points`` the history is halved
    (neighbouring points averaged) and each point stands for twice as many episodes, so memory and
    redraw cost stay flat while the curve keeps its shape.
    """

    def __init__(self, max_points: int = MAX_POINTS) -> None:
        self.max_points = max_points
        self.points: list[float] = []
        self.stride = 1  # episodes per point
        self.pending: list[float] = []  # episodes not yet making a full point
        #: Episodes seen so far.
        self.episodes = 0

    def extend(self, returns: Iterable[float]) -> bool:
        """Add the returns of newly finished episodes; True if the points changed."""
        values = [float(v) for v in returns]
        if not values:
            return False
        self.episodes += len(values)
        buf = self.pending + values
        stride = self.stride
        full = len(buf) - len(buf) % stride
        self.pending = buf[full:]
        if not full:
            return False
        if stride == 1:
            self.points.extend(buf)
        else:
            self.points.extend(sum(buf[i : i + stride]) / stride for i in range(0, full, stride))
        while len(self.points) > self.max_points:
            points = self.points  # an odd last point is dropped: one point among thousands
            self.points = [(a + b) / 2 for a, b in zip(points[0::2], points[1::2], strict=False)]
            self.stride *= 2
        return True


class RewardSparkline(Sparkline):
    """Episode returns, oldest on the left; each column shows the mean of the episodes it covers.

    The widget hands Textual's sparkline exactly one value per column (the mean of its episodes), so the
    vertical scale spans the column means, not single episodes' returns: single returns range over the
    whole reward scale and would flatten the learning curve to a line.
    """

    DEFAULT_CSS = """
    RewardSparkline {
        height: 3;
    }
    """

    def __init__(
        self,
        *,
        max_points: int = MAX_POINTS,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__([], summary_function=_mean, name=name, id=id, classes=classes)
        self.history = ReturnHistory(max_points)
        # what is drawn, copied on the UI thread: the history itself may be growing in a worker
        self._shown_points: list[float] = []
        self._shown_episodes = 0

    def clear(self) -> None:
        """Forget every episode (another run is shown)."""
        self.history = ReturnHistory(self.history.max_points)
        self._redraw()

    def extend(self, returns: Iterable[float]) -> None:
        """Add the returns of newly finished episodes and redraw once."""
        if self.history.extend(returns):
            self._redraw()

    def show_history(self, history: ReturnHistory) -> None:
        """Draw ``history`` (filled elsewhere, e.g. in a worker thread) from now on."""
        self.history = history
        self._redraw()

    def _redraw(self) -> None:
        self._shown_points, self._shown_episodes = list(self.history.points), self.history.episodes
        self._set_data()

    def _set_data(self) -> None:
        # a new list, so the reactive sees a change and the widget repaints
        self.data = column_means(self._shown_points, self.size.width)

    def on_resize(self) -> None:
        self._set_data()

    @property
    def episodes(self) -> int:
        """Episodes drawn so far."""
        return self._shown_episodes

    @property
    def points(self) -> list[float]:
        """The values drawn (each the mean of ``history.stride`` episodes)."""
        return list(self._shown_points)

    @property
    def value_range(self) -> tuple[float, float] | None:
        """The lowest and highest column drawn (the sparkline's vertical scale), or None before any data."""
        data = list(self.data or [])
        return (min(data), max(data)) if data else None
