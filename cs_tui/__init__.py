"""cs_tui: the terminal app and command line over the cs_env simulator."""

# The console script's wrapper imports this package first (``from cs_tui.cli import main``), so here, before
# anything else of ours, a Ctrl-C while ``cs-tui`` starts stops it as the shell stops any program that has
# done nothing yet: by SIGINT, with nothing printed (Python's KeyboardInterrupt would print a traceback from
# whichever import it lands in). ``cli.main`` puts Python's KeyboardInterrupt back before a command runs.
# Only for the console script, and only over Python's own handler: importing cs_tui elsewhere (a notebook,
# ``python -m cs_tui``, a caller that set its own handler, a shell that started us ignoring SIGINT) changes
# nothing.
import os as _os
import sys as _sys

try:
    # signal's C half, which the interpreter loaded at start for its own handler: importing ``signal`` builds
    # its enums (1 ms, 20 ms on a busy machine), a window a Ctrl-C would land in. Same functions, same values.
    import _signal
except ImportError:  # an interpreter without it
    import signal as _signal

#: the console script's names (pip's wrapper on POSIX, its launcher and script on Windows)
_CONSOLE_NAMES = ("cs-tui", "cs-tui.exe", "cs-tui-script.py")
_argv = getattr(_sys, "argv", None) or [""]
QUIET_START = (
    _os.path.basename(_argv[0]) in _CONSOLE_NAMES and _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler
)
if QUIET_START:
    _signal.signal(_signal.SIGINT, _signal.SIG_DFL)

__version__ = "0.1.0"
