"""``python -m cs_tui`` is ``cs-tui`` (the app starts training runs this way, in their own process)."""

import signal
import sys


def _stopped_while_starting(signum: int, frame: object) -> None:
    # nothing is written yet: end quietly with the shell's 128 + N, not a KeyboardInterrupt traceback
    raise SystemExit(128 + signum)


_STOPS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_before = {s: signal.signal(s, _stopped_while_starting) for s in _STOPS}
from cs_tui.cli import main  # noqa: E402  (the imports take a while on a busy machine: stopped quietly meanwhile)

for _signum, _handler in _before.items():  # the trainer installs its own before it writes anything
    signal.signal(_signum, _handler)
sys.exit(main())
