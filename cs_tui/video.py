"""Conversations to a video file: ``cs-tui demo --video FILE`` (``.mp4`` or ``.gif``).

Frames are the env's ``rgb_array`` pictures (``cs_env/render.py``), one a turn, played at the env's
``render_fps`` (a turn a second). A GIF is written by Pillow (a dependency already); an MP4 by
ffmpeg through imageio, the ``video`` extra (``pip install "cs-tui[video]"``). Either is written to a
temp file beside the target and renamed over it, so a failed or interrupted run leaves no half file.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

#: suffix -> what writes it
FORMATS = {".mp4": "ffmpeg (pip install 'cs-tui[video]')", ".gif": "Pillow"}


class VideoError(Exception):
    """The video cannot be written; the message says why and what to do."""


def check_target(path: str) -> Path:
    """``path`` if its suffix is a format we write and its writer is installed; else ``VideoError``."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in FORMATS:
        raise VideoError(f"cannot write {target.name!r}: the video file must end in {' or '.join(FORMATS)}")
    if suffix == ".mp4" and importlib.util.find_spec("imageio_ffmpeg") is None:
        raise VideoError(
            "writing .mp4 needs ffmpeg through imageio: pip install 'cs-tui[video]' "
            "(or write a .gif, which needs nothing more)"
        )
    if not target.parent.is_dir():
        raise VideoError(f"cannot write {target}: the folder {target.parent} does not exist")
    return target


def write(target: Path, frames: Iterable[np.ndarray], fps: float) -> int:
    """Write ``frames`` (H x W x 3 uint8) to ``target`` atomically; how many frames were written."""
    fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    temp = Path(temp_name)
    umask = os.umask(0)
    os.umask(umask)
    temp.chmod(0o666 & ~umask)  # mkstemp's 0600 would make the shared video unreadable to others
    try:
        count = _write_gif(temp, frames, fps) if target.suffix.lower() == ".gif" else _write_mp4(temp, frames, fps)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    return count


def _write_gif(path: Path, frames: Iterable[np.ndarray], fps: float) -> int:
    from PIL import Image

    palette = theme_palette()
    quantized = [Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]
    if not quantized:
        raise VideoError("no frames to write")
    quantized[0].save(
        path, format="GIF", save_all=True, append_images=quantized[1:], duration=round(1000 / fps), loop=0
    )
    return len(quantized)


def theme_palette() -> Any:
    """One GIF palette for every frame: each ink of the frames blended onto each ground in 8 steps.

    Frames draw a few colours, anti-aliased onto three backgrounds, so these blends are all the colours
    there are; a palette of the first frame's colours alone would lose the inks it does not show.
    """
    from PIL import Image

    from cs_env.render import GROUNDS, INKS

    colours: list[tuple[int, ...]] = list(dict.fromkeys(GROUNDS))
    for ground in GROUNDS:
        for ink in INKS:
            for step in range(1, 8):
                blend = tuple(round(g + (i - g) * step / 7) for g, i in zip(ground, ink, strict=True))
                if blend not in colours:
                    colours.append(blend)
    colours = colours[:256]
    palette = Image.new("P", (1, 1))
    palette.putpalette([c for colour in colours for c in colour] + [0, 0, 0] * (256 - len(colours)))
    return palette


def _write_mp4(path: Path, frames: Iterable[np.ndarray], fps: float) -> int:
    import imageio.v2 as imageio

    count = 0
    # yuv420p: the pixel format every player takes; frames are 1024 x 576, multiples of 16 as x264 wants
    writer: Any = imageio.get_writer(
        path, format="FFMPEG", fps=fps, codec="libx264", pixelformat="yuv420p", macro_block_size=16
    )
    with writer:
        for frame in frames:
            writer.append_data(frame)
            count += 1
    if not count:
        raise VideoError("no frames to write")
    return count
