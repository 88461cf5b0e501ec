"""Crafted model files against the safe loader: how long each takes to be refused, and the memory it costs,
beside loading the shipped default agent (the reference) in the same run.

    python benchmarks/hostile_files.py

Goal (issue 16): any file refused or loaded in under 1 s and 100 MB. Each file is loaded in a fresh
process, so its peak memory (ru_maxrss, less the interpreter's after importing torch and SB3) is its own;
torch's one-time import of its compiler at the process's first optimizer is timed apart and printed.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO / "saves" / "default" / "best.zip"

PROBE = """
import resource, sys, time
import torch, stable_baselines3  # imported before the baseline memory figure: not the file's cost
from cs_tui.training.safe_load import load_model
from cs_tui.training.model_file.format import ModelLoadError
torch.set_num_threads(1)
# torch imports its compiler (torch._dynamo) when a process makes its first optimizer, as rebuilding a
# model does: once per process, whatever the file, so it is timed apart and not charged to the file
start = time.perf_counter()
torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])
once = time.perf_counter() - start
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    load_model(sys.argv[1])
    verdict = "loaded"
except ModelLoadError as exc:
    verdict = "refused: " + str(exc).split(": ", 1)[1][:70]
seconds = time.perf_counter() - start
extra = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(f"{once:.3f} {seconds:.3f} {extra / 1024:.1f} {verdict}")
"""


def members_of(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write(path: Path, members: dict[str, bytes], method: dict[str, int] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data, compress_type=(method or {}).get(name, zipfile.ZIP_STORED))
    return path


def crafted(folder: Path) -> dict[str, Path]:
    import torch

    files = {"reference: the shipped default agent": DEFAULT}
    many = folder / "many.zip"
    with warnings.catch_warnings(), zipfile.ZipFile(many, "w") as archive:
        warnings.simplefilter("ignore")
        for _ in range(200_000):
            archive.writestr("data", b"")
    files["200,000 members named data"] = many
    members = members_of(DEFAULT)
    bomb = dict(members, **{"policy.pth": bytes(2 << 30)})  # bzip2 squeezes 2 GB of zeros to a few KB
    files["bzip2 bomb (2 GB of zeros)"] = write(folder / "bz2.zip", bomb, {"policy.pth": zipfile.ZIP_BZIP2})
    deflated = dict(members, **{"policy.pth": bytes(47 << 20)})  # just under the cap: inflated, then refused
    files["deflated 47 MB policy.pth"] = write(folder / "deflate.zip", deflated, {"policy.pth": zipfile.ZIP_DEFLATED})
    state = torch.load(io.BytesIO(members["policy.pth"]), weights_only=True)
    state["action_net.weight"] = torch.full_like(state["action_net.weight"], 3e38)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    files["weights of 3e38"] = write(folder / "huge.zip", dict(members, **{"policy.pth": buffer.getvalue()}))
    data = json.loads(members["data"])
    data["lr_schedule"][":serialized:"] = "Y251bXB5Cm5kYXJyYXkKKE59Vl9fY2FsbF9fCmNudW1weQpuZGFycmF5CnN0Yi4="
    files["BUILD on a global"] = write(folder / "build.zip", dict(members, data=json.dumps(data).encode()))
    return files


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        files = crafted(Path(tmp))
        print(f"{'file':<38} {'size':>9} {'seconds':>8} {'+MB':>7}  verdict")
        once: list[float] = []
        for label, path in files.items():
            out = subprocess.run(
                [sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, check=True
            ).stdout.split(maxsplit=3)
            once.append(float(out[0]))
            size = path.stat().st_size
            print(f"{label:<38} {size:>9,} {out[1]:>8} {out[2]:>7}  {out[3].strip()}")
        once.sort()
        print(
            f"(not counted above: a fresh process's first optimizer, which imports torch._dynamo, "
            f"median {once[len(once) // 2]:.2f} s, paid once per process by the first model loaded)"
        )


if __name__ == "__main__":
    main()
