"""A ``torch.save`` file read as numpy arrays, without torch and without unpickling it.

``torch.save`` writes a zip: ``<folder>/data.pkl`` (a pickle of the containers, each tensor a call to
``torch._utils._rebuild_tensor_v2`` over a persistent id ``("storage", torch.FloatStorage, key,
location, count)``) and ``<folder>/data/<key>`` (each storage's raw bytes). :func:`read_torch_file` plays
the pickle's opcodes on a stack of plain values (dicts, lists, tuples, numbers, strings and
:class:`TensorRef`), never running it: a global that is neither torch's nor one of the few others torch's
weights-only load allows would run code, and is refused in the torch loader's words ("a weights-only load
refused it"). What it cannot express but torch's weights-only load might accept (another opcode, a torch
global it does not know, bfloat16, a big-endian file) raises :class:`Unsupported`: the caller then loads
the file with torch, whose answer is the authority. numpy only.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cs_tui.training.model_file.format import ModelLoadError, first_line


class Unsupported(Exception):
    """Something this reader does not express, though torch's weights-only load might: load it with torch."""


#: torch's storage classes (as ``torch.save`` names them) -> (torch's dtype name, numpy's dtype)
STORAGES: dict[str, tuple[str, str]] = {
    "FloatStorage": ("torch.float32", "<f4"),
    "DoubleStorage": ("torch.float64", "<f8"),
    "HalfStorage": ("torch.float16", "<f2"),
    "LongStorage": ("torch.int64", "<i8"),
    "IntStorage": ("torch.int32", "<i4"),
    "ShortStorage": ("torch.int16", "<i2"),
    "CharStorage": ("torch.int8", "i1"),
    "ByteStorage": ("torch.uint8", "u1"),
    "BoolStorage": ("torch.bool", "?"),
}
#: the largest pickle played here: a model's is a few kB (names and tensor records), whatever its weights
MAX_PICKLE = 1 << 20
#: the globals beyond torch's own that torch's weights-only load allows (torch 2.x): a global of torch or
#: of these that this reader does not know is left to torch; any other would run code, and is refused
WEIGHTS_ONLY_GLOBALS = frozenset([("collections", "OrderedDict"), ("collections", "Counter"), ("_codecs", "encode"),
                                  ("builtins", "bytearray"), ("builtins", "set"), ("builtins", "complex")])  # fmt: skip


@dataclass(frozen=True)
class TensorRef:
    """A tensor as the file describes it; :meth:`array` reads its values (after its shape has been checked)."""

    dtype: str  # torch's name, e.g. "torch.float32"
    numpy_dtype: str
    shape: tuple[int, ...]
    stride: tuple[int, ...]
    offset: int
    count: int  # elements in the storage
    location: str  # "cpu", "cuda:0", "meta", …
    raw: bytes

    @property
    def device(self) -> str:
        """The device's type, as torch's ``tensor.device.type`` names it."""
        return self.location.split(":")[0]

    def check(self) -> None:
        """Raise ValueError if the tensor is not a view inside its storage (its bytes, its count)."""
        kind = np.dtype(self.numpy_dtype)
        if self.location == "meta":
            return
        if len(self.raw) < self.count * kind.itemsize:
            raise ValueError(f"storage holds {len(self.raw) // kind.itemsize} elements, not {self.count}")
        if any(n < 0 for n in self.shape) or any(s < 0 for s in self.stride) or self.offset < 0:
            raise ValueError("negative size, stride or offset")
        last = self.offset + sum((n - 1) * s for n, s in zip(self.shape, self.stride, strict=True))
        if 0 not in self.shape and last >= self.count:
            raise ValueError(f"the view reads element {last} of a storage of {self.count}")

    def array(self) -> np.ndarray:
        """The tensor's values as a fresh C-ordered array (of a tensor :meth:`check` passed, not "meta")."""
        kind = np.dtype(self.numpy_dtype)
        if 0 in self.shape:
            return np.zeros(self.shape, dtype=kind)
        storage = np.frombuffer(self.raw, dtype=kind, count=self.count)
        view = np.lib.stride_tricks.as_strided(
            storage[self.offset :], self.shape, tuple(s * kind.itemsize for s in self.stride), writeable=False
        )
        return np.array(view, order="C")


def read_torch_file(path: Path, member: str, raw: bytes) -> Any:
    """The containers and :class:`TensorRef` of a ``torch.save`` file (the model file's member ``member``).

    Raises:
        ModelLoadError: naming the file and the member: a pickle that would import what torch's weights-only
            load refuses (so would run code).
        Unsupported: anything else this reader cannot read (a damaged archive or pickle too: torch's own
            reader does not check the archive's checksums, so it alone says what it makes of such a file).
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        infos = archive.infolist()
        _check_directory(raw, infos)
        pickles = [info.filename for info in infos if info.filename.endswith("/data.pkl")]
        if len(pickles) != 1 or pickles[0].count("/") != 1:
            raise Unsupported("no single <folder>/data.pkl")
        if any(info.compress_type != zipfile.ZIP_STORED for info in infos):
            raise Unsupported("a compressed member")  # torch writes its members stored
        folder = pickles[0].rsplit("/", 1)[0]
        names = {info.filename for info in infos}
        if len(names) != len(infos):
            raise Unsupported("a record written twice")  # zipfile reads the last; another reader the first
        _check_records(archive, folder, names)

        def storage(key: str) -> bytes:
            return archive.read(f"{folder}/data/{key}")

        if archive.getinfo(pickles[0]).file_size > MAX_PICKLE:
            raise Unsupported("a pickle larger than any model's")  # not played in the app's process
        refused = f"{path}: {member} is not a plain tensor file (a weights-only load refused it: "
        return _play(archive.read(pickles[0]), storage, refused)
    except (ModelLoadError, Unsupported):
        raise
    except Exception as e:  # a damaged archive or pickle: zipfile and pickletools raise many kinds
        raise Unsupported(f"{type(e).__name__}: {first_line(e)}") from None


def _check_directory(raw: bytes, infos: list[zipfile.ZipInfo]) -> None:
    """Leave to torch an archive whose directory is not exactly as torch writes it: Python's zipfile reads
    past damage (disk numbers, entry counts, a local header's name) that torch's reader refuses."""
    end = raw[-22:]
    fields = struct.unpack("<4s4H2LH", end) if len(end) == 22 else ()
    if not fields or fields[0] != b"PK\x05\x06" or fields[1:3] != (0, 0) or fields[7] != 0:
        raise Unsupported("an end record of another kind")
    count, size, offset = len(infos), fields[5], fields[6]
    if not fields[3] == fields[4] == count:
        raise Unsupported("an end record that does not match its directory")
    if offset + size != len(raw) - 22:  # torch writes a zip64 end record and its locator between
        zip64 = raw[offset + size : len(raw) - 22]
        expected = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, *struct.unpack("<2H", zip64[12:16]), 0, 0,
                               count, count, size, offset)  # fmt: skip
        locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, offset + size, 1)
        if len(zip64) != 76 or zip64[:56] != expected or zip64[56:] != locator:
            raise Unsupported("a zip64 end record of another kind")
    for info in infos:
        if info.volume != 0 or info.compress_size != info.file_size:  # one disk; stored, so sizes equal
            raise Unsupported(f"a directory entry of another kind for {info.filename!r}")
        start = info.header_offset
        header = raw[start : start + 30]
        if len(header) < 30 or header[:4] != b"PK\x03\x04":
            raise Unsupported(f"no local header for {info.filename!r}")
        name, extra = struct.unpack("<2H", header[26:30])
        if raw[start + 30 : start + 30 + name] != info.orig_filename.encode("utf-8"):
            raise Unsupported(f"a local header that names another file than {info.filename!r}")
        if start + 30 + name + extra + info.compress_size > offset:
            raise Unsupported(f"{info.filename!r} runs into the directory")


#: the records torch's reader parses besides the pickle and the storages, as this torch writes them:
#: a file whose records say anything else (another format version, a big-endian file, a damaged
#: number) is left to torch, which refuses or reads it
RECORDS: dict[str, re.Pattern[bytes]] = {
    "version": re.compile(rb"3\n?"),
    ".format_version": re.compile(rb"1"),
    ".storage_alignment": re.compile(rb"64"),
    "byteorder": re.compile(rb"little"),
    ".data/serialization_id": re.compile(rb"[0-9]{1,64}"),
}
_STORAGE_NAME = re.compile(r"data/[0-9]{1,9}")


def _check_records(archive: zipfile.ZipFile, folder: str, names: set[str]) -> None:
    """Leave to torch a file with records this reader does not know, or whose values are not this torch's."""
    for name in names:
        record = name.removeprefix(folder + "/")
        if record == name or not (record in RECORDS or record == "data.pkl" or _STORAGE_NAME.fullmatch(record)):
            raise Unsupported(f"a record {name!r}")
    for record, pattern in RECORDS.items():
        if f"{folder}/{record}" not in names and record == "version":
            raise Unsupported("no version record")
        if f"{folder}/{record}" in names and not pattern.fullmatch(archive.read(f"{folder}/{record}")):
            raise Unsupported(f"a {record} record of another kind")


class _Global(tuple[str, str]):
    """A global the pickle named (one of the few this reader calls)."""


_MARK = object()


def _ordered_dict(*args: Any) -> dict[Any, Any]:
    if args:
        raise Unsupported("an OrderedDict built from items")
    return {}


def _play(raw: bytes, storage: Callable[[str], bytes], refused: str) -> Any:
    """Play the pickle ``raw`` on a stack of plain values; the value it returns."""
    import pickletools

    stack: list[Any] = []
    memo: dict[int, Any] = {}
    storages: dict[str, tuple[str, str, int, str, bytes]] = {}

    def persistent(pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage" and isinstance(pid[1], _Global)):
            raise Unsupported(f"persistent id {str(pid)[:60]}")
        _, kind, key, location, count = pid
        if kind[0] != "torch" or kind[1] not in STORAGES:
            raise Unsupported(f"storage {kind[0]}.{kind[1]}")
        if not (isinstance(key, str) and isinstance(location, str) and type(count) is int and count >= 0):
            raise ValueError("a malformed storage reference")
        if key not in storages:
            storages[key] = (*STORAGES[kind[1]], count, location, storage(key))
        return ("storage", key)

    def rebuild(ref: Any, offset: Any, size: Any, stride: Any, *rest: Any) -> TensorRef:
        if not (isinstance(ref, tuple) and len(ref) == 2 and ref[0] == "storage"):
            raise ValueError("a tensor without a storage")
        if not all(isinstance(v, tuple) and all(type(n) is int for n in v) for v in (size, stride)):
            raise ValueError("a tensor's size or stride is not a tuple of integers")
        if type(offset) is not int or len(size) != len(stride) or len(rest) > 3:
            raise ValueError("a malformed tensor")
        if (rest[1:2] and rest[1] != {}) or (rest[2:3] and rest[2] not in (None, {})):
            raise Unsupported("a tensor with hooks or metadata")
        dtype, numpy_dtype, count, location, data = storages[ref[1]]
        tensor = TensorRef(dtype, numpy_dtype, size, stride, offset, count, location, data)
        tensor.check()  # a view outside its storage: torch's rebuild fails on it (read nothing yet)
        return tensor

    def rebuild_meta(dtype: Any, size: Any, stride: Any, *rest: Any) -> TensorRef:
        """A "meta" tensor: a dtype and a shape, no data (refused where a tensor is checked)."""
        if not (isinstance(dtype, _Global) and dtype[0] == "torch" and isinstance(size, tuple)):
            raise Unsupported("a meta tensor of another form")
        return TensorRef(f"torch.{dtype[1]}", "<f4", size, tuple(stride), 0, 0, "meta", b"")

    calls: dict[tuple[str, str], Callable[..., Any]] = {
        ("collections", "OrderedDict"): _ordered_dict,
        ("torch._utils", "_rebuild_tensor_v2"): rebuild,
        ("torch._utils", "_rebuild_meta_tensor_no_storage"): rebuild_meta,
    }
    for opcode, arg, _ in pickletools.genops(raw):
        op = opcode.name
        if op in ("PROTO", "FRAME"):
            continue
        if op == "STOP":
            return _pop(stack)  # as torch's unpickler: the top, whatever lies below
        if op == "MARK":
            stack.append(_MARK)
        elif op in ("BINPUT", "LONG_BINPUT") and isinstance(arg, int):
            memo[arg] = stack[-1]
        elif op == "MEMOIZE":
            memo[len(memo)] = stack[-1]
        elif op in ("BINGET", "LONG_BINGET") and isinstance(arg, int):
            stack.append(memo[arg])  # a KeyError if never written
        elif op in _CONSTANTS:
            stack.append(_CONSTANTS[op]())
        elif op in _LITERALS:
            stack.append(arg)
        elif op in ("TUPLE1", "TUPLE2", "TUPLE3"):
            values = [_pop(stack) for _ in range(int(op[-1]))]
            stack.append(tuple(reversed(values)))
        elif op == "TUPLE":
            stack.append(tuple(_pop_mark(stack)))
        elif op == "SETITEM":
            value, key = _pop(stack), _pop(stack)
            _target(stack[-1], dict)[_key(key)] = value
        elif op == "SETITEMS":
            items = _pop_mark(stack)
            target = _target(stack[-1], dict)
            for key, value in zip(items[::2], items[1::2], strict=True):
                target[_key(key)] = value
        elif op == "APPEND":
            value = _pop(stack)
            _target(stack[-1], list).append(value)
        elif op == "APPENDS":
            items = _pop_mark(stack)
            _target(stack[-1], list).extend(items)
        elif op == "GLOBAL":
            module, _, name = str(arg).partition(" ")
            if module.split(".")[0] != "torch" and (module, name) not in WEIGHTS_ONLY_GLOBALS:
                raise ModelLoadError(refused + f"it would import {module}.{name})")
            stack.append(_Global((module, name)))
        elif op == "BINPERSID":
            stack.append(persistent(_pop(stack)))
        elif op == "REDUCE":
            args, function = _pop(stack), _pop(stack)
            if not isinstance(function, _Global) or function not in calls:
                raise Unsupported(f"a call of {function!r:.60}")
            if not isinstance(args, tuple):
                raise ValueError("a call without a tuple of arguments")
            stack.append(calls[function](*args))
        elif op == "BUILD":
            state = _pop(stack)
            # torch's state_dict carries its modules' versions as an OrderedDict attribute: not needed
            if not isinstance(stack[-1], dict) or not isinstance(state, dict):
                raise Unsupported("BUILD of an object")
        else:
            raise Unsupported(f"opcode {op}")
    raise ValueError("the pickle has no end")


_CONSTANTS: dict[str, Callable[[], Any]] = {
    "EMPTY_DICT": dict,
    "EMPTY_LIST": list,
    "EMPTY_TUPLE": tuple,
    "NONE": lambda: None,
    "NEWTRUE": lambda: True,
    "NEWFALSE": lambda: False,
}
#: opcodes that push their argument as it is
_LITERALS = frozenset(["BININT", "BININT1", "BININT2", "LONG1", "BINFLOAT", "BINUNICODE", "SHORT_BINUNICODE",
                       "BINUNICODE8"])  # fmt: skip


def _pop(stack: list[Any]) -> Any:
    """The value on top of the stack, taken off (not a mark)."""
    if not stack or stack[-1] is _MARK:
        raise ValueError("stack underflow")
    return stack.pop()


def _pop_mark(stack: list[Any]) -> list[Any]:
    """The items above the topmost mark, taken off the stack with the mark."""
    for index in range(len(stack) - 1, -1, -1):
        if stack[index] is _MARK:
            items = stack[index + 1 :]
            del stack[index:]
            if any(item is _MARK for item in items):
                raise ValueError("a mark among the items")
            return items
    raise ValueError("no mark on the stack")


def _target(value: Any, kind: type) -> Any:
    if type(value) is not kind:
        raise Unsupported(f"a change to a {type(value).__name__}")
    return value


def _key(key: Any) -> Any:
    if not isinstance(key, str | int) or isinstance(key, bool):
        raise Unsupported(f"a {type(key).__name__} key")
    return key


__all__ = ["STORAGES", "TensorRef", "Unsupported", "read_torch_file"]
