"""Where studies live: Optuna storages (the embedded SQLite file under ``saves/.studies``, or a URL), the
lock that creates a study once, and the worker marks the app finds a study's processes by. Optuna is
imported inside functions only."""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from cs_tui.files import now_iso
from cs_tui.training.run_lock import flock_holders
from cs_tui.tuning.options import (
    EMBEDDED_DB,
    HEARTBEAT_SECONDS,
    MAX_RETRY,
    SETTINGS,
    STUDIES_DIR,
    TuneInputError,
    TuneOptions,
    settings_of,
)

if TYPE_CHECKING:
    import optuna


def embedded_url(saves: Path) -> str:
    """The default storage: an SQLite file in the saves folder."""
    return f"sqlite:///{(saves / STUDIES_DIR / EMBEDDED_DB).resolve()}"


def shown_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages and meta.json)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _quiet_optuna() -> None:
    import optuna

    # the worker prints each trial's outcome itself; Optuna's own warnings repeat it with a traceback
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def open_storage(url: str | None, saves: Path, heartbeat: int = HEARTBEAT_SECONDS) -> Any:
    """Optuna's RDB storage at ``url`` (default: the embedded SQLite file), heartbeats on.

    Raises:
        TuneInputError: the URL cannot be used or its server cannot be reached.
    """
    _quiet_optuna()
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    url = url or embedded_url(saves)
    given = url  # messages name the URL as the user wrote it
    engine: dict[str, Any] = {}
    scheme = url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                _use_wal(Path(path))
            except (OSError, sqlite3.Error) as exc:
                raise TuneInputError(f"cannot open the study storage {path}: {exc}") from None
        # writers wait for each other instead of failing with "database is locked"
        engine = {"connect_args": {"timeout": 60}}
    elif scheme.startswith("postgresql"):
        engine = {"connect_args": {"connect_timeout": 10}}
        if scheme == "postgresql":  # the driver we install (psycopg 3), whatever SQLAlchemy's default
            url = "postgresql+psycopg" + url[len("postgresql") :]
    try:
        with _schema_lock(url, engine, scheme):
            return RDBStorage(
                url,
                engine_kwargs=engine,
                heartbeat_interval=heartbeat,
                grace_period=3 * heartbeat,
                heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY),
            )
    except ModuleNotFoundError as exc:
        extra = ' (pip install "cs-tui[postgres]")' if "psycopg" in str(exc) else ""
        raise TuneInputError(f"cannot open the study storage {shown_url(given)}: {exc}{extra}") from None
    except Exception as exc:  # sqlalchemy's errors for a bad URL, a refused connection, a wrong password
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "DB access module" in first and scheme.startswith("postgresql"):
            first += ' (PostgreSQL needs psycopg: pip install "cs-tui[postgres]")'

        raise TuneInputError(f"cannot reach the study storage {shown_url(given)}: {first}") from None


# any fixed 64-bit number, the same in every worker: PostgreSQL's advisory locks are named by one
_SCHEMA_LOCK_KEY = 0x63735F7475690001


@contextlib.contextmanager
def _schema_lock(url: str, engine: dict[str, Any], scheme: str) -> Iterator[None]:
    """Hold a PostgreSQL advisory lock while Optuna creates its tables on a server storage.

    RDBStorage creates its tables (and its version row) when it opens; PostgreSQL's ``CREATE ... IF NOT
    EXISTS`` is not atomic, so workers started together on a fresh database failed with "duplicate key
    value violates unique constraint pg_type_typname_nsp_index". The lock makes them take turns; it is
    the session's, so PostgreSQL drops it however the holder dies. Other storages need none: the
    embedded SQLite file takes one writer at a time."""
    if not scheme.startswith("postgresql"):
        yield
        return
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    locker = sqlalchemy.create_engine(url, poolclass=NullPool, **engine)
    try:
        with locker.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})
            try:
                yield
            finally:
                connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), {"key": _SCHEMA_LOCK_KEY})
    finally:
        locker.dispose()


def _use_wal(path: Path) -> None:
    # WAL lets readers (the app) and the writing workers go on at once; it is a property of the file
    connection = sqlite3.connect(path, timeout=60)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
    finally:
        connection.close()


class StudyLock:
    """Serialises "is there room for another trial? then start it" among this host's workers of one
    embedded study, so ``--trials N`` gives exactly N. A server storage has no such lock: workers on
    several hosts may start one trial more than N at the very end. ``release`` may be called twice."""

    def __init__(self, options: TuneOptions, name: str) -> None:
        self._handle: Any = None
        if options.storage is None:
            path = options.saves / STUDIES_DIR / f".{name}.lock"
            path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(path, "a")  # noqa: SIM115 (held across calls, closed in release)
            fcntl.flock(self._handle, fcntl.LOCK_EX)

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def workers_path(saves: Path, name: str) -> Path:
    """The file every worker of study ``name`` on this host holds a shared lock on (see :class:`WorkerMark`)."""
    return saves / STUDIES_DIR / f".{name}.workers"


class WorkerMark:
    """A shared ``flock`` on :func:`workers_path`, held for the life of a worker (and of a ``--jobs``
    supervisor). The kernel lists its holders (``/proc/locks``): those, and only those, are the processes
    the app stops for the study; the kernel drops the lock however a worker dies."""

    def __init__(self, saves: Path, name: str) -> None:
        path = workers_path(saves, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        # never through a planted symlink: the mark is ours to create, in our own folder
        self._fd: int | None = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_SH)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def study_workers(saves: Path, name: str) -> list[int]:
    """The pids holding study ``name``'s :class:`WorkerMark` on this host (none: no worker runs here)."""
    return sorted(set(flock_holders(workers_path(saves, name), "READ")))


def open_study(options: TuneOptions, storage: Any, name: str) -> optuna.Study:
    """Create the study or join it; a study made with other settings is refused (exit status 2)."""
    import optuna

    sampler = optuna.samplers.TPESampler(seed=options.seed * 1000 + options.worker + os.getpid(), constant_liar=True)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=options.startup_trials)
    try:
        study = optuna.create_study(
            study_name=name, storage=storage, direction="maximize", sampler=sampler, pruner=pruner, load_if_exists=True
        )
    except Exception as exc:
        raise TuneInputError(f"cannot open study {name!r}: {exc}") from None
    wanted = settings_of(options)
    have = study.user_attrs.get("settings")
    if have is None:
        study.set_user_attr("settings", wanted)
        study.set_user_attr("created_at", now_iso())
        # the space it draws from (None: the shipped one), so that continuing it (u in the app) draws alike
        space = options.search_space
        study.set_user_attr("search_space", None if space is None else str(Path(space).absolute()))
    elif have != wanted:
        differ = [f"{k} {have.get(k)!r} (not {wanted[k]!r})" for k in SETTINGS if have.get(k) != wanted[k]]
        raise TuneInputError(
            f"study {name!r} was started with other settings: {', '.join(differ)}; give the same ones to "
            "continue it, or another --study",
        )
    study.set_user_attr("trials_wanted", max(int(study.user_attrs.get("trials_wanted", 0)), options.trials))
    return study
