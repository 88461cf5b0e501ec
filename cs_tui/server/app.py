"""The FastAPI app: env sessions over HTTP and WebSocket, the seed's REST surface, OpenAPI at ``/docs``.

Request bodies are pydantic models that forbid unknown fields, NaN and infinities and bound every
number; a bad request gets a 4xx whose ``detail`` names each field and its problem (never the input
echoed back, never a traceback). :class:`~cs_tui.server.security.Guard` checks token, size and rate
before any route runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from cs_env import ENV_ID
from cs_env.env import OBS_NAMES
from cs_tui.seeds import MAX_SEED
from cs_tui.server.limits import Limits, check_at_most
from cs_tui.server.security import Guard, RateLimiter, client_of
from cs_tui.server.sessions import Session, SessionError, SessionStore
from cs_tui.server.views import respond_tool

View = Literal["numeric", "text", "both"]
Strategy = Annotated[int, Field(ge=0, le=7)] | Annotated[str, Field(max_length=40)]
MAX_TURNS_LIMIT = 100
#: How often idle sessions are looked for.
REAP_EVERY_S = 5.0


class Strict(BaseModel):
    """A request body: unknown fields, NaN and infinities, and numbers given as strings refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)


class NewSession(Strict):
    industry: str = Field("mixed", max_length=40, description="an industry name, or mixed")
    max_turns: int = Field(10, ge=1, le=MAX_TURNS_LIMIT, description="the conversation's turn limit")


class ResetOptions(Strict):
    """``reset(options=...)``: what to pin of the starting situation (as in Python)."""

    inquiry: str | None = Field(None, max_length=40)
    tier: Annotated[int, Field(ge=0, le=2)] | Annotated[str, Field(max_length=20)] | None = None
    sentiment: Annotated[int, Field(ge=0, le=4)] | Annotated[str, Field(max_length=20)] | None = None
    urgency: int | None = Field(None, ge=0, le=4)
    complexity: float | None = Field(None, ge=0, le=1)
    savvy: float | None = Field(None, ge=0, le=1)
    openness: float | None = Field(None, ge=0, le=1)
    patience: float | None = Field(None, ge=0, le=1)
    needs_specialist: bool | None = None


class Reset(Strict):
    seed: int | None = Field(None, ge=0, le=MAX_SEED)
    options: ResetOptions | None = None
    view: View = "both"


class Step(Strict):
    strategy: Strategy = Field(description="a strategy's name or number (the respond tool's argument)")
    message: str | None = Field(None, max_length=Limits().max_message_chars)
    view: View = "both"


class WsReset(Reset):
    type: Literal["reset"]


class WsStep(Step):
    type: Literal["step"]


class WsState(Strict):
    type: Literal["state"]
    view: View = "both"


WS_MESSAGE: TypeAdapter[WsReset | WsStep | WsState] = TypeAdapter(
    Annotated[WsReset | WsStep | WsState, Field(discriminator="type")]
)


#: pydantic's names for the members of a union, which it puts in an error's location: not field names
TYPE_TAGS = ("int", "str", "float", "bool", "list", "dict", "none")


def problems(exc: ValidationError | RequestValidationError) -> list[dict[str, str]]:
    """Each field that is wrong and why (pydantic's message), without the input it was given."""
    found: dict[str, list[str]] = {}
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            where, problem = "body", f"malformed JSON: {error.get('ctx', {}).get('error', 'cannot be parsed')}"
        else:
            parts = [str(p) for p in error.get("loc", ()) if p != "body"]
            kept = [p for p in parts if p.split("-")[-1].split("[")[0] not in TYPE_TAGS]
            where, problem = ".".join(kept) or "body", str(error.get("msg", "invalid"))
        found.setdefault(where, [])
        if problem[:200] not in found[where]:
            found[where].append(problem[:200])
    return [{"field": where, "problem": "; or ".join(said)} for where, said in found.items()]


def _options(options: ResetOptions | None) -> dict[str, Any] | None:
    return options.model_dump(exclude_none=True) if options is not None else None


def create_app(saves: Path, *, token: str | None = None, limits: Limits | None = None) -> Any:
    """The server's ASGI app (FastAPI behind the guard) over the runs in ``saves``."""
    limits = limits or Limits()
    store = SessionStore(limits)
    limiter = RateLimiter(limits.rate_per_s, limits.burst)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async def reaper() -> None:
            while True:
                await asyncio.sleep(REAP_EVERY_S)
                store.reap()

        task = asyncio.create_task(reaper())
        yield
        task.cancel()

    app = FastAPI(
        title="cs-tui",
        summary=f"The {ENV_ID} customers over HTTP and WebSocket, and the runs of a saves folder",
        lifespan=lifespan,
    )
    app.state.store, app.state.limits, app.state.saves = store, limits, saves

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": problems(exc)}, status_code=422)

    @app.exception_handler(SessionError)
    async def refused(_: Request, exc: SessionError) -> JSONResponse:
        return JSONResponse(exc.as_dict(), status_code=exc.status)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:  # a bug of ours: no traceback to the client
        return JSONResponse({"detail": [{"field": "server", "problem": "internal error"}]}, status_code=500)

    # -- sessions over HTTP ------------------------------------------------------------------
    @app.post("/sessions", status_code=201, tags=["sessions"])
    def new_session(body: NewSession | None = None) -> dict[str, Any]:
        """Start a session: its own env of this industry and turn limit. Then reset it."""
        body = body or NewSession.model_validate({})
        session = store.create(body.industry, body.max_turns)
        return _describe(session, limits)

    @app.get("/sessions", tags=["sessions"])
    def count_sessions() -> dict[str, int]:
        """How many sessions the server holds, and its maximum."""
        return {"count": len(store), "max": limits.max_sessions}

    @app.post("/sessions/{session_id}/reset", tags=["sessions"])
    def reset(session_id: str, body: Reset | None = None) -> dict[str, Any]:
        """A new conversation: ``seed`` and ``options`` as ``env.reset(seed=, options=)``."""
        body = body or Reset.model_validate({})
        return store.reset(store.get(session_id), body.seed, _options(body.options), body.view)

    @app.post("/sessions/{session_id}/step", tags=["sessions"])
    def step(session_id: str, body: Step) -> dict[str, Any]:
        """Play one turn: the ``respond`` tool's arguments (``strategy``, optional ``message``)."""
        check_at_most("message", len(body.message or ""), limits.max_message_chars)
        return store.step(store.get(session_id), body.strategy, body.message, body.view)

    @app.get("/sessions/{session_id}/state", tags=["sessions"])
    def state(session_id: str, view: View = "both") -> dict[str, Any]:
        """Where the session stands."""
        return store.state(store.get(session_id), view)

    @app.delete("/sessions/{session_id}", status_code=204, tags=["sessions"])
    def end(session_id: str) -> Response:
        """End a session now."""
        store.delete(session_id)
        return Response(status_code=204)

    # -- sessions over WebSocket -------------------------------------------------------------
    @app.websocket("/sessions/{session_id}/ws")
    async def attach(websocket: WebSocket, session_id: str) -> None:
        """Drive an existing session: one WebSocket at a time; the session outlives the socket."""
        try:
            session = store.get(session_id)
        except SessionError as exc:
            await websocket.close(code=1008, reason=exc.message[:120])
            return
        if session.attached:
            await websocket.close(code=1008, reason="this session already has a WebSocket")
            return
        await _drive(websocket, session, owned=False)

    @app.websocket("/sessions/ws")
    async def open_session(
        websocket: WebSocket,
        industry: Annotated[str, Query(max_length=40)] = "mixed",
        max_turns: Annotated[int, Query(ge=1, le=MAX_TURNS_LIMIT)] = 10,
    ) -> None:
        """A session that lives as long as this WebSocket: created on connect, ended on disconnect."""
        try:
            session = store.create(industry, max_turns)
        except SessionError as exc:
            await websocket.close(code=1013 if exc.status == 429 else 1008, reason=exc.message[:120])
            return
        await _drive(websocket, session, owned=True)

    async def _drive(websocket: WebSocket, session: Session, *, owned: bool) -> None:
        session.attached = True
        client = client_of(websocket.scope)
        try:
            await websocket.accept()
            await websocket.send_json({"type": "session", **_describe(session, limits)})
            while True:
                text = await websocket.receive_text()
                if not limiter.allow(client):
                    await websocket.send_json(_ws_error(429, "rate", "too many messages: slow down"))
                    continue
                await websocket.send_text(json.dumps(_answer(text, session)))
        except WebSocketDisconnect:
            pass
        finally:
            session.attached = False
            if owned:
                with contextlib.suppress(SessionError):
                    store.delete(session.id)

    def _answer(text: str, session: Session) -> dict[str, Any]:
        try:
            message = WS_MESSAGE.validate_json(text)
        except ValidationError as exc:
            return {"type": "error", "status": 422, "detail": problems(exc)}
        try:
            session.last_used = time.monotonic()
            if isinstance(message, WsReset):
                reply = store.reset(session, message.seed, _options(message.options), message.view)
            elif isinstance(message, WsStep):
                check_at_most("message", len(message.message or ""), limits.max_message_chars)
                reply = store.step(session, message.strategy, message.message, message.view)
            else:
                reply = store.state(session, message.view)
        except SessionError as exc:
            return _ws_error(exc.status, exc.field, exc.message)
        return {"type": message.type, **reply}

    from cs_tui.server.rest import add_rest_routes

    add_rest_routes(app, saves, limits, store)
    return Guard(app, token=token, limits=limits, limiter=limiter)


def _ws_error(status: int, field: str, problem: str) -> dict[str, Any]:
    return {"type": "error", "status": status, "detail": [{"field": field, "problem": problem}]}


def _describe(session: Session, limits: Limits) -> dict[str, Any]:
    return {
        "session": session.id,
        "env_id": ENV_ID,
        "industry": session.industry,
        "max_turns": session.max_turns,
        "observation_names": list(OBS_NAMES),
        "tool": respond_tool(limits.max_message_chars),
    }
