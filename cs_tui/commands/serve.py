"""``cs-tui serve [--host 127.0.0.1] [--port 8000]``: the customers and the runs over HTTP and WebSocket.

Binds loopback by default; any other address needs a token (``--token`` or ``$CS_TUI_TOKEN``). Exit
status 2 on bad input (an address without a token, a port in use).
"""

from __future__ import annotations

import argparse
import sys

from cs_tui.commands.arguments import USAGE_ERROR, count_up_to


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve the env (sessions over HTTP/WebSocket) and the runs (REST) to other programs",
        description=(
            "An HTTP + WebSocket server: env sessions (reset/step/state, a numeric and a text view of every turn, "
            "the respond tool for LLM agents) and the runs of the saves folder (models, training, analytics). "
            "OpenAPI docs at /docs. Loopback only unless a token is given."
        ),
    )
    add_bind_flags(parser, 8000)


def add_bind_flags(parser: argparse.ArgumentParser, port: int) -> None:
    """``--host``, ``--port`` and ``--token``: where a server listens and what guards it (serve, web)."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument(
        "--port", type=count_up_to(1, 65535, "the largest TCP port"), default=port, help=f"port (default {port})"
    )
    parser.add_argument(
        "--token", default=None, help="require this token (default: $CS_TUI_TOKEN); needed off loopback"
    )


def run(args: argparse.Namespace) -> int:
    from cs_tui.server.run import ServeError, server_config
    from cs_tui.training.runs import saves_dir

    try:
        config = server_config(saves_dir(args.saves), args.host, args.port, args.token)
    except ServeError as exc:
        print(f"cs-tui serve: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    import uvicorn

    server = uvicorn.Server(config)
    print(f"cs-tui serve: http://{args.host}:{args.port}/docs (Ctrl-C to stop)", file=sys.stderr)
    try:
        server.run()
    except SystemExit as exc:  # uvicorn exits when it cannot bind
        print(f"cs-tui serve: error: cannot listen on {args.host}:{args.port} (in use?)", file=sys.stderr)
        return USAGE_ERROR if exc.code else 0
    return 0
