"""cs_env.files: a planted FIFO, device, folder, loop, huge file or deeply nested data is refused at once
with one line naming the file; a regular file reads as it is."""

from __future__ import annotations

import ast
import os
import sys
import tomllib
from pathlib import Path

import pytest

from cs_env import files


def test_a_regular_file_reads_whole_and_through_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "data.txt"
    target.write_bytes(b"hello\n")
    (tmp_path / "link").symlink_to(target)
    assert files.read_regular(target, 6) == b"hello\n"
    assert files.read_regular(tmp_path / "link", 100) == b"hello\n"


@pytest.mark.parametrize("kind", ["fifo", "folder", "dev_zero", "loop", "socket"])
def test_a_non_regular_file_is_refused_without_blocking(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "settings.json"
    if kind == "fifo":
        os.mkfifo(path)  # no writer: a blocking open would wait forever
    elif kind == "folder":
        path.mkdir()
    elif kind == "dev_zero":
        path.symlink_to("/dev/zero")  # endless: an unbounded read would eat all memory
    elif kind == "loop":
        path.symlink_to(path)
    else:
        import socket

        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
    word = {"fifo": "FIFO", "folder": "folder", "dev_zero": "character device", "loop": "loop", "socket": "socket"}
    with pytest.raises(files.FileReadError) as caught:
        files.read_regular(path, 1 << 20)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and word[kind] in message and "\n" not in message
    assert isinstance(caught.value, OSError)  # callers catching OSError keep working


def test_a_file_over_the_limit_is_refused_naming_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    path.write_bytes(b"x" * 101)
    with pytest.raises(files.FileReadError, match="101 bytes, more than the 100 allowed"):
        files.read_regular(path, 100)


def test_a_symlink_is_refused_when_symlinks_are_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("secret")
    (tmp_path / "meta.json").symlink_to(victim)
    with pytest.raises(files.FileReadError, match="symbolic link; it is not followed"):
        files.read_regular(tmp_path / "meta.json", 100, follow_symlinks=False)


def test_a_missing_file_is_the_usual_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as caught:
        files.read_regular(tmp_path / "nope", 10)
    assert files.describe(caught.value) == f"{tmp_path / 'nope'}: No such file or directory"


def test_toml_reads_and_deep_nesting_is_a_toml_error_not_a_recursion_error(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('name = "tech"\n[inquiries.a]\nid = 0\nurgency = [0.2, 0.8]\n')
    assert files.load_toml(good) == {"name": "tech", "inquiries": {"a": {"id": 0, "urgency": [0.2, 0.8]}}}
    for depth in (40, 100_000):  # past our limit; past Python's recursion limit
        deep = tmp_path / f"deep{depth}.toml"
        deep.write_text("a = " + "[" * depth + "]" * depth + "\n")
        with pytest.raises(tomllib.TOMLDecodeError, match="nested more than 32 levels"):
            files.load_toml(deep)
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b"a = '\xff'\n")
    with pytest.raises(tomllib.TOMLDecodeError, match="not UTF-8"):
        files.load_toml(bad)


def test_json_deep_nesting_and_huge_numbers_are_value_errors(tmp_path: Path) -> None:
    assert files.parse_json(b'{"a": [1, {"b": 2}]}') == {"a": [1, {"b": 2}]}
    for text in ("[" * 100_000 + "]" * 100_000, "[" * 40 + "]" * 40, "1" + "0" * 5000):
        with pytest.raises(ValueError):
            files.parse_json(text)
    path = tmp_path / "rec.json"
    path.write_text('{"x": 1}')
    assert files.load_json(path) == {"x": 1}


def test_nesting_counts_containers_without_recursing() -> None:
    assert files.nesting(5) == 0
    assert files.nesting({"a": [1, [2]]}) == 3
    deep: list[object] = []
    for _ in range(100_000):  # deeper than recursion could follow
        deep = [deep]
    assert files.nesting(deep, limit=10) == 11


def test_the_module_imports_nothing_but_the_standard_library() -> None:
    tree = ast.parse(Path(files.__file__).read_text())
    nodes = list(ast.walk(tree))
    imported = {alias.name.split(".")[0] for node in nodes if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in nodes if isinstance(node, ast.ImportFrom) and node.module}
    assert imported - {"__future__"} <= set(sys.stdlib_module_names)
