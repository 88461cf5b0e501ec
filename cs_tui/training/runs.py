"""Run folders under ``saves/``: what a run holds, reading it back (its record, its metrics stream), listing
and naming runs.

A run is ``saves/<name>/`` holding ``meta.json`` (what, how, status: a
:class:`~cs_tui.training.run_record.RunRecord`), ``metrics.jsonl`` (an append-only
stream of records the app tails), ``model.zip`` (latest), ``best.zip`` (best evaluation so far),
``checkpoints/`` (the last few) and, for DQN, ``replay_buffer.npz``.

Every whole file is written atomically through :mod:`cs_tui.files`. The metrics stream is the one
exception by design: records are appended one line per ``write``, and readers skip a partial last line.
The run lock (one trainer per run) is :mod:`cs_tui.training.run_lock`; the record's fields and the status
words, :mod:`cs_tui.training.run_record`.

This module is read by the app: it must stay light (no torch, no stable-baselines3).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from cs_env import files
from cs_env.files import FileReadError, is_int, kind_of
from cs_tui.files import FileFormatError, atomic_write_json, now_iso, open_run_file, read_json, to_json
from cs_tui.saves import ENV_VAR, saves_dir  # noqa: F401  (re-exported: the saves folder is named there)
from cs_tui.training.run_lock import LOCK_FILE, lock_holder, pid_alive, run_locked
from cs_tui.training.run_record import RunError, RunRecord, RunStatus

META_FILE = "meta.json"
METRICS_FILE = "metrics.jsonl"
MODEL_FILE = "model.zip"
BEST_FILE = "best.zip"
CHECKPOINTS_DIR = "checkpoints"
REPLAY_BUFFER_FILE = "replay_buffer.npz"
#: The most one read of ``metrics.jsonl`` takes; a tail goes on from where the last read stopped.
MAX_METRICS_CHUNK = 8 << 20
#: The longest metrics line read (a ``train`` record holds a second's episode returns: a few KB); a
#: longer one is skipped, as a line that is no JSON is.
MAX_METRICS_LINE = 1 << 20
#: The files and folders a trainer writes in its run folder: never through a symlink, never a FIFO.
WRITTEN = (LOCK_FILE, META_FILE, METRICS_FILE, MODEL_FILE, BEST_FILE, REPLAY_BUFFER_FILE, CHECKPOINTS_DIR)


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
        "count": lambda v: is_int(v) and 0 <= v < 2**63,
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
            try:
                meta = read_json(self.meta_path)
            except FileFormatError as exc:
                raise RunError(str(exc)) from None
            self._meta_cache = (key, meta)
        return dict(self._meta_cache[1])

    def record(self) -> RunRecord:
        """``meta.json`` as a typed :class:`~cs_tui.training.run_record.RunRecord`; :class:`RunError`
        naming the file (and the field) if it is missing, unreadable or holds a bad field."""
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
