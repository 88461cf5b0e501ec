"""The server's guards: a token on every HTTP request and WebSocket, bounded bodies, and 429 for floods.

One ASGI middleware does all three before any route runs, so no route can forget them. The token is
compared in constant time; a request without it gets 401 (a WebSocket is closed with 1008, policy
violation). A body longer than ``max_body_bytes`` gets 413 (one that does not say its length gets 411).
Each client address has a token bucket of ``rate_per_s`` requests a second (``burst`` at once); past it,
429. WebSocket messages draw from the same bucket (``RateLimiter.allow``), per message.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from cs_tui.server.limits import Limits

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
#: Most addresses whose buckets are remembered (a spray of addresses cannot grow memory without end).
MAX_TRACKED_CLIENTS = 10_000


class RateLimiter:
    """A token bucket per client address."""

    def __init__(self, rate_per_s: float, burst: int) -> None:
        self.rate, self.burst = rate_per_s, float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, client: str) -> bool:
        now = time.monotonic()
        tokens, last = self._buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if len(self._buckets) >= MAX_TRACKED_CLIENTS and client not in self._buckets:
            self._buckets.clear()  # rare: many addresses at once; forgetting them only refills buckets
        if tokens < 1:
            self._buckets[client] = (tokens, now)
            return False
        self._buckets[client] = (tokens - 1, now)
        return True


def token_of(scope: Scope) -> str | None:
    """The token a request carries: ``Authorization: Bearer T`` or ``?token=T`` (browsers' WebSockets
    cannot set headers)."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            text = value.decode("latin-1")
            if text.lower().startswith("bearer "):
                return text[7:].strip()
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return query["token"][0] if "token" in query else None


def client_of(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


async def _reply(send: Send, status: int, field: str, problem: str, headers: list[tuple[bytes, bytes]] = ()) -> None:  # type: ignore[assignment]
    body = json.dumps({"detail": [{"field": field, "problem": problem}]}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Guard:
    """ASGI middleware: token, body size and rate checks before the app sees a request."""

    def __init__(self, app: ASGIApp, *, token: str | None, limits: Limits, limiter: RateLimiter) -> None:
        self.app, self.token, self.limits, self.limiter = app, token, limits, limiter

    def _authorized(self, scope: Scope) -> bool:
        if self.token is None:
            return True
        given = token_of(scope)
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if not self._authorized(scope):
            if kind == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": "a valid token is required"})
            else:
                await _reply(send, 401, "token", "a valid token is required (Authorization: Bearer TOKEN)",
                             [(b"www-authenticate", b"Bearer")])  # fmt: skip
            return
        if not self.limiter.allow(client_of(scope)):
            if kind == "websocket":
                await send({"type": "websocket.close", "code": 1013, "reason": "too many requests: slow down"})
            else:
                await _reply(send, 429, "rate", f"more than {self.limits.rate_per_s:g} requests a second: slow down")
            return
        if kind == "http" and scope["method"] in ("POST", "PUT", "PATCH"):
            headers = dict(scope.get("headers", ()))
            length = headers.get(b"content-length")
            if length is None:
                if headers.get(b"transfer-encoding"):
                    await _reply(send, 411, "body", "a request body must say its length (Content-Length)")
                    return
            elif not length.isdigit() or int(length) > self.limits.max_body_bytes:
                await _reply(send, 413, "body", f"the body is larger than {self.limits.max_body_bytes:,} bytes")
                return
        await self.app(scope, receive, send)
