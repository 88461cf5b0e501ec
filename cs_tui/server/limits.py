"""Every bound of the server in one place: what a client may ask for, and how much of it.

A client cannot make the server hold unbounded memory or CPU: sessions, sizes, steps, episodes,
predictions, trainings and request rates all have a ceiling, and a request past one gets a 4xx that
names the field and the ceiling.
"""

from __future__ import annotations

from dataclasses import dataclass

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
#: The environment variable a token may come from instead of ``--token``.
TOKEN_ENV = "CS_TUI_TOKEN"


@dataclass(frozen=True)
class Limits:
    """The server's ceilings (the defaults suit one machine shared by a few users)."""

    max_sessions: int = 256
    idle_timeout_s: float = 600.0
    max_steps_per_session: int = 100_000
    max_body_bytes: int = 64 * 1024
    max_ws_message_bytes: int = 64 * 1024
    max_message_chars: int = 2_000
    max_eval_episodes: int = 5_000
    max_predict_rows: int = 1_000
    max_metrics_records: int = 1_000
    max_concurrent_evaluations: int = 1
    max_concurrent_trainings: int = 2
    max_train_timesteps: int = 5_000_000
    #: requests (and WebSocket messages) per second per client address, and the burst allowed above it
    rate_per_s: float = 2_000.0
    burst: int = 4_000
    max_event_clients: int = 32

    def as_dict(self) -> dict[str, float]:
        """The limits as plain JSON (``GET /config``)."""
        from dataclasses import asdict

        return asdict(self)


def check_at_most(field: str, value: int, ceiling: int) -> None:
    """A 422 naming ``field`` when ``value`` passes this server's ``ceiling`` (the request models hold the
    defaults' ceilings; a server built with lower limits checks its own here)."""
    if value > ceiling:
        from cs_tui.server.sessions import SessionError

        raise SessionError(422, field, f"at most {ceiling:,} on this server, got {value:,}")


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    return host in LOOPBACK_HOSTS or host.startswith("127.")
