"""The command line: ``cs-tui`` opens the app; ``cs-tui train | tune | demo | test | evaluate | …`` run headless.

Each subcommand lives in ``cs_tui/commands/<name>.py`` with two functions: ``add_parser(subparsers)``
declares its arguments (argparse only: importing a command module stays light, so ``cs-tui --help``
never loads torch or stable-baselines3) and ``run(args) -> int`` does the work, importing what it
needs when it runs. Bad arguments are usage errors (exit status 2) that list the valid values.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import signal
import sys
from types import ModuleType
from typing import NoReturn

from cs_tui import __version__

COMMANDS = ("train", "tune", "demo", "test", "evaluate", "playbook", "export", "serve", "web")


def _command(name: str) -> ModuleType:
    return importlib.import_module(f"cs_tui.commands.{name}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cs-tui",
        description="A terminal simulator and trainer for customer-support agents. With no command, opens the app.",
    )
    parser.add_argument("--version", action="version", version=f"cs-tui {__version__}")
    parser.add_argument("--saves", metavar="DIR", help="where runs are kept (default: $CS_TUI_SAVES or ./saves)")
    subparsers = parser.add_subparsers(dest="command", metavar="{" + ",".join(COMMANDS) + "}")
    for name in COMMANDS:
        _command(name).add_parser(subparsers)
    return parser


def parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """``parser.parse_args``, but an unknown flag after a command prints that command's usage, not the top level's."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        # argparse hands a subcommand's unknown flags up to the top parser, whose usage would not help
        commands = next(a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        (commands.get(args.command) or parser).error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(build_parser(), argv)
    # the process is this command (not a caller's in-process use): its stop flags may stay installed to the end
    args.whole_process = argv is None
    problem = _industry_data_problem()
    if problem is not None:  # every command and the app play industries: say which file is wrong
        print(f"cs-tui: error: the industry data cannot be loaded: {problem}", file=sys.stderr)
        return 2
    if args.command is None:
        from cs_tui.app import run_app

        exit_now(run_app(saves=args.saves))
    from cs_tui.agents import ModelRunError

    try:
        code = int(_command(args.command).run(args))
        if args.whole_process:
            _ignore_stops_while_exiting()
        return code
    except ModelRunError as exc:  # a model that loaded but whose outputs are not numbers: its error, no traceback
        print(f"cs-tui {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`cs-tui test --json | head`): not an error of ours; silence the
        # interpreter's own complaint when it flushes stdout at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE  # the shell's convention for a reader that left (as `yes | head`)


def _ignore_stops_while_exiting() -> None:
    """The command is done and its outcome recorded: a Ctrl-C, SIGTERM or SIGHUP from here on changes nothing.

    Python puts back the default action of every signal it handles as the interpreter finalizes, and
    tearing torch down takes seconds on a busy machine: a stop then killed the process (exit -15) after
    its run was recorded finished. An ignored signal stays ignored through finalization.
    """
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)


def _industry_data_problem() -> str | None:
    """What is wrong with the industry files (the file and the problem), or None when they load."""
    from cs_env.industries import IndustryDataError, default_catalog

    try:
        default_catalog()
    except IndustryDataError as exc:
        return str(exc)
    return None


def exit_now(status: int) -> NoReturn:
    """End the process at once, once the app has shut down cleanly (its terminal restored).

    What the app keeps is written when it happens (recorded conversations, atomically, on the UI
    thread; training runs are processes of their own), so nothing is left to save here. What a normal
    exit would still do is slow and of no use: joining worker threads (one may be midway through
    importing torch, seconds away) and tearing down torch and stable-baselines3 object by object,
    2-25 s on a loaded machine, while the user waits for the prompt. So: flush, then ``os._exit``.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed or broken stream has nothing left to lose
            stream.flush()
    os._exit(status)


if __name__ == "__main__":
    raise SystemExit(main())
