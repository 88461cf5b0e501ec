"""``cs-tui web [--host 127.0.0.1] [--port 8001]``: the app in a browser (textual-serve).

Loopback by default; any other address needs a token (``--token`` or ``$CS_TUI_TOKEN``), and the page is
then opened as ``http://HOST:PORT/?token=TOKEN``. Exit status 2 on bad input.
"""

from __future__ import annotations

import argparse
import sys

from cs_tui.commands.arguments import USAGE_ERROR
from cs_tui.commands.serve import add_bind_flags


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "web",
        help="serve the app to a web browser",
        description="Serve the cs-tui app to web browsers (each visitor gets their own app). Loopback only unless a "
        "token is given.",
    )
    add_bind_flags(parser, 8001)


def run(args: argparse.Namespace) -> int:
    from cs_tui.server.run import ServeError, check_token
    from cs_tui.server.web import web_server
    from cs_tui.training.runs import saves_dir

    try:
        token = check_token(args.host, args.token)
    except ServeError as exc:
        print(f"cs-tui web: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    query = "/?token=TOKEN" if token else "/"
    print(f"cs-tui web: open http://{args.host}:{args.port}{query} (Ctrl-C to stop)", file=sys.stderr)
    try:
        web_server(saves_dir(args.saves), args.host, args.port, token).serve()
    except OSError as exc:
        print(f"cs-tui web: error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return USAGE_ERROR
    return 0
