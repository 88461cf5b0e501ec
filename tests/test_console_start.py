"""A Ctrl-C at any moment of the ``cs-tui`` console script's start-up stops it by SIGINT (or, once a command
runs, with its "interrupted" and 130), and no traceback ever comes from our code.

The console script is the wrapper pip writes for ``[project.scripts]`` (its text below, as pip 24 writes it):
its ``from cs_tui.cli import main`` ran our imports and argparse under Python's KeyboardInterrupt, whose
traceback a Ctrl-C in the first few milliseconds printed. What runs before the wrapper's first line is the
interpreter's own start-up (``site``, the ``.pth`` files): a Ctrl-C there prints CPython's traceback for any
Python program (``python -c pass`` does the same), with no frame of ours, and is no part of this promise.
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: pip's console-script wrapper for ``cs-tui = "cs_tui.cli:main"``, byte for byte but the interpreter
WRAPPER = """#!{python}
# -*- coding: utf-8 -*-
import re
import sys
from cs_tui.cli import main
if __name__ == '__main__':
    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])
    sys.exit(main())
"""
#: runs the wrapper as its own interpreter would (``__main__``, ``argv[0]`` the script), after telling the
#: test (a byte on a pipe) that the import of our package begins: the state each trial's Ctrl-C counts from
LAUNCHER = """import os, runpy, sys
fd = int(sys.argv[1])
def reached(event, args):
    global fd
    if fd >= 0 and event == "import" and args[0] == "cs_tui.cli":
        os.write(fd, b"x")
        os.close(fd)
        fd = -1
sys.addaudithook(reached)
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""
#: a frame in one of our files: a traceback through it is ours
OUR_FRAME = re.compile(r'File "[^"]*/(cs_tui|cs_env)/[^"]*\.py"')
#: when each trial's Ctrl-C comes after our package's import begins: every 2 ms over the first 80 ms (our
#: imports, argparse), then every 50 ms to 0.6 s (the command starting)
DELAYS_S = [i * 0.002 for i in range(40)] + [0.1 + i * 0.05 for i in range(10)]


def _default_sigint() -> None:
    # a shell that started the test runner in the background ignores SIGINT, and the child would inherit that
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
def test_a_ctrl_c_anywhere_in_the_console_scripts_start_up_stops_it_without_a_traceback_of_ours(
    tmp_path: Path,
) -> None:
    script = tmp_path / "cs-tui"
    script.write_text(WRAPPER.format(python=sys.executable))
    launcher = tmp_path / "launch.py"
    launcher.write_text(LAUNCHER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    # a command that runs long after it starts: every Ctrl-C lands in start-up or in the command itself
    argv = [str(script), "evaluate", "baseline:random", "--episodes", "20000"]
    seen: list[tuple[float, int | None, str]] = []
    for delay in DELAYS_S:
        reached, tell = os.pipe()
        proc = subprocess.Popen(
            [sys.executable, str(launcher), str(tell), *argv], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, pass_fds=(tell,), preexec_fn=_default_sigint,
        )  # fmt: skip
        os.close(tell)
        assert select.select([reached], [], [], 120)[0], "the wrapper never imported cs_tui"  # a ceiling on a hang
        os.close(reached)
        # where the Ctrl-C lands, spread over the start-up (a spread, not a measure: nothing asserts on it)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, said = proc.communicate(timeout=120)
        seen.append((delay, proc.returncode, said.decode(errors="replace")))
    for delay, code, err in seen:
        assert not OUR_FRAME.search(err), f"Ctrl-C after {delay:.3f} s: a traceback of ours\n{err}"
        assert code in (-signal.SIGINT, 130), f"Ctrl-C after {delay:.3f} s: exit {code}\n{err}"
        if code == 130:  # the command ran and was stopped: it says so, and only that
            assert err.strip() == "interrupted", err
