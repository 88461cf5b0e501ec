"""How cs_tui writes its own files and reads them back: atomically, in bounds, with errors that name the file.

Every whole file is written atomically (a temp file in the same folder, flushed, fsynced, then
``os.replace``d), so ``kill -9`` at any moment leaves either the old file or the new one, never half of
one. A file written in place (a lock, an append-only stream) is opened never through a symlink and never
blocking on a FIFO. A JSON file is read back bounded, and anything wrong with it is a
:class:`FileFormatError` naming the file. Run folders (:mod:`cs_tui.training.runs`), recordings
(:mod:`cs_tui.play_session`), reports (``--junit``) and caches all write through here.

Light: the standard library and :mod:`cs_env.files` only.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import stat
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cs_env.files import FileReadError, kind_of, read_regular

# read once at import (setting it is the only way to read it, and not thread-safe later)
_UMASK = os.umask(0o022)
os.umask(_UMASK)


class FileFormatError(ValueError):
    """A file of ours cannot be read back (missing, unreadable, not what it should hold); the message names it."""


#: The most ``read_json`` reads: a meta.json is a few KB; anything larger is not one of ours.
MAX_JSON_BYTES = 4 << 20


_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def now_iso() -> str:
    """The current time as an ISO 8601 string in UTC (the timestamps of ``meta.json``)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


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
    """A descriptor of a file we write in place (a run's ``.lock`` and ``metrics.jsonl``).

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


def read_json(path: Path) -> dict[str, Any]:
    """Read a JSON object, raising :class:`FileFormatError` naming the file for anything wrong with it."""
    try:
        text = read_regular(path, MAX_JSON_BYTES).decode("utf-8")
    except FileNotFoundError:
        raise FileFormatError(f"{path}: file not found") from None
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise FileFormatError(f"{path}: cannot read: {exc}") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileFormatError(f"{path}: not valid JSON: {exc}") from None
    except RecursionError:
        raise FileFormatError(f"{path}: not valid JSON: nested too deeply") from None
    if not isinstance(value, dict):
        raise FileFormatError(f"{path}: expected a JSON object, found {type(value).__name__}")
    return value
