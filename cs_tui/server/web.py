"""``cs-tui web``: the same Textual app in a browser, through textual-serve (each visitor gets their own app).

textual-serve serves a page whose terminal (xterm.js) talks over a WebSocket to a ``python -m cs_tui``
process started per connection. It has no access control of its own, so off loopback a token is
required here: the page is opened as ``/?token=TOKEN``, which sets an HttpOnly, same-site cookie; the
WebSocket that starts an app process (and a download) is refused without that cookie or ``?token=``.
The token rules are the API server's (:func:`cs_tui.server.run.check_token`).
"""

from __future__ import annotations

import hmac
import shlex
import sys
from pathlib import Path
from typing import Any

from aiohttp import web
from textual_serve.server import Server

COOKIE = "cs_tui_token"


class GuardedServer(Server):
    """textual-serve's server, refusing the app (page, WebSocket, downloads) without the token when it has one."""

    def __init__(self, command: str, *, token: str | None, **kwargs: Any) -> None:
        super().__init__(command, **kwargs)
        self.token = token

    def _has_token(self, request: web.Request) -> bool:
        if self.token is None:
            return True
        given = request.query.get("token") or request.cookies.get(COOKIE) or ""
        return hmac.compare_digest(given.encode(), self.token.encode())

    def _refuse(self) -> web.Response:
        return web.json_response(
            {"detail": [{"field": "token", "problem": "a valid token is required: open /?token=TOKEN"}]}, status=401
        )

    async def handle_index(self, request: web.Request) -> Any:
        if not self._has_token(request):
            return self._refuse()
        response = await super().handle_index(request)
        if self.token is not None:
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict")
        return response

    async def handle_websocket(self, request: web.Request) -> Any:
        if not self._has_token(request):
            return self._refuse()
        return await super().handle_websocket(request)

    async def handle_download(self, request: web.Request) -> Any:
        if not self._has_token(request):
            return self._refuse()
        return await super().handle_download(request)


def app_command(saves: Path) -> str:
    """The command each browser connection runs: this Python, this package's app, this saves folder."""
    return shlex.join([sys.executable, "-m", "cs_tui", "--saves", str(saves.absolute())])


def web_server(saves: Path, host: str, port: int, token: str | None) -> GuardedServer:
    """The browser server for the app over ``saves`` (``token`` already checked by ``check_token``)."""
    return GuardedServer(app_command(saves), token=token, host=host, port=port, title="cs-tui")
