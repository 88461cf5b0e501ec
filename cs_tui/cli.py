"""The command line: ``cs-tui`` opens the app; ``cs-tui train | tune | demo | test | evaluate | …`` run headless.

Each subcommand lives in ``cs_tui/commands/<name>.py`` with two functions: ``add_parser(subparsers)``
declares its arguments (argparse only: importing a command module stays light, so ``cs-tui --help``
never loads torch or stable-baselines3) and ``run(args) -> int`` does the work, importing what it
needs when it runs. Bad arguments are usage errors (exit status 2) that list the valid values.
"""

from __future__ import annotations

# only modules Python has loaded before any script runs: a Ctrl-C while this module is imported (the
# console script's first line) finds almost nothing to interrupt; argparse and logging come in main()
import contextlib
import os
import signal
import sys
from typing import TYPE_CHECKING, Any, NoReturn

import cs_tui
from cs_tui import __version__

if TYPE_CHECKING:
    import argparse
    from types import ModuleType

COMMANDS = ("train", "tune", "demo", "test", "evaluate", "playbook", "export", "serve", "web")


def _command(name: str) -> ModuleType:
    import importlib

    return importlib.import_module(f"cs_tui.commands.{name}")


def _top_parser() -> argparse.ArgumentParser:
    """The options before any command (all the app takes)."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="cs-tui",
        description="A terminal simulator and trainer for customer-support agents. With no command, opens the app.",
    )
    parser.add_argument("--version", action="version", version=f"cs-tui {__version__}")
    parser.add_argument("--saves", metavar="DIR", help="where runs are kept (default: $CS_TUI_SAVES or ./saves)")
    return parser


def _app_saves(argv: list[str]) -> tuple[bool, str | None]:
    """Whether ``argv`` only opens the app, and its ``--saves``. The commands' parsers import the env (numpy,
    Gymnasium) for their choices: the app's first frame need not wait for them."""
    if any(word in COMMANDS or word in ("-h", "--help") for word in argv):
        return False, None
    args, extra = _top_parser().parse_known_args(argv)
    return not extra, args.saves


def build_parser() -> argparse.ArgumentParser:
    parser = _top_parser()
    subparsers = parser.add_subparsers(dest="command", metavar="{" + ",".join(COMMANDS) + "}")
    for name in COMMANDS:
        _command(name).add_parser(subparsers)
    return parser


def parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """``parser.parse_args``, but an unknown flag after a command prints that command's usage, not the top level's."""
    import argparse

    args, extra = parser.parse_known_args(argv)
    if extra:
        # argparse hands a subcommand's unknown flags up to the top parser, whose usage would not help
        commands = next(a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        (commands.get(args.command) or parser).error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv: list[str] | None = None) -> int:
    app_only, saves = _app_saves(sys.argv[1:] if argv is None else argv)
    if app_only and argv is None:  # the app checks the industry files once its first frame is on screen
        from cs_tui.app import run_app

        _end_quiet_start()
        exit_now(run_app(saves=saves))
    # the first fraction of a second: the commands' modules and the industry files are loading. The console
    # script is still stopped quietly by a Ctrl-C (nothing is written yet); otherwise a Ctrl-C is noted by our
    # own handler, since an extension module's import may turn the KeyboardInterrupt into an ImportError
    # (numpy's does) or swallow it (a weakref callback's "Exception ignored")
    stopped: list[int] = []
    quiet = argv is None and cs_tui.QUIET_START and signal.getsignal(signal.SIGINT) == signal.SIG_DFL
    previous = None if quiet else _note_stops(stopped)
    try:
        args = parse(build_parser(), argv)
        # the app checks the industry files once its first frame is on screen
        problem = None if args.command is None else industry_data_problem()
    except BaseException as exc:
        if stopped or isinstance(exc, KeyboardInterrupt):
            return _stopped_while_starting(whole_process=argv is None)
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        _end_quiet_start()
    if stopped:
        return _stopped_while_starting(whole_process=argv is None)
    # the process is this command (not a caller's in-process use): its stop flags may stay installed to the end
    args.whole_process = argv is None
    if args.command is None:
        from cs_tui.app import run_app

        exit_now(run_app(saves=args.saves))
    if problem is not None:  # every command plays industries: say which file is wrong
        from cs_tui.commands.arguments import USAGE_ERROR

        print(f"cs-tui: error: the industry data cannot be loaded: {problem}", file=sys.stderr)
        return USAGE_ERROR
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


def _end_quiet_start() -> None:
    """From here on a Ctrl-C is Python's KeyboardInterrupt again, which the commands and the app handle (the
    console script started with it ending the process quietly: see ``cs_tui/__init__.py``)."""
    if cs_tui.QUIET_START and signal.getsignal(signal.SIGINT) == signal.SIG_DFL:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    cs_tui.QUIET_START = False


def _note_stops(stopped: list[int]) -> Any:
    """Have a Ctrl-C append to ``stopped`` (and raise KeyboardInterrupt as usual); the handler it replaces,
    or None where signals cannot be handled (a caller's thread other than the main one)."""

    def note(signum: int, frame: object) -> None:
        stopped.append(signum)
        raise KeyboardInterrupt

    try:
        return signal.signal(signal.SIGINT, note)
    except ValueError:
        return None


def _stopped_while_starting(whole_process: bool) -> int:
    """A Ctrl-C before any command ran: nothing was written, so end as a stopped program does, quietly.

    The whole process dies of SIGINT itself (the shell shows 130 and a calling script sees the signal);
    an in-process caller gets 130.
    """
    if whole_process:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    return 128 + signal.SIGINT


def _ignore_stops_while_exiting() -> None:
    """The command is done and its outcome recorded: a Ctrl-C, SIGTERM or SIGHUP from here on changes nothing.

    Python puts back the default action of every signal it handles as the interpreter finalizes, and
    tearing torch down takes seconds on a busy machine: a stop then killed the process (exit -15) after
    its run was recorded finished. An ignored signal stays ignored through finalization.
    """
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)


def industry_data_problem() -> str | None:
    """What is wrong with the industry files (the file and the problem), or None when they load."""
    from cs_env.industries import industry_data_problem as problem  # (late: the env is not loaded for --help)

    return problem()


def exit_now(status: int) -> NoReturn:
    """End the process at once, once the app has shut down cleanly (its terminal restored).

    What the app keeps is written when it happens (recorded conversations, atomically, on the UI
    thread; training runs are processes of their own), so nothing is left to save here. What a normal
    exit would still do is slow and of no use: joining worker threads (one may be midway through
    importing torch, seconds away) and tearing down torch and stable-baselines3 object by object,
    2-25 s on a loaded machine, while the user waits for the prompt. So: flush, then ``os._exit``.
    """
    import logging

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed or broken stream has nothing left to lose
            stream.flush()
    os._exit(status)


if __name__ == "__main__":
    raise SystemExit(main())
