"""Bounded reads of the small files a person (or a copied folder) hands us: regular files only, never
blocking, never unbounded, never nested past a limit.

A FIFO, a device, a socket, a folder or a symlink loop under a name we read is refused with a one-line
error at once (the file is opened with ``O_NONBLOCK`` and checked with ``fstat`` before a byte is read),
a file larger than the caller's limit is refused before it is read, and parsed data nested deeper than
:data:`MAX_NESTING` is refused instead of exhausting the stack.

Stdlib only: ``cs_env`` reads its industry and scenario files with it and ``cs_tui`` its settings,
recordings and run files, so it may import neither numpy nor anything of the app.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import tomllib
from pathlib import Path
from typing import Any, TypeGuard

#: The deepest nesting of tables / arrays (TOML) or objects / arrays (JSON) a data file of ours needs,
#: with room to spare; deeper data is refused (a crafted ``[[[[…]]]]`` would otherwise exhaust the stack).
MAX_NESTING = 32
#: What :func:`load_toml` and :func:`load_json` read when the caller names no limit: our data files
#: are a few KB.
DEFAULT_LIMIT = 1 << 20

#: The words for what a non-regular file is, by ``stat`` test.
_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class FileReadError(OSError):
    """A file that is not read: not a regular file, too large, a symlink where none is followed.

    An ``OSError`` (``errno`` and ``filename`` set), so callers that catch ``OSError`` keep working;
    ``str()`` is one line naming the file and the reason.
    """

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}" if self.filename is not None else str(self.strerror)


def kind_of(mode: int) -> str:
    """``"a FIFO (named pipe)"``, ``"a folder"``, …: what a file of ``mode`` is, for an error message."""
    for test, word in _KINDS:
        if test(mode):
            return word
    return "a regular file" if stat.S_ISREG(mode) else "not a regular file"


def describe(exc: OSError) -> str:
    """One line naming the file and the reason for any ``OSError`` a read raised."""
    if isinstance(exc, FileReadError):
        return str(exc)
    reason = exc.strerror or str(exc)
    return f"{exc.filename}: {reason}" if exc.filename is not None else reason


def open_regular(path: Path | str, *, follow_symlinks: bool = True) -> int:
    """A read-only descriptor of ``path`` if it is a regular file; :class:`FileReadError` otherwise.

    Never blocks: a FIFO without a writer is opened with ``O_NONBLOCK`` and refused by ``fstat``. With
    ``follow_symlinks=False`` a symlink as the last component is refused too (``O_NOFOLLOW``). The
    caller closes the descriptor.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | _O_CLOEXEC | (0 if follow_symlinks else _O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            reason = "is a symbolic link loop" if follow_symlinks else "is a symbolic link; it is not followed"
            raise FileReadError(errno.ELOOP, reason, str(path)) from None
        if exc.errno == errno.ENXIO:  # a socket (or a FIFO opened for writing): no reader to talk to
            raise FileReadError(errno.ENXIO, "is a socket, not a regular file", str(path)) from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise FileReadError(errno.EINVAL, f"is {kind_of(mode)}, not a regular file", str(path))
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_fd(fd: int, limit: int, path: Path | str, *, offset: int = 0) -> bytes:
    """At most ``limit`` bytes of the open regular file ``fd`` from ``offset``; :class:`FileReadError` if
    more are there (bounded even if the file grows while it is read)."""
    size = os.fstat(fd).st_size - offset
    if size > limit:
        raise FileReadError(errno.EFBIG, f"is {size:,} bytes, more than the {limit:,} allowed", str(path))
    if offset:
        os.lseek(fd, offset, os.SEEK_SET)
    chunks, left = [], limit + 1
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    data = b"".join(chunks)
    if len(data) > limit:
        raise FileReadError(errno.EFBIG, f"is more than the {limit:,} bytes allowed", str(path))
    return data


def read_regular(path: Path | str, limit: int, *, follow_symlinks: bool = True) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes.

    Raises:
        FileReadError: not a regular file (a FIFO, a device, a socket, a folder), a symlink loop (or any
            symlink with ``follow_symlinks=False``), or larger than ``limit``.
        OSError: the file cannot be opened (missing, no permission, name too long) — as the OS says.
    """
    fd = open_regular(path, follow_symlinks=follow_symlinks)
    try:
        return read_fd(fd, limit, path)
    finally:
        os.close(fd)


def nesting(value: Any, limit: int = MAX_NESTING) -> int:
    """How deeply ``value``'s dicts and lists nest (a scalar 0, ``{}`` 1), counted without recursion and
    given up at ``limit + 1``."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def is_int(value: object) -> TypeGuard[int]:
    """Whether ``value`` is a whole number as JSON and TOML give one: an ``int``, never a ``bool`` (which
    Python counts as an int: ``True`` is no count of anything)."""
    return isinstance(value, int) and not isinstance(value, bool)


def parse_toml(text: str, *, max_nesting: int = MAX_NESTING) -> dict[str, Any]:
    """``tomllib.loads`` that refuses data nested deeper than ``max_nesting`` with a
    ``tomllib.TOMLDecodeError`` (what callers already catch) instead of a ``RecursionError``."""
    too_deep = f"nested more than {max_nesting} levels deep (tables and arrays)"
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise tomllib.TOMLDecodeError(too_deep) from None
    if nesting(data, max_nesting) > max_nesting:
        raise tomllib.TOMLDecodeError(too_deep)
    return data


def load_toml(path: Path | str, limit: int = DEFAULT_LIMIT, *, max_nesting: int = MAX_NESTING) -> dict[str, Any]:
    """A TOML file read with :func:`read_regular` and parsed with :func:`parse_toml`.

    Raises:
        OSError: cannot be read (see :func:`read_regular`; ``str()`` of a :class:`FileReadError` is one line).
        tomllib.TOMLDecodeError: not UTF-8, not TOML, or nested too deeply.
    """
    data = read_regular(path, limit)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise tomllib.TOMLDecodeError(f"not UTF-8 text (byte {exc.start})") from None
    return parse_toml(text, max_nesting=max_nesting)


def toml_file(path: Path | str, error: type[Exception] = ValueError, limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
    """:func:`load_toml`, every failure one ``error`` naming the file: ``"x.toml: cannot be read: is a
    FIFO (named pipe), not a regular file"``, ``"x.toml: cannot be read as TOML: nested more than 32 …"``.

    The project's one way to read a TOML data file (industries, scenarios, thresholds, hyperparameters,
    search spaces), so a planted FIFO, a huge file or ``a = [[[…]]]`` is the same one-line error in each.
    """
    try:
        return load_toml(path, limit)
    except OSError as exc:
        raise error(f"{path}: cannot be read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: cannot be read as TOML: {exc}") from None


def parse_json(text: str | bytes, *, max_nesting: int = MAX_NESTING) -> Any:
    """``json.loads`` that refuses data nested deeper than ``max_nesting``, a number of more digits than
    Python converts, or bytes that are not UTF-8, all with ``ValueError`` (``json.JSONDecodeError`` is one)."""
    too_deep = f"nested more than {max_nesting} levels deep (objects and arrays)"
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError(too_deep) from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 text (byte {exc.start})") from None
    if nesting(value, max_nesting) > max_nesting:
        raise ValueError(too_deep)
    return value


def load_json(path: Path | str, limit: int = DEFAULT_LIMIT, *, max_nesting: int = MAX_NESTING) -> Any:
    """A JSON file read with :func:`read_regular` and parsed with :func:`parse_json`.

    Raises:
        OSError: cannot be read (see :func:`read_regular`).
        ValueError: not UTF-8, not JSON, or nested too deeply.
    """
    return parse_json(read_regular(path, limit), max_nesting=max_nesting)


__all__ = [
    "DEFAULT_LIMIT",
    "MAX_NESTING",
    "FileReadError",
    "describe",
    "kind_of",
    "load_json",
    "load_toml",
    "nesting",
    "open_regular",
    "parse_json",
    "parse_toml",
    "read_fd",
    "read_regular",
    "toml_file",
]
