"""The zip guard: a model file's members read within the allow-list, the size caps and the member kinds,
refusing from the central directory before a byte is inflated. Light: no torch."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cs_env import files
from cs_tui.training.model_file.format import (
    ALLOWED_MEMBERS,
    MAX_FILE_BYTES,
    MAX_MEMBER_BYTES,
    META_MEMBER,
    ModelLoadError,
    first_line,
)

if TYPE_CHECKING:
    pass

#: The member we add to SB3's zip.


def read_members(path: Path, only: str | None = None) -> dict[str, bytes]:
    """The zip's members by name, after the allow-list and size checks; the ``data`` member is never decoded.

    Everything that can be refused from the central directory is refused before a byte is inflated:
    the member count (read from the end record, before ``zipfile`` parses a directory of any size),
    the names, duplicates, the compression methods and each member's declared size. Members are then
    inflated in bounded chunks, so a header that lies about its size is refused at the cap too.
    ``only`` names the one member to inflate (a listing needs ``cs_tui.json``, not the weights).
    """
    try:  # a FIFO, a device, a folder or a symlink loop is refused at once, never read
        fd = files.open_regular(path)
    except FileNotFoundError:
        raise ModelLoadError(f"{path}: no such file") from None
    except files.FileReadError as e:
        raise ModelLoadError(f"{path}: {e.strerror}: not a file a model can be read from") from None
    except OSError as e:
        raise ModelLoadError(f"{path}: cannot read the file: {e.strerror or e}") from None
    handle = os.fdopen(fd, "rb")  # (closed below, after the archive that reads it)
    size = os.fstat(fd).st_size
    if size > MAX_FILE_BYTES:
        handle.close()
        raise ModelLoadError(f"{path}: {size} bytes is too large for a model file (at most {MAX_FILE_BYTES})")
    try:
        with handle:
            count = _declared_members(handle, size)
            if count > MAX_DECLARED_MEMBERS:  # (a few too many are left to the name check, which names them)
                raise ModelLoadError(
                    f"{path}: the zip declares {count:,} members; a model file holds at most {len(ALLOWED_MEMBERS)}"
                )
            with zipfile.ZipFile(handle) as archive:
                infos = archive.infolist()
                _check_directory(path, infos)
                # raw bytes only: "data"'s pickled values are never decoded (see check_data)
                return {
                    info.filename: _read_member(path, archive, info)
                    for info in infos
                    if only is None or info.filename == only
                }
    except ModelLoadError:
        raise
    except Exception as e:  # zipfile and zlib each report a damaged archive their own way
        raise ModelLoadError(f"{path}: not a readable model file (truncated or corrupt zip: {first_line(e)})") from None


#: The compression methods a model file's members use: SB3 stores them, ``save_model`` deflates ours.
COMPRESSIONS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}


#: Beyond this many members a zip is refused from its end record, before its directory is parsed.
MAX_DECLARED_MEMBERS = 64


_END_RECORD = b"PK\x05\x06"


_END_RECORD_SIZE = 22


def _declared_members(handle: Any, size: int) -> int:
    """The member count of the zip's end-of-central-directory record (found within its last 64 KB)."""
    span = min(size, _END_RECORD_SIZE + 0xFFFF)
    handle.seek(size - span)
    tail = handle.read(span)
    at = tail.rfind(_END_RECORD)
    # the record (and its comment) closes the file; one found earlier is a nested zip's (policy.pth is one)
    if at < 0 or at + _END_RECORD_SIZE + int.from_bytes(tail[at + 20 : at + 22], "little") != len(tail):
        raise zipfile.BadZipFile("no end of central directory record at the end of the file")
    handle.seek(0)
    return int.from_bytes(tail[at + 10 : at + 12], "little")


_FILE_KINDS = {stat.S_IFLNK: "symbolic link", stat.S_IFDIR: "directory", stat.S_IFCHR: "character device",
               stat.S_IFBLK: "block device", stat.S_IFIFO: "FIFO", stat.S_IFSOCK: "socket"}  # fmt: skip


def _check_directory(path: Path, infos: list[zipfile.ZipInfo]) -> None:
    """Refuse from the central directory alone: unknown or repeated names, other compressions, sizes."""
    # a model file's first member starts at byte 0; otherwise the archive found is something
    # else, e.g. the zip nested in policy.pth once the file's own end was cut off
    if not infos or min(info.header_offset for info in infos) != 0:
        raise zipfile.BadZipFile("no model archive at the start of the file")
    seen: set[str] = set()
    for info in infos:
        name = info.filename
        if name not in ALLOWED_MEMBERS:
            raise ModelLoadError(
                f"{path}: unexpected member {name!r} in the model file; "
                f"a model file holds only {', '.join(ALLOWED_MEMBERS)}"
            )
        if name in seen:
            raise ModelLoadError(f"{path}: member {name!r} appears twice in the model file")
        seen.add(name)
        kind = stat.S_IFMT(info.external_attr >> 16)
        if kind not in (0, stat.S_IFREG):  # SB3 writes plain files; a symlink or device is a crafted zip
            raise ModelLoadError(
                f"{path}: member {name!r} is a {_FILE_KINDS.get(kind, 'special file')}, not a plain file"
            )
        if info.compress_type not in COMPRESSIONS:
            raise ModelLoadError(
                f"{path}: member {name!r} uses compression method {info.compress_type}; "
                f"a model file's members are {' or '.join(COMPRESSIONS.values())}"
            )
        if info.file_size > MAX_MEMBER_BYTES[name]:
            raise ModelLoadError(
                f"{path}: member {name!r} is {info.file_size} bytes uncompressed, "
                f"more than the {MAX_MEMBER_BYTES[name]} allowed"
            )
    if META_MEMBER not in seen:
        raise ModelLoadError(
            f"{path}: no {META_MEMBER} member: this model was not saved by cs-tui, so it cannot be loaded "
            "safely (if you trust the file, stable-baselines3's own load() can open it)"
        )


def _read_member(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """One member, inflated 1 MB at a time and refused as soon as it passes its cap."""
    cap = MAX_MEMBER_BYTES[info.filename]
    chunks: list[bytes] = []
    total = 0
    with archive.open(info) as stream:
        while chunk := stream.read(1 << 20):
            total += len(chunk)
            if total > cap:
                raise ModelLoadError(f"{path}: member {info.filename!r} inflates past the {cap} bytes allowed")
            chunks.append(chunk)
    return b"".join(chunks)
