"""Runs ``cs_tui.cli.main`` for each JSON line ``{"argv": [...], "cwd": ...}`` on stdin; answers one JSON line.

The answer holds the exit status, what the command printed, and ``escaped``: the traceback of any
exception that left ``main`` (a promise broken: the CLI never shows a traceback).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import traceback


def main() -> None:
    from cs_tui.cli import main as cli_main
    from cs_tui.training import safe_load, trainer  # noqa: F401  (torch and SB3 loaded before the clock starts)

    # the answers go on a copy of stdout; what a command writes to fd 1 itself goes nowhere
    protocol = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb"), write_through=True)
    protocol.write('{"ready": true}\n')
    protocol.flush()
    for line in sys.stdin:
        request = json.loads(line)
        out, err = io.StringIO(), io.StringIO()
        escaped = None
        code: int | None
        here = os.getcwd()
        try:
            if request.get("cwd"):
                os.chdir(request["cwd"])
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = cli_main(request["argv"])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            code, escaped = None, traceback.format_exc()
        finally:
            os.chdir(here)
        protocol.write(json.dumps({"code": code, "out": out.getvalue(), "err": err.getvalue(), "escaped": escaped}))
        protocol.write("\n")
        protocol.flush()


if __name__ == "__main__":
    main()
