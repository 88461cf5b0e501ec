"""Client sessions: each its own env (industry, seed, reset options as in Python), bounded and reaped.

A session is created with an industry and a turn limit, then driven by ``reset`` / ``step`` / ``state``
over HTTP or its WebSocket. The store refuses a session past ``max_sessions``, a step past
``max_steps_per_session``, and closes sessions idle for ``idle_timeout_s``. Every error is a
:class:`SessionError` with the HTTP status and the field it is about; the env's own checks (industry,
reset options, actions) give the messages.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cs_env import ENV_ID
from cs_env.domain import N_STRATEGIES, STRATEGY_NAMES
from cs_env.env import CustomerSupportEnv
from cs_env.files import is_int
from cs_tui.server.limits import Limits
from cs_tui.server.views import numbers, text_view


class SessionError(Exception):
    """A request a session cannot serve: ``status`` (4xx), the ``field`` it is about, and why."""

    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(message)
        self.status, self.field, self.message = status, field, message

    def as_dict(self) -> dict[str, Any]:
        return {"detail": [{"field": self.field, "problem": self.message}]}


def strategy_code(strategy: Any, field_name: str = "strategy") -> int:
    """A strategy from its name or number; :class:`SessionError` naming the valid ones."""
    if isinstance(strategy, str) and strategy in STRATEGY_NAMES:
        return STRATEGY_NAMES.index(strategy)
    if is_int(strategy) and 0 <= strategy < N_STRATEGIES:
        return strategy
    raise SessionError(
        422,
        field_name,
        f"unknown strategy {str(strategy)[:40]!r}: give 0-{N_STRATEGIES - 1} or one of {', '.join(STRATEGY_NAMES)}",
    )


def shown_info(env: CustomerSupportEnv, info: dict[str, Any], done: bool) -> dict[str, Any]:
    """``info`` as a client sees it: names for the env's codes (the components together in
    ``reward_components``), and the hidden truth (``hidden_*``) only once the conversation is over, with the
    customer's traits revealed (``hidden_traits``).

    A remote agent is scored like any other, so mid-conversation it sees what a human agent could; the
    reveal at the end is there for its author's analysis, as the play pane shows it.
    """
    named = env.named_info(info)  # names and plain numbers, ready for JSON
    if done:
        return named | {"hidden_traits": env.hidden_traits()}
    return {key: value for key, value in named.items() if not key.startswith("hidden_")}


@dataclass(eq=False)
class Session:
    """One client's env and what the server knows of it."""

    id: str
    industry: str
    max_turns: int
    env: CustomerSupportEnv
    created: float
    last_used: float
    steps: int = 0
    episodes: int = 0
    obs: np.ndarray | None = None
    done: bool = False
    last: dict[str, Any] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: a WebSocket is attached (one at a time)
    attached: bool = False

    def turn(self, view: str, **numbers_of_turn: Any) -> dict[str, Any]:
        """The turn's reply in the asked view(s): ``numeric``, ``text`` or ``both``."""
        assert self.obs is not None
        reply: dict[str, Any] = {"session": self.id, **numbers_of_turn}
        if view in ("numeric", "both"):
            reply["observation"] = numbers(self.obs)
        if view in ("text", "both"):
            reply["text"] = text_view(self.obs, self.env)
        return reply


class SessionStore:
    """The server's sessions: create, find, reset, step, state, delete, and reap the idle ones."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._sessions)

    def create(self, industry: str = "mixed", max_turns: int = 10) -> Session:
        """A new session with its own env; 429 when the server holds ``max_sessions`` already."""
        self.reap()
        try:
            env = CustomerSupportEnv(industry, max_turns=max_turns)
        except ValueError as exc:
            raise SessionError(422, "industry" if "industry" in str(exc) else "max_turns", str(exc)) from None
        with self._lock:
            if len(self._sessions) >= self.limits.max_sessions:
                raise SessionError(
                    429, "sessions", f"the server holds its maximum of {self.limits.max_sessions} sessions: "
                    "end one (DELETE /sessions/ID) or wait for idle ones to close"
                )  # fmt: skip
            now = time.monotonic()
            session = Session(secrets.token_urlsafe(12), env.industry, env.max_turns, env, now, now)
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str) -> Session:
        session = self._sessions.get(session_id)
        if session is None:
            raise SessionError(404, "session", f"no session {session_id[:40]!r} (it ended, or idled out)")
        session.last_used = time.monotonic()
        return session

    def delete(self, session_id: str) -> None:
        with self._lock:
            session = self._sessions.pop(session_id, None)
        if session is None:
            raise SessionError(404, "session", f"no session {session_id[:40]!r}")
        session.env.close()

    def reap(self) -> int:
        """Close the sessions idle longer than the timeout (an attached WebSocket keeps one open); how many."""
        cutoff = time.monotonic() - self.limits.idle_timeout_s
        with self._lock:
            idle = [s for s in self._sessions.values() if s.last_used < cutoff and not s.attached]
            for session in idle:
                del self._sessions[session.id]
        for session in idle:
            session.env.close()
        return len(idle)

    # -- the env API --------------------------------------------------------------------------
    def reset(
        self, session: Session, seed: int | None = None, options: dict[str, Any] | None = None, view: str = "both"
    ) -> dict[str, Any]:
        with session.lock:
            try:
                obs, info = session.env.reset(seed=seed, options=options or None)
            except ValueError as exc:
                raise SessionError(422, "options", str(exc)) from None
            session.obs, session.done, session.episodes = obs, False, session.episodes + 1
            session.messages = []
            # the protocol's info names its codes (and keeps the components together), as it always did
            info = shown_info(session.env, info, done=False)
            session.last = {"reward": 0.0, "terminated": False, "truncated": False, "info": info}
            return session.turn(view, **session.last)

    def step(self, session: Session, strategy: Any, message: str | None = None, view: str = "both") -> dict[str, Any]:
        action = strategy_code(strategy)
        with session.lock:
            if session.obs is None:
                raise SessionError(409, "session", "no conversation yet: reset the session first")
            if session.done:
                raise SessionError(409, "session", "the conversation has ended: reset the session to start a new one")
            if session.steps >= self.limits.max_steps_per_session:
                raise SessionError(
                    429, "steps", f"this session played its maximum of {self.limits.max_steps_per_session:,} "
                    "steps: start a new session"
                )  # fmt: skip
            obs, reward, terminated, truncated, info = session.env.step(action)
            session.steps += 1
            session.obs, session.done = obs, bool(terminated or truncated)
            if message is not None:
                session.messages.append(message)
            session.last = {
                "reward": float(reward),
                "terminated": bool(terminated),
                "truncated": bool(truncated),
                "info": shown_info(session.env, info, done=session.done),
            }
            return session.turn(view, **session.last)

    def state(self, session: Session, view: str = "both") -> dict[str, Any]:
        """Where the session stands, without playing a turn."""
        with session.lock:
            summary = {
                "env_id": ENV_ID,
                "industry": session.industry,
                "max_turns": session.max_turns,
                "steps": session.steps,
                "episodes": session.episodes,
                "done": session.done,
                "messages": list(session.messages),
            }
            if session.obs is None:
                return {"session": session.id, **summary}
            return session.turn(view, **summary, **session.last)
