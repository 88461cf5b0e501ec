"""The stop signals of a training process (SIGINT, SIGTERM, SIGHUP), caught from its first moment.

Light on purpose (no torch, no stable-baselines3): ``cs-tui train`` installs the handlers before it
writes anything to the run folder, so a signal during the seconds of importing torch is caught like
any other and leaves a resumable run, not one recorded as running by a process that is gone.
"""

from __future__ import annotations

import signal
from typing import Any


class StopFlag:
    """Set by SIGINT, SIGTERM or SIGHUP; training stops at the next step, and nothing is cut mid-write."""

    SIGNALS = tuple(s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None)

    def __init__(self, *, kept: bool = False) -> None:
        """``kept``: the flag stays installed after the work it guards (``restore`` does nothing).

        For a process that ends when the work does (``cs-tui train``): a signal in its last moments,
        once the run is recorded as finished and the process is printing or tearing down, is then
        caught and ignored, and the exit code stays the run's. The default signal action would kill
        the process instead (SIGHUP, SIGTERM), and say "stopped" for a run that finished.
        """
        self.signum: int | None = None
        self.kept = kept
        self._previous: dict[int, Any] = {}
        self._installs = 0  # install/restore pairs may nest (a tune worker hands its flag to each trial)

    @property
    def requested(self) -> bool:
        return self.signum is not None

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else ""

    def request(self, signum: int, frame: Any = None) -> None:
        """The signal handler: remember the first signal, do nothing else (it may arrive mid-write)."""
        if self.signum is None:
            self.signum = signum

    def install(self) -> None:
        """Catch the stop signals (main thread only; elsewhere a no-op). Installed twice: once, and the
        handlers go back at the matching (outermost) :meth:`restore`."""
        self._installs += 1
        if self._previous:
            return
        for signum in self.SIGNALS:
            try:
                self._previous[signum] = signal.signal(signum, self.request)
            except ValueError:  # not the main thread: the caller stops training its own way
                return

    def restore(self) -> None:
        """Put back the handlers that were there before :meth:`install` (a kept flag, or one still
        installed by an outer caller: nothing)."""
        self._installs = max(self._installs - 1, 0)
        if self.kept or self._installs:
            return
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()


__all__ = ["StopFlag"]
