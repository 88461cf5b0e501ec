"""The terminal driver: Textual's own, except that quitting does not wait for the input thread's poll.

Textual's Linux driver stops by setting an event and joining its input thread, which notices the
event only when its ``select`` times out, twice over (a last read with a 0.1 s timeout): up to 0.2 s
of the user's wait for the prompt after ``q``, most of what quitting costs once the app exits the
process at once (``cs_tui.cli.exit_now``). When the app is exiting, this driver sets the event and
restores the terminal without waiting; the thread ends at its next poll, or with the process.
Suspending the app (not exiting) keeps Textual's behaviour.
"""

from __future__ import annotations

import contextlib
import signal
import termios

from textual.drivers.linux_driver import LinuxDriver


class QuickExitDriver(LinuxDriver):
    """``LinuxDriver`` whose ``disable_input`` does not join the input thread when the app exits."""

    def disable_input(self) -> None:
        if not getattr(self._app, "_exit", False) or self.exit_event.is_set():
            super().disable_input()
            return
        signal.signal(signal.SIGWINCH, signal.SIG_DFL)
        self._disable_mouse_support()
        self.exit_event.set()  # left set: the input thread stops at its next poll
        with contextlib.suppress(termios.error):  # keys typed during the exit are not the shell's
            termios.tcflush(self.fileno, termios.TCIFLUSH)
