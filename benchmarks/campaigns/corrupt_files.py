"""Campaign 3, corrupt files: mutated model zips, meta.json and metrics.jsonl, fed to the CLI and the app.

Each trial makes ten mutations of a real model zip (the shipped ``saves/default/model.zip``), one of
``meta.json`` and one of ``metrics.jsonl``. Every mutated model goes through ``cs-tui evaluate FILE``
(in a worker process, with a time limit: a file that takes longer is a denial of service); then the
lot is opened in the app (Models pane: each evaluated; Training pane: each run opened). The promises:
no traceback, no code run (crafted pickles would create a canary file), nothing accepted that should
not be (a file that loads must hold the original weights and description, and some mutations must
always be refused), and every refusal names the file.
"""

from __future__ import annotations

import asyncio
import base64
import bz2
import io
import json
import os
import pickle
import random
import re
import shutil
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

from campaigns.common import REPO, worker

SOURCE_RUN = REPO / "saves" / "default"
CPU_LIMIT = 5.0  # CPU seconds a single file may cost before it counts as a denial of service (wall time
# says little on a shared machine)
MUTATIONS_PER_TRIAL = 20
BOMB_SIZES = [64 << 20, 700 << 20]  # under every member's cap, and over most


def members(raw: bytes) -> list[tuple[zipfile.ZipInfo, bytes]]:
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        return [(info, archive.read(info)) for info in archive.infolist()]


def build(
    entries: list[tuple[str, bytes]], method: int = zipfile.ZIP_STORED, attrs: dict[str, int] | None = None
) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=method) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = method
            if attrs and name in attrs:
                info.external_attr = attrs[name]
            archive.writestr(info, data)
    return out.getvalue()


class _Canary:
    """Pickles to a call that creates the canary file: if it ever exists, a file ran code."""

    def __init__(self, canary: Path) -> None:
        self.canary = canary

    def __reduce__(self) -> Any:
        return (os.system, (f"touch {self.canary}",))


def _evil_pickle(canary: Path, kind: str) -> bytes:
    if kind == "reduce":
        return pickle.dumps(_Canary(canary), protocol=4)
    if kind == "exec":  # builtins.exec through GLOBAL + REDUCE, hand-assembled
        code = f"open({str(canary)!r}, 'w').close()".encode()
        return b"cbuiltins\nexec\n(" + b"X" + struct.pack("<I", len(code)) + code + b"tR."
    # BUILD on an allowed global: sets an attribute on a class (stable-baselines3's schedule) for the process
    return (
        b"\x80\x04cstable_baselines3.common.utils\nConstantSchedule\n"
        b"N}\x8c\x08__call__\x8c\x05posix\x8c\x06system\x93\x86\x86b."
    )


def mutate_model(raw: bytes, rng: random.Random, canary: Path) -> tuple[str, bytes, bool | None]:
    """One mutation of the model zip: (what was done, the bytes, whether it must be refused: True, False
    when it must load as the original, None when it may load with its changed description)."""
    entries = members(raw)
    names = [info.filename for info, _ in entries]
    plain = [(info.filename, data) for info, data in entries]
    kind = rng.choice(
        ["bitflip", "bitflip", "bitflip", "truncate", "truncate", "swap", "zipslip", "bomb", "symlink", "pickle",
         "torch_pickle", "json", "duplicate", "garbage", "empty", "many_members", "nested"]
    )  # fmt: skip
    if kind == "bitflip":
        data = bytearray(raw)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        return kind, bytes(data), False
    if kind == "truncate":
        return kind, raw[: rng.randrange(len(raw))], True
    if kind == "swap":
        a, b = rng.sample(range(len(plain)), 2)
        swapped = list(plain)
        swapped[a] = (plain[a][0], plain[b][1])
        swapped[b] = (plain[b][0], plain[a][1])
        return f"swap {plain[a][0]} <-> {plain[b][0]}", build(swapped), True
    if kind == "zipslip":
        victim = rng.randrange(len(plain))
        evil = rng.choice(["../../evil.txt", "/tmp/evil.txt", "../" + plain[victim][0], "data/../../x", "C:\\evil"])
        slipped = list(plain)
        if rng.random() < 0.5:
            slipped[victim] = (evil, plain[victim][1])
        else:
            slipped.append((evil, b"pwned"))
        return f"zip-slip {evil!r}", build(slipped), True
    if kind == "bomb":
        name = rng.choice(names)
        size = rng.choice(BOMB_SIZES)
        method = rng.choice([zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2])
        lie = rng.random() < 0.5  # the headers claim a few bytes; the stream inflates to the full size
        return (
            f"bomb {name} {size >> 20} MB{' (declared small)' if lie else ''}",
            _bomb(tuple(plain), name, size, method, lie),
            True,
        )
    if kind == "symlink":
        name = rng.choice(names)
        attrs = {name: (0o120777 << 16)}
        target = rng.choice(["/etc/passwd", "/dev/zero", "../../../../etc/shadow"])
        linked = [(n, target.encode() if n == name and rng.random() < 0.7 else d) for n, d in plain]
        changed = any(d != o for (_, d), (_, o) in zip(linked, plain, strict=True))
        return f"symlink member {name} -> {target}", build(linked, attrs=attrs), changed
    if kind == "pickle":
        evil = _evil_pickle(canary, rng.choice(["reduce", "exec", "build"]))
        data = json.loads(dict(plain)["data"])
        key = rng.choice(sorted(data))
        data[key] = {":type:": "<class 'x'>", ":serialized:": base64.b64encode(evil).decode()}
        crafted = [(n, json.dumps(data).encode() if n == "data" else d) for n, d in plain]
        return f"crafted pickle in data[{key!r}]", build(crafted), True
    if kind == "torch_pickle":
        import torch

        buffer = io.BytesIO()
        torch.save({"weights": _Canary(canary)}, buffer)
        name = rng.choice(["policy.pth", "policy.optimizer.pth", "pytorch_variables.pth"])
        crafted = [(n, buffer.getvalue() if n == name else d) for n, d in plain]
        return f"crafted torch pickle in {name}", build(crafted), True
    if kind == "json":
        original = json.loads(dict(plain)["cs_tui.json"])
        meta = json.loads(dict(plain)["cs_tui.json"])
        path, value = _json_mutation(meta, rng)
        changed = [(n, json.dumps(meta).encode() if n == "cs_tui.json" else d) for n, d in plain]
        return f"cs_tui.json {path} = {value!r:.60}", build(changed), _json_must_refuse(original, path, value)
    if kind == "duplicate":
        name = rng.choice(names)
        return f"duplicate {name}", build([*plain, (name, dict(plain)[name])]), True
    if kind == "garbage":
        return "random bytes", rng.randbytes(rng.choice([0, 1, 22, 4096, 200_000])), True
    if kind == "empty":
        return "an empty zip", build([]), True
    if kind == "many_members":
        count = rng.choice([2_000, 20_000])
        return f"{count} members", build([*plain, *(("data", b"") for _ in range(count))]), True
    inner = build(plain)  # nested: the model inside a member of another zip
    return "a zip inside a zip", build([("model.zip", inner)]), True


_BOMBS: dict[tuple[str, int, int], bytes] = {}


def _bomb(plain: tuple[tuple[str, bytes], ...], name: str, size: int, method: int, lie: bool) -> bytes:
    """A model zip whose member ``name`` inflates to ``size`` zero bytes (built once per process)."""
    key = (size, method)  # the compressed stream is the same whatever member carries it
    if key not in _BOMBS:
        c = zlib.compressobj(9, zlib.DEFLATED, -15) if method == zipfile.ZIP_DEFLATED else bz2.BZ2Compressor(9)
        chunk = b"\0" * (16 << 20)
        stream = b"".join(c.compress(chunk) for _ in range(size // len(chunk))) + c.flush()
        crc = 0
        for _ in range(size // len(chunk)):
            crc = zlib.crc32(chunk, crc)
        _BOMBS[key] = _raw_zip(plain, "data", stream, method, crc, size)
    # the member's declared sizes say 1,000 bytes (in both headers) when the bomb lies
    return _raw_zip(plain, name, None, method, 0, 1000 if lie else size, source=_BOMBS[key], at="data")


def _raw_zip(
    plain: tuple[tuple[str, bytes], ...],
    name: str,
    stream: bytes | None,
    method: int,
    crc: int,
    size: int,
    source: bytes | None = None,
    at: str = "",
) -> bytes:
    """A zip with ``name``'s compressed bytes given as they are (zipfile itself would compress the data)."""
    if source is not None:  # reuse the stream and crc of an earlier bomb, declare another size
        with zipfile.ZipFile(io.BytesIO(source)) as archive:
            info = archive.getinfo(at or name)
            start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
            stream = source[start : start + info.compress_size]
            crc, size = info.CRC, size
    assert stream is not None
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for n, d in plain:
            info = zipfile.ZipInfo(n, date_time=(2026, 1, 1, 0, 0, 0))
            if n != name:
                archive.writestr(info, d)
                continue
            info.compress_type = method
            info.CRC, info.compress_size, info.file_size = crc, len(stream), size
            info.flag_bits = 0
            header = info.FileHeader(zip64=False)
            info.header_offset = out.tell()
            out.write(header + stream)
            archive.filelist.append(info)
            archive.NameToInfo[n] = info
            archive.start_dir = out.tell()
    return out.getvalue()


HOSTILE_JSON: list[Any] = [None, True, -1, 0, 2**64, 1e308, -1e308, "", "x" * 100_000, [], {}, [[[[]]]], "[/]",
                           "[bold", "../../etc", {"a": 1}, 3.5, "ppo", "dqn", 10**400, -(10**400)]  # fmt: skip
#: issue 30: numbers with no float (10**400) where the panes show figures; each once killed the app
WIDE_META_FIELDS = [("total_timesteps",), ("timesteps_done",), ("reference", "oracle_return"),
                    ("last_eval", "pct_of_oracle"), ("best_eval", "mean_return"),
                    ("last_eval", "timesteps")]  # fmt: skip
WIDE_METRICS_LINES = [{"type": "train", "timesteps": 10**400}, {"type": "train", "timesteps": 1, "fps": 10**400},
                      {"type": "train", "timesteps": 1, "episode_returns": [10**400]},
                      {"type": "eval", "timesteps": 1, "pct_of_oracle": 10**400}]  # fmt: skip


#: cs_tui.json's optional fields about a model's origin (run name, seed, versions, its evaluation, ...): a
#: file that drops one, or holds another plain value of the same kind, is as sound as the original
ABOUT_FIELDS = frozenset(["name", "run", "seed", "n_envs", "trained_by", "versions", "hyperparameters",
                          "industry_digest", "eval"])  # fmt: skip
PLAIN_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+ -]{0,63}")


def _kind(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return repr(value)
    return "number" if isinstance(value, int | float) else type(value).__name__


def _json_must_refuse(original: Any, path: str, value: Any) -> bool | None:
    """True: the loader must refuse the mutated description. None: it may load it (an optional field
    dropped, or another plain value of the same kind), and then with the original weights."""
    keys = path.split("/")
    if keys[0] not in ABOUT_FIELDS:
        return True  # what the model is (algorithm, env, network, spaces): never anything but the original
    if value == "<deleted>":
        return None
    node = original
    for key in keys:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if _kind(value) != _kind(node) or (isinstance(value, str) and not PLAIN_WORD.fullmatch(value)):
        return True
    return None


def _json_mutation(doc: Any, rng: random.Random) -> tuple[str, Any]:
    """Replace one random leaf (or delete a key) of a JSON document in place."""
    path = []
    node = doc
    while isinstance(node, dict | list) and node:
        key = rng.choice(sorted(node)) if isinstance(node, dict) else rng.randrange(len(node))
        path.append(key)
        if rng.random() < 0.35 or not isinstance(node[key], dict | list) or not node[key]:
            if isinstance(node, dict) and rng.random() < 0.2:
                del node[key]
                return "/".join(map(str, path)), "<deleted>"
            value = rng.choice(HOSTILE_JSON)
            node[key] = value
            return "/".join(map(str, path)), value
        node = node[key]
    return "", None


def mutate_text(raw: bytes, rng: random.Random, is_jsonl: bool) -> tuple[str, bytes]:
    """A mutation of meta.json or metrics.jsonl."""
    kind = rng.choice(["json", "json", "truncate", "bitflip", "garbage", "deep", "huge", "nan", "markup", "wide"])
    if kind == "wide":
        if is_jsonl:
            line = rng.choice(WIDE_METRICS_LINES)
            return f"a line {json.dumps(line)[:40]}…", raw + json.dumps(line).encode() + b"\n"
        doc = json.loads(raw)
        path = rng.choice(WIDE_META_FIELDS)
        node = doc
        for key in path[:-1]:
            node = node.setdefault(key, {}) if isinstance(node.get(key), dict) else {}
        node[path[-1]] = 10**400
        return f"{'.'.join(path)} = 10**400", json.dumps(doc).encode()
    if kind == "json":
        if is_jsonl:
            lines = raw.splitlines()
            i = rng.randrange(len(lines))
            doc = json.loads(lines[i])
            where, value = _json_mutation(doc, rng)
            lines[i] = json.dumps(doc).encode()
            return f"line {i} {where} = {value!r:.40}", b"\n".join(lines) + b"\n"
        doc = json.loads(raw)
        where, value = _json_mutation(doc, rng)
        return f"{where} = {value!r:.40}", json.dumps(doc).encode()
    if kind == "truncate":
        return "truncated", raw[: rng.randrange(len(raw))]
    if kind == "bitflip":
        data = bytearray(raw)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        return "bit flips", bytes(data)
    if kind == "garbage":
        return "random bytes", rng.randbytes(rng.choice([1, 100, 10_000]))
    if kind == "deep":
        return "deep nesting", b"[" * 100_000 + b"]" * 100_000
    if kind == "huge":
        return "a 20 MB line", b'{"type": "train", "x": "' + b"a" * (20 << 20) + b'"}\n'
    if kind == "nan":
        return "NaN and Infinity", raw.replace(b"0.", b"NaN").replace(b"1", b"Infinity", 3)
    return "markup in strings", raw.replace(b'"ppo"', b'"[/]"').replace(b'"mixed"', b'"[bold"')


# -- the checks ------------------------------------------------------------------------------


def original_parameters(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    from cs_tui.training.safe_load import load_model_with_meta

    model, meta = load_model_with_meta(path)
    return {k: v.clone() for k, v in model.policy.state_dict().items()}, meta


_ORIGINAL: tuple[dict[str, Any], dict[str, Any]] | None = None


def same_as_original(path: Path, description: bool = True) -> bool:
    """Whether ``path`` loads (in this process) to the very weights (and description) of the source model."""
    global _ORIGINAL
    from cs_tui.training.safe_load import load_model_with_meta

    if _ORIGINAL is None:
        _ORIGINAL = original_parameters(SOURCE_RUN / "model.zip")
    weights, meta = _ORIGINAL
    model, got_meta = load_model_with_meta(path)
    state = model.policy.state_dict()
    return (
        (got_meta == meta or not description)
        and state.keys() == weights.keys()
        and all(bool((state[k] == weights[k]).all()) for k in weights)
    )


def check_cli(path: Path, what: str, must_refuse: bool | None, canary: Path) -> str | None:
    result = worker.run(["evaluate", str(path), "--episodes", "2"])
    if canary.exists():
        return f"{what}: CODE RAN (the canary exists)"
    if result.timed_out or result.traceback:
        return f"{what}: {result.describe()}"
    if result.cpu_seconds > CPU_LIMIT:
        return f"{what}: took {result.cpu_seconds:.0f} s of CPU (a denial of service)"
    if result.code == 0:
        if must_refuse:
            return f"{what}: accepted, but it must be refused"
        if not same_as_original(path, description=must_refuse is not None):
            return f"{what}: accepted with other weights or description than the original"
        return None
    if result.code not in (1, 2):
        return f"{what}: exit status {result.code}"
    if path.name not in result.err:
        return f"{what}: the refusal does not name the file: {result.err.strip()[:200]}"
    return None


def trial(seed: int, workdir: Path, mutations: int = MUTATIONS_PER_TRIAL) -> str | None:
    rng = random.Random(seed)
    raw = (SOURCE_RUN / "model.zip").read_bytes()
    canary = workdir / "CANARY"
    saves = workdir / "saves"
    problems: list[str] = []
    for i in range(mutations):
        what, data, must_refuse = mutate_model(raw, rng, canary)
        run = saves / f"m{i}"
        shutil.copytree(SOURCE_RUN, run, ignore=shutil.ignore_patterns("*.zip"))
        target = run / rng.choice(["best.zip", "model.zip"])
        target.write_bytes(data)
        problem = check_cli(target, what, must_refuse, canary)
        if problem:
            problems.append(problem)
    for name, is_jsonl in (("meta.json", False), ("metrics.jsonl", True)):
        run = saves / f"text-{name}"
        shutil.copytree(SOURCE_RUN, run)
        what, data = mutate_text((run / name).read_bytes(), rng, is_jsonl)
        (run / name).write_bytes(data)
        result = worker.run(["evaluate", str(run), "--episodes", "2"])
        if result.timed_out or result.traceback:
            problems.append(f"{name} {what}: {result.describe()}")
        elif result.code not in (0, 1, 2) or (result.code and name not in result.err and str(run) not in result.err):
            problems.append(f"{name} {what}: the refusal does not name the file: {result.describe()}")
    problems += asyncio.run(check_app(saves))
    if canary.exists():
        problems.append("CODE RAN in the app (the canary exists)")
    return "; ".join(problems) or None


async def check_app(saves: Path) -> list[str]:
    """Open every mutated run in the Models pane (evaluated) and the Training pane: no crash, it still quits."""
    from textual.widgets import DataTable, Input

    from cs_tui.app import AppSettings, CsTuiApp

    app = CsTuiApp(saves=saves, settings=AppSettings(opponent="baseline:heuristic", seed=0))
    problems: list[str] = []
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("m")
            await pilot.pause()
            app.screen.query_one("#episodes", Input).value = "2"
            table = app.screen.query_one("#models", DataTable)
            table.focus()
            for _ in range(table.row_count):
                await pilot.press("e")
                await _settle(pilot, app)
                await pilot.press("down")
            await pilot.press("t")
            await pilot.pause()
            runs = app.screen.query_one("#runs", DataTable)
            runs.focus()
            for _ in range(runs.row_count):
                await pilot.press("enter")
                await pilot.pause(0.05)
                await pilot.press("down")
            await _settle(pilot, app)
            await pilot.press("q")
            await pilot.pause()
    except Exception as exc:
        problems.append(f"the app crashed: {type(exc).__name__}: {str(exc)[:300]}")
    else:
        if app.is_running:
            problems.append("the app did not quit on q")
    return problems


async def _settle(pilot: Any, app: Any, timeout: float = 300.0) -> None:
    """Wait for the pane's workers (a model loading) to finish."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while any(w.is_running for w in app.workers) and loop.time() < deadline:
        await pilot.pause(0.05)
