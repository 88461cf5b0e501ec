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

    def array(self) -> np.ndarray:
        """The tensor's values as a fresh C-ordered array.

        Raises:
            ValueError: the storage is shorter than it says, or the view reads outside it.
        """
        kind = np.dtype(self.numpy_dtype)
        if len(self.raw) < self.count * kind.itemsize:
            raise ValueError(f"storage holds {len(self.raw) // kind.itemsize} elements, not {self.count}")
        if any(n < 0 for n in self.shape) or any(s < 0 for s in self.stride) or self.offset < 0:
            raise ValueError("negative size, stride or offset")
        storage = np.frombuffer(self.raw, dtype=kind, count=self.count)
        if 0 in self.shape:
            return np.zeros(self.shape, dtype=kind)
        last = self.offset + sum((n - 1) * s for n, s in zip(self.shape, self.stride, strict=True))
        if last >= self.count:
            raise ValueError(f"the view reads element {last} of a storage of {self.count}")
        view = np.lib.stride_tricks.as_strided(
            storage[self.offset :], self.shape, tuple(s * kind.itemsize for s in self.stride), writeable=False
        )
        return np.array(view, order="C")


def read_torch_file(path: Path, member: str, raw: bytes) -> Any:
    """The containers and :class:`TensorRef` of a ``torch.save`` file (the model file's member ``member``).

    Raises:
        ModelLoadError: naming the file and the member: not a torch file, or a pickle that would run code.
        Unsupported: a file torch's own weights-only load may read and this reader cannot.
    """
    refused = f"{path}: {member} is not a plain tensor file (a weights-only load refused it: "
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError, OSError) as e:
        raise ModelLoadError(refused + f"not a torch zip file: {first_line(e)})") from None
    pickles = [info.filename for info in infos if info.filename.endswith("/data.pkl")]
    if len(pickles) != 1 or pickles[0].count("/") != 1:
        raise ModelLoadError(refused + "no single <folder>/data.pkl)")
    if any(info.compress_type != zipfile.ZIP_STORED for info in infos):
        raise Unsupported("a compressed member")  # torch writes its members stored; leave the rest to it
    folder = pickles[0].rsplit("/", 1)[0]
    names = {info.filename for info in infos}
    try:
        if f"{folder}/byteorder" in names and archive.read(f"{folder}/byteorder") != b"little":
            raise Unsupported("a big-endian file")

        def storage(key: str) -> bytes:
            name = f"{folder}/data/{key}"
            if name not in names:
                raise ModelLoadError(refused + f"storage {key!r} is missing)")
            return archive.read(name)

        return _play(archive.read(pickles[0]), storage, refused)
    except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, RuntimeError) as e:
        raise ModelLoadError(refused + f"{type(e).__name__}: {first_line(e)})") from None


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
            raise ModelLoadError(refused + "a malformed storage reference)")
        if key not in storages:
            storages[key] = (*STORAGES[kind[1]], count, location, storage(key))
        return ("storage", key)

    def rebuild(ref: Any, offset: Any, size: Any, stride: Any, *rest: Any) -> TensorRef:
        if not (isinstance(ref, tuple) and len(ref) == 2 and ref[0] == "storage"):
            raise ModelLoadError(refused + "a tensor without a storage)")
        if not all(isinstance(v, tuple) and all(type(n) is int for n in v) for v in (size, stride)):
            raise ModelLoadError(refused + "a tensor's size or stride is not a tuple of integers)")
        if type(offset) is not int or len(size) != len(stride) or len(rest) > 3:
            raise ModelLoadError(refused + "a malformed tensor)")
        if (rest[1:2] and rest[1] != {}) or (rest[2:3] and rest[2] not in (None, {})):
            raise Unsupported("a tensor with hooks or metadata")
        dtype, numpy_dtype, count, location, data = storages[ref[1]]
        return TensorRef(dtype, numpy_dtype, size, stride, offset, count, location, data)

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
    try:
        for opcode, arg, _ in pickletools.genops(raw):
            op = opcode.name
            if op in ("PROTO", "FRAME"):
                continue
            if op == "STOP":
                if len(stack) != 1 or stack[0] is _MARK:
                    raise ModelLoadError(refused + "a malformed pickle)")
                return stack[0]
            if op == "MARK":
                stack.append(_MARK)
            elif op in ("BINPUT", "LONG_BINPUT") and isinstance(arg, int):
                memo[arg] = stack[-1]
            elif op == "MEMOIZE":
                memo[len(memo)] = stack[-1]
            elif op in ("BINGET", "LONG_BINGET"):
                if arg not in memo:
                    raise ModelLoadError(refused + f"memo {arg} read before it is written)")
                stack.append(memo[arg])
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
                    raise ModelLoadError(refused + "a call without a tuple of arguments)")
                stack.append(calls[function](*args))
            elif op == "BUILD":
                state = _pop(stack)
                # torch's state_dict carries its modules' versions as an OrderedDict attribute: not needed
                if not isinstance(stack[-1], dict) or not isinstance(state, dict):
                    raise Unsupported("BUILD of an object")
            else:
                raise Unsupported(f"opcode {op}")
    except (ModelLoadError, Unsupported):
        raise
    except (IndexError, ValueError, TypeError, KeyError) as e:
        raise ModelLoadError(refused + f"a malformed pickle: {first_line(e)})") from None
    raise ModelLoadError(refused + "the pickle has no end)")


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
