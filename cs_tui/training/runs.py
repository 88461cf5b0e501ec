"""Run folders under ``saves/``: where they live, how files in them are written, how they are read back.

A run is ``saves/<name>/`` holding ``meta.json`` (what, how, status: a
:class:`~cs_tui.training.run_record.RunRecord`), ``metrics.jsonl`` (an append-only
stream of records the app tails), ``model.zip`` (latest), ``best.zip`` (best evaluation so far),
``checkpoints/`` (the last few) and, for DQN, ``replay_buffer.npz``.

Every whole file is written atomically (a temp file in the same folder, flushed, fsynced, then
``os.replace``d), so ``kill -9`` at any moment leaves either the old file or the new one, never half of
one. The metrics stream is the one exception by design: records are appended one line per ``write``,
and readers skip a partial last line.

This module is read by the app: it must stay light (no torch, no stable-baselines3).
"""

from __future__ import annotations

import contextlib
import enum
import errno
import json
import math
import os
import stat
import tempfile
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cs_env import files
from cs_env.files import FileReadError, kind_of, read_regular
from cs_tui.saves import ENV_VAR, saves_dir  # noqa: F401  (re-exported: the saves folder is named there)

if TYPE_CHECKING:
    from cs_tui.training.run_record import RunRecord

SCHEMA = 1
META_FILE = "meta.json"
METRICS_FILE = "metrics.jsonl"
MODEL_FILE = "model.zip"
BEST_FILE = "best.zip"
CHECKPOINTS_DIR = "checkpoints"
REPLAY_BUFFER_FILE = "replay_buffer.npz"
#: Held (``fcntl.flock``) by the one process training the run; the kernel drops it when that process dies.
LOCK_FILE = ".lock"
#: The most ``read_json`` reads: a meta.json is a few KB; anything larger is not one of ours.
MAX_JSON_BYTES = 4 << 20
#: The most one read of ``metrics.jsonl`` takes; a tail goes on from where the last read stopped.
MAX_METRICS_CHUNK = 8 << 20
#: The longest metrics line read (a ``train`` record holds a second's episode returns: a few KB); a
#: longer one is skipped, as a line that is no JSON is.
MAX_METRICS_LINE = 1 << 20
#: The files and folders a trainer writes in its run folder: never through a symlink, never a FIFO.
WRITTEN = (LOCK_FILE, META_FILE, METRICS_FILE, MODEL_FILE, BEST_FILE, REPLAY_BUFFER_FILE, CHECKPOINTS_DIR)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class RunStatus(enum.StrEnum):
    """A run's status: the first five are what ``meta.json`` records; the views add the last three.

    A ``StrEnum``, so a status compares equal to the word meta.json holds (``RunStatus.DIED == "died"``).
    """

    RUNNING = "running"
    FINISHED = "finished"
    INTERRUPTED = "interrupted"  # stopped by a signal (Ctrl-C, SIGTERM, SIGHUP, the app's x): resumable
    FAILED = "failed"  # an error, recorded in meta.json
    PRUNED = "pruned"  # a trial of `cs-tui tune` its study's pruner stopped early (checkpointed, resumable)
    DIED = "died"  # recorded running, but no process trains it (kill -9, a crash, a reboot): resumable
    STARTING = "starting"  # the app launched a trainer that has not written meta.json yet
    BROKEN = "broken"  # meta.json cannot be read


#: The statuses a trainer records in meta.json.
STATUSES = tuple(s.value for s in (RunStatus.RUNNING, RunStatus.FINISHED, RunStatus.INTERRUPTED, RunStatus.FAILED,
                                   RunStatus.PRUNED))  # fmt: skip
# read once at import (setting it is the only way to read it, and not thread-safe later)
_UMASK = os.umask(0o022)
os.umask(_UMASK)


class RunError(ValueError):
    """A run folder or one of its files cannot be read; the message names the file and the problem."""


def now_iso() -> str:
    """The current time as an ISO 8601 string in UTC (the timestamps of ``meta.json``)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


# -- writing ---------------------------------------------------------------------------------


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers (and a crash) see the old file or the new one, never a mix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file private (0600); a saved file gets the usual permissions instead
        with contextlib.suppress(OSError):
            os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # the rename itself is durable only once the folder's entry is on disk (POSIX); best effort elsewhere
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_text(path: Path | str, text: str) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def write_report(path: Path | str, text: str) -> None:
    """Write a report to a path the user named, so that it reaches what is there.

    A regular file or a new path is written atomically; a symlink's target is replaced, the link
    kept; a FIFO, a character device (``/dev/stdout``) or a socket is written to as a stream, since
    replacing it would swap a regular file in for the device. ``OSError`` for a folder or an unwritable
    path (its message names the path).
    """
    path = Path(path)
    try:
        mode: int | None = os.stat(path).st_mode  # follows symlinks: what the user's path reaches
    except FileNotFoundError:
        mode = None
    if mode is not None and stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", str(path))
    if mode is None or stat.S_ISREG(mode):
        atomic_write_text(Path(os.path.realpath(path)), text)
        return
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(text)


def report_target_problem(path: Path | str) -> str | None:
    """Why a report cannot be written to ``path`` (checked before the work that produces it), or None."""
    path = Path(path)
    try:
        mode: int | None = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    if mode is not None:
        if stat.S_ISDIR(mode):
            return f"{path} is a folder; give a file name, e.g. {path / 'report.xml'}"
        return None if os.access(path, os.W_OK) else f"{path}: not writable"
    parent = Path(os.path.realpath(path)).parent
    while not parent.exists() and parent != parent.parent:  # atomic writes create missing folders
        parent = parent.parent
    if not parent.is_dir():
        return f"{path}: {parent} is not a folder"
    return None if os.access(parent, os.W_OK) else f"{path}: the folder {parent} is not writable"


def remove_temp_files(folder: Path | str) -> int:
    """Delete the temp files of writes that a ``kill -9`` cut short (``.NAME.*.tmp``), in a run folder
    and its checkpoints; the number removed. Call it only while holding the run's lock: then no write
    of this run is under way."""
    removed = 0
    for directory in (Path(folder), Path(folder) / CHECKPOINTS_DIR):
        if directory.is_symlink():  # a link planted in the run: what it points to is not ours to clean
            continue
        for temp in directory.glob(".*.tmp"):
            with contextlib.suppress(OSError):
                temp.unlink()
                removed += 1
    return removed


def _json_default(value: Any) -> Any:
    # numpy scalars and arrays come out of metrics; turn them into plain JSON without importing numpy here
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _clean(value: Any) -> Any:
    """Replace NaN and infinities (not valid JSON) with None, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def to_json(obj: Any, *, indent: int | None = None) -> str:
    """Strict JSON (NaN → null; numpy values as plain numbers)."""
    plain = json.loads(json.dumps(obj, default=_json_default))
    return json.dumps(_clean(plain), indent=indent, allow_nan=False)


def atomic_write_json(path: Path | str, obj: Any) -> None:
    """Write ``obj`` as indented, strict JSON through :func:`atomic_write_bytes`."""
    atomic_write_text(path, to_json(obj, indent=2) + "\n")


def open_run_file(path: Path | str, flags: int) -> int:
    """A descriptor of a file a run writes (``.lock``, ``metrics.jsonl``), opened in place.

    Never through a symlink (``O_NOFOLLOW``: a link planted in a copied or shared run folder cannot make
    us write outside it) and never blocking on a FIFO (``O_NONBLOCK``); anything but a regular file is
    refused with :class:`~cs_env.files.FileReadError` (an ``OSError`` whose text names the file).
    """
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | _O_CLOEXEC, 0o666)
    except OSError as exc:
        reason = {errno.ELOOP: "is a symbolic link; a run's files are never written through one",
                  errno.ENXIO: "is a FIFO or a socket, not a regular file"}.get(exc.errno or 0)  # fmt: skip
        if reason is None:
            raise
        raise FileReadError(exc.errno, reason, str(path)) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise FileReadError(errno.EINVAL, f"is {kind_of(mode)}, not a regular file", str(path))
    return fd


def make_run_folder(path: Path | str) -> None:
    """Create a folder inside a run (``checkpoints/``), or accept it if it is one: a symlink or a file
    there is refused (:class:`~cs_env.files.FileReadError`), so nothing is written or deleted through it."""
    try:
        os.mkdir(path)
        return
    except FileExistsError:
        pass
    mode = os.lstat(path).st_mode
    if stat.S_ISLNK(mode):
        raise FileReadError(errno.ELOOP, "is a symbolic link; a run's files are never written through one", str(path))
    if not stat.S_ISDIR(mode):
        raise FileReadError(errno.ENOTDIR, f"is {kind_of(mode)}, not a folder", str(path))


def append_jsonl(path: Path | str, record: dict[str, Any]) -> None:
    """Append one record as one line with a single ``write`` (the metrics stream), never through a symlink."""
    data = (to_json(record) + "\n").encode("utf-8")
    fd = open_run_file(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        while data:  # one write, unless the disk takes only part of it (then it says why on the next)
            data = data[os.write(fd, data) :]
    finally:
        os.close(fd)


def repair_jsonl(path: Path | str) -> None:
    """Cut a partial last line (left by a kill mid-append) so the next append starts on a fresh line.

    The file is truncated in place after its last newline (read backwards from its end, so a long
    stream is not read whole), never through a symlink.
    """
    try:
        fd = open_run_file(path, os.O_RDWR)
    except FileNotFoundError:
        return
    try:
        end = os.fstat(fd).st_size
        keep = end
        while keep > 0:
            start = max(0, keep - (1 << 20))
            chunk = os.pread(fd, keep - start, start)
            if keep == end and chunk.endswith(b"\n"):
                return  # whole lines only: nothing to cut
            at = chunk.rfind(b"\n")
            if at >= 0:
                keep = start + at + 1
                break
            keep = start
        os.ftruncate(fd, keep)
        os.fsync(fd)
    finally:
        os.close(fd)


def written_files_problem(run_path: Path | str) -> str | None:
    """Why a trainer must not write in this run folder, or None: one of the files it writes
    (:data:`WRITTEN`) is a symbolic link, a FIFO, a device, a folder where a file belongs (or a file where
    ``checkpoints/`` belongs). Checked before a run is resumed and anything in it is opened."""
    for name in WRITTEN:
        path = Path(run_path) / name
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            continue
        except OSError as exc:
            return f"{path}: {exc.strerror or exc}"
        folder = name == CHECKPOINTS_DIR
        if stat.S_ISLNK(mode):
            try:
                os.stat(path)
                what = f"a symbolic link (to {os.readlink(path)})"
            except OSError as exc:
                what = "a symbolic link loop" if exc.errno == errno.ELOOP else "a broken symbolic link"
            return (
                f"{path} is {what}; cs-tui writes a run's files only inside its folder, never through a link: "
                "put the file itself there, or remove the link"
            )
        if stat.S_ISDIR(mode) != folder or not (folder or stat.S_ISREG(mode)):
            return f"{path} is {kind_of(mode)}, not {'a folder' if folder else 'a regular file'}: remove it"
    return None


# -- reading ---------------------------------------------------------------------------------


def read_json(path: Path) -> dict[str, Any]:
    """Read a JSON object, raising :class:`RunError` naming the file for anything wrong with it."""
    try:
        text = read_regular(path, MAX_JSON_BYTES).decode("utf-8")
    except FileNotFoundError:
        raise RunError(f"{path}: file not found") from None
    except OSError as exc:
        raise RunError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise RunError(f"{path}: cannot read: {exc}") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RunError(f"{path}: not valid JSON: {exc}") from None
    except RecursionError:
        raise RunError(f"{path}: not valid JSON: nested too deeply") from None
    if not isinstance(value, dict):
        raise RunError(f"{path}: expected a JSON object, found {type(value).__name__}")
    return value


def parse_jsonl(data: bytes) -> tuple[list[dict[str, Any]], int]:
    """Records from the complete lines of ``data`` and the number of bytes they span.

    A line that is not a plain record (:func:`plain_record`: no JSON, nested, a number too large, a
    field of the wrong kind, longer than :data:`MAX_METRICS_LINE`) is skipped: one bad line costs only
    itself. An unterminated last line is left for the next read.
    """
    end = data.rfind(b"\n") + 1
    records = []
    for line in data[:end].splitlines():
        if not line.strip() or len(line) > MAX_METRICS_LINE:
            continue
        try:
            record = files.parse_json(line, max_nesting=2)
        except ValueError:
            continue
        if plain_record(record):
            records.append(record)
    return records, end


#: Fields a metrics record must hold in a certain kind when it holds them: name -> kind
_RECORD_KINDS = {
    "type": "word", "status": "word", "message": "text", "timesteps": "count", "episodes": "count",
    "episode_returns": "numbers", "strategy_usage": "table", "losses": "table", "is_best": "flag",
}  # fmt: skip
#: The largest magnitude of a number in a record: a float's range (a 400-digit integer is no figure of ours)
_LARGEST = 1.7e308


def _plain_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return -_LARGEST <= value <= _LARGEST  # (NaN fails too)


def _plain_value(value: Any, kind: str | None) -> bool:
    """Whether one field of a metrics record is of its kind (a field not in the table: any plain value)."""
    if kind is None:
        simple = value is None or isinstance(value, bool | str) or _plain_number(value)
        return simple or _plain_value(value, "numbers") or _plain_value(value, "table")
    checks = {
        "word": lambda v: isinstance(v, str) and len(v) <= 64,
        "text": lambda v: v is None or isinstance(v, str),
        "count": lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**63,
        "flag": lambda v: isinstance(v, bool),
        "numbers": lambda v: isinstance(v, list) and all(_plain_number(x) for x in v),
        "table": lambda v: isinstance(v, dict) and all(x is None or _plain_number(x) for x in v.values()),
    }
    return bool(checks[kind](value))


def plain_record(record: Any) -> bool:
    """Whether ``record`` is a metrics record the readers can use: an object whose fields are plain values
    of their kinds (``type`` a word; numbers within a float's range, lists of numbers, tables of numbers)."""
    if not isinstance(record, dict):
        return False
    return all(_plain_value(value, _RECORD_KINDS.get(key)) for key, value in record.items())


class RunLocked(RunError):
    """The run is being trained by another process (it holds the run's lock)."""


class RunLock:
    """The exclusive right to train a run: ``fcntl.flock`` on ``<run>/.lock``.

    The kernel releases it when the process exits, however it dies (``kill -9`` included), so it can
    never be left stuck; a second trainer of the same run is refused while the first lives.
    """

    def __init__(self, run_path: Path) -> None:
        self.path = Path(run_path) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        """Take the lock without waiting; :class:`RunLocked` naming the holder if another process has it."""
        import fcntl

        fd = open_run_file(self.path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = lock_holder(self.path.parent)
            by = f"process {holder}" if holder is not None else "another process"
            raise RunLocked(f"{self.path.parent} is being trained by {by}; one run has one trainer at a time") from None
        except OSError:
            os.close(fd)
            raise
        with contextlib.suppress(OSError):  # for people reading the folder; the kernel's record is what counts
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        """Drop the lock (closing the file is enough)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire() if self._fd is None else self

    def __exit__(self, *exc: object) -> None:
        self.release()


def run_locked(run_path: Path) -> bool | None:
    """Whether some process holds the run's lock: True, False, or None for a run without a lock file
    (written before locks existed)."""
    import fcntl

    try:
        fd = os.open(Path(run_path) / LOCK_FILE, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return None
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except OSError:
        return None
    finally:
        os.close(fd)


def lock_holder(run_path: Path) -> int | None:
    """The pid holding the run's lock, as the kernel reports it (``/proc/locks``); None if none or unknown.

    This is what proves a process is the run's trainer: a pid written in ``meta.json`` can name any
    process, but only the trainer holds the lock on this very file.
    """
    holders = flock_holders(Path(run_path) / LOCK_FILE)
    return holders[0] if holders else None


def flock_holders(path: Path, mode: str = "WRITE") -> list[int]:
    """The pids holding a ``flock`` on ``path`` (``WRITE``: exclusive, ``READ``: shared), as the kernel
    reports them in ``/proc/locks``; [] if none or unknown."""
    try:
        info = os.stat(path)
        table = Path("/proc/locks").read_text()
    except OSError:
        return []
    device = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    pids = []
    for line in table.splitlines():
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 9443 fe:00:2147363 0 EOF"; waiters are marked "->" and skipped
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[3] == mode and fields[5] == device:
            with contextlib.suppress(ValueError):
                pids.append(int(fields[4]))
    return pids


def _process_start(pid: int) -> str | None:
    """A token that changes when ``pid`` is reused (Linux: start time in /proc); None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after its closing ')'
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def process_token(pid: int | None = None) -> str | None:
    """This process's (or ``pid``'s) start token, stored in ``meta.json`` beside the pid."""
    return _process_start(os.getpid() if pid is None else pid)


def pid_alive(pid: object, token: object = None) -> bool:
    """Whether ``pid`` is a live process (and, when ``token`` is known, the same one that wrote it)."""
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    except OSError:
        return False
    if isinstance(token, str):
        current = _process_start(pid)
        if current is not None and current != token:
            return False
    # a zombie (exited, not yet reaped by its parent) has finished its work
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat[stat.rfind(")") + 2 :].startswith("Z"):
            return False
    except OSError:
        pass
    return True


class Run:
    """A run folder: ``Run(path)``; reading never needs torch.

    ``meta`` is read afresh when ``meta.json`` changes, so a long-lived ``Run`` follows a live training.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.name = self.path.name
        self._meta_cache: tuple[tuple[int, int], dict[str, Any]] | None = None

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    @property
    def meta_path(self) -> Path:
        return self.path / META_FILE

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS_FILE

    @property
    def model_path(self) -> Path:
        """The latest model (``model.zip``)."""
        return self.path / MODEL_FILE

    @property
    def best_path(self) -> Path:
        """The model with the best evaluation so far (``best.zip``)."""
        return self.path / BEST_FILE

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / CHECKPOINTS_DIR

    @property
    def replay_buffer_path(self) -> Path:
        return self.path / REPLAY_BUFFER_FILE

    @property
    def meta(self) -> dict[str, Any]:
        """``meta.json`` as a dict; :class:`RunError` naming the file if it is missing or unreadable."""
        try:
            st = self.meta_path.stat()
        except FileNotFoundError:
            raise RunError(f"{self.meta_path}: file not found (not a run folder?)") from None
        except OSError as exc:  # a symlink loop, a name too long
            raise RunError(f"{self.meta_path}: cannot read: {exc.strerror or exc}") from None
        key = (st.st_mtime_ns, st.st_size)
        if self._meta_cache is None or self._meta_cache[0] != key:
            meta = read_json(self.meta_path)
            self._meta_cache = (key, meta)
        return dict(self._meta_cache[1])

    def record(self) -> RunRecord:
        """``meta.json`` as a typed :class:`~cs_tui.training.run_record.RunRecord`; :class:`RunError`
        naming the file (and the field) if it is missing, unreadable or holds a bad field."""
        from cs_tui.training.run_record import RunRecord  # (it builds on this module)

        return RunRecord.from_json(self.meta, self.meta_path)

    def write_record(self, record: RunRecord) -> None:
        """Replace ``meta.json`` atomically with ``record`` (its ``updated_at`` is set here)."""
        record.updated_at = now_iso()
        atomic_write_json(self.meta_path, record.to_json())

    # the status, liveness and failure reason read meta.json's words alone (status, pid, error), not the
    # whole record: a run with a bad field elsewhere still says whether it trains, and can be stopped

    @property
    def recorded_status(self) -> str:
        """The status exactly as ``meta.json`` records it."""
        return str(self.meta.get("status", "unknown"))

    @property
    def status(self) -> RunStatus | str:
        """The recorded status, except that a run recorded as running whose process is gone (killed
        without a chance to say so, e.g. ``kill -9``) is :attr:`RunStatus.DIED`: it can be resumed from its
        last checkpoint. A word this version does not know is returned as it is."""
        status = self.recorded_status
        if status == RunStatus.RUNNING and not self.is_alive():
            return RunStatus.DIED
        try:
            return RunStatus(status)
        except ValueError:
            return status

    def is_alive(self) -> bool:
        """Whether a process is training this run: it holds the run's lock (runs from before locks
        existed: their recorded pid is alive)."""
        try:
            meta = self.meta
        except RunError:
            return False
        if meta.get("status") != "running":
            return False
        locked = run_locked(self.path)
        if locked is not None:
            return locked
        return pid_alive(meta.get("pid"), meta.get("pid_token"))

    def trainer_pid(self) -> int | None:
        """The pid of the process proven to train this run (it holds the run's lock), else None."""
        return lock_holder(self.path) if run_locked(self.path) else None

    def read_metrics(self, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """Complete records from byte ``offset`` on (at most :data:`MAX_METRICS_CHUNK` bytes of them), and
        the offset to continue from (for tailing; :meth:`all_metrics` reads to the end).

        If the file became shorter than ``offset`` (replaced), reading starts again from the beginning.
        A FIFO, a device, a folder or a symlink loop is a :class:`RunError`, raised at once (never a read
        that blocks or never ends); a line longer than a chunk is skipped.
        """
        try:
            fd = files.open_regular(self.metrics_path)
        except FileNotFoundError:
            return [], 0
        except OSError as exc:
            raise RunError(f"cannot read {files.describe(exc)}") from None
        try:
            size = os.fstat(fd).st_size
            if offset > size:
                offset = 0
            data = os.pread(fd, min(size - offset, MAX_METRICS_CHUNK), offset)
        except OSError as exc:
            raise RunError(f"{self.metrics_path}: cannot read: {exc.strerror or exc}") from None
        finally:
            os.close(fd)
        records, used = parse_jsonl(data)
        if used == 0 and len(data) == MAX_METRICS_CHUNK:
            used = len(data)  # one line longer than a whole chunk: skip it (its rest reads as no record)
        return records, offset + used

    def all_metrics(self) -> list[dict[str, Any]]:
        """Every complete record of ``metrics.jsonl``, read chunk by chunk (see :meth:`read_metrics`)."""
        found, offset = [], 0
        while True:
            records, after = self.read_metrics(offset)
            found += records
            if after <= offset:
                return found
            offset = after

    def checkpoints(self) -> list[Path]:
        """Checkpoint files, oldest first."""
        if not self.checkpoints_dir.is_dir():
            return []
        return sorted(self.checkpoints_dir.glob("*.zip"), key=_checkpoint_steps)

    def append_metric(self, record: dict[str, Any]) -> None:
        """Append one record to ``metrics.jsonl``."""
        append_jsonl(self.metrics_path, record)


def _checkpoint_steps(path: Path) -> tuple[int, str]:
    digits = "".join(ch for ch in path.stem if ch.isdigit())
    return (int(digits) if digits else -1, path.name)


def _sort_time(run: Run) -> float:
    try:
        created = run.meta.get("created_at")
        if isinstance(created, str):
            return datetime.fromisoformat(created).timestamp()
    except (RunError, ValueError):
        pass
    try:
        return run.meta_path.stat().st_mtime
    except OSError:
        return 0.0


def list_runs(root: Path | str) -> list[Run]:
    """Run folders (folders holding a ``meta.json``) under ``root``, newest first.

    A folder whose files are broken is still listed (its ``meta`` raises :class:`RunError`) and does not
    stop the listing; a missing ``root`` gives an empty list.
    """
    root = Path(root)
    try:
        entries: Iterable[Path] = list(root.iterdir())
    except OSError:
        return []
    runs = [Run(p) for p in entries if not p.name.startswith(".") and p.is_dir() and (p / META_FILE).exists()]
    return sorted(runs, key=lambda r: (_sort_time(r), r.name), reverse=True)


def short_list(names: list[str], limit: int = 10) -> str:
    """``"a, b, … (12 in all)"``: names for an error message, at most ``limit`` of them ("none" if empty)."""
    shown = ", ".join(names[:limit]) + (f", … ({len(names)} in all)" if len(names) > limit else "")
    return shown or "none"


def resolve_run(spec: str | Path, saves: Path | None = None) -> Run:
    """A run from a folder path or a run name under ``saves``; :class:`RunError` if it is not a run folder."""
    path = Path(spec)
    candidates = [path]
    if saves is not None and not path.is_absolute():
        candidates.append(saves / path)
    for candidate in candidates:
        try:
            # a meta.json in any form (a FIFO, a link) makes a run folder: its reader then says what is wrong
            os.lstat(candidate / META_FILE)
            return Run(candidate)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:  # a name too long for the system, a folder we may not enter
            raise RunError(f"{spec!s:.200}: not a run folder ({exc.strerror or exc})") from None
    raise RunError(f"{spec!s:.200}: not a run folder (no {META_FILE} found)")


def unique_run_name(root: Path, base: str) -> str:
    """``base``, or ``base-2``, ``base-3``, ... whichever does not exist yet under ``root``."""
    name, n = base, 1
    while (root / name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def default_run_name(algorithm: str, industry: str) -> str:
    """``ppo-mixed-20260101-120000``: readable and sortable."""
    return f"{algorithm}-{industry}-{time.strftime('%Y%m%d-%H%M%S')}"


__all__ = [
    "BEST_FILE",
    "CHECKPOINTS_DIR",
    "LOCK_FILE",
    "META_FILE",
    "METRICS_FILE",
    "MODEL_FILE",
    "REPLAY_BUFFER_FILE",
    "SCHEMA",
    "STATUSES",
    "WRITTEN",
    "Run",
    "RunError",
    "RunLock",
    "RunLocked",
    "RunStatus",
    "append_jsonl",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "default_run_name",
    "list_runs",
    "lock_holder",
    "make_run_folder",
    "now_iso",
    "open_run_file",
    "parse_jsonl",
    "pid_alive",
    "plain_record",
    "process_token",
    "read_json",
    "read_regular",
    "remove_temp_files",
    "repair_jsonl",
    "report_target_problem",
    "resolve_run",
    "run_locked",
    "saves_dir",
    "to_json",
    "unique_run_name",
    "write_report",
    "written_files_problem",
]


def versions() -> dict[str, str]:
    """Package versions for run and model records (read from installed metadata: no heavy import)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for package in ("cs-tui", "stable-baselines3", "torch", "gymnasium", "numpy"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "unknown"
    return found
