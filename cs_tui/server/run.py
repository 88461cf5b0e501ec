"""Starting the server: uvicorn with the limits applied, on loopback unless a token guards it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cs_tui.server.limits import TOKEN_ENV, Limits, is_loopback


class ServeError(ValueError):
    """The server cannot start as asked; the message says why and what to do."""


def check_token(host: str, token: str | None) -> str | None:
    """The token to require: ``token``, else ``$CS_TUI_TOKEN``; required when ``host`` is not loopback."""
    token = token or os.environ.get(TOKEN_ENV) or None
    if token is not None and len(token) < 16:
        raise ServeError(
            "the token must be at least 16 characters (make one: "
            "python -c 'import secrets; print(secrets.token_urlsafe())')"
        )
    if token is None and not is_loopback(host):
        raise ServeError(
            f"binding {host} opens the server to other machines: give a token with --token or ${TOKEN_ENV} "
            "(clients send it as 'Authorization: Bearer TOKEN', or ?token= on a WebSocket)"
        )
    return token


def server_config(
    saves: Path, host: str = "127.0.0.1", port: int = 8000, token: str | None = None, limits: Limits | None = None
) -> Any:
    """A ``uvicorn.Config`` for the app over ``saves`` (the WebSocket message size bounded too)."""
    import uvicorn

    from cs_tui.server.app import create_app

    limits = limits or Limits()
    app = create_app(saves, token=check_token(host, token), limits=limits)
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        ws_max_size=limits.max_ws_message_bytes,
        limit_concurrency=limits.max_sessions * 4,
        timeout_keep_alive=30,
        log_level="warning",
        server_header=False,
    )
