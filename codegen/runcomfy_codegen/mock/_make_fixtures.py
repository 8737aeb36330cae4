"""(Re)make the committed video fixtures of :mod:`runcomfy_codegen.mock.media` with PyAV.

    pip install av      # FFmpeg's libx264 and libvpx come with its wheels; not a project dependency
    python -m runcomfy_codegen.mock._make_fixtures          # only the missing ones
    python -m runcomfy_codegen.mock._make_fixtures --all    # every one

Each frame is one flat colour on a ramp (so the files stay a few KB); H.264 (``yuv420p``) in MP4 and
MOV, VP8 in WebM, at the listed size, frame rate and frame count; ``faststart`` puts ``moov`` first.
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from runcomfy_codegen.mock.media import FIXTURES, VIDEO_FIXTURES, VideoSpec


def encode_video(spec: VideoSpec) -> bytes:
    """Encode ``spec`` with PyAV: a colour ramp, one frame per step. Used only to make the fixtures."""
    try:
        av: Any = importlib.import_module("av")
        image: Any = importlib.import_module("PIL.Image")
    except ImportError as exc:
        raise SystemExit(
            f"encoding a video fixture needs PyAV and Pillow (pip install av pillow): {exc}"
        ) from None
    codec = "libvpx" if spec.container == "webm" else "libx264"
    options = {"fflags": "+bitexact"}  # no encoder version string, no random WebM segment id
    if spec.faststart:
        options["movflags"] = "faststart"
    fd, path = tempfile.mkstemp(suffix=f".{spec.container}")
    os.close(fd)
    try:
        with av.open(path, "w", format=spec.container, options=options) as output:
            stream = output.add_stream(codec, rate=spec.fps)
            stream.width, stream.height = spec.width, spec.height
            stream.pix_fmt = "yuv420p"
            for index in range(spec.frames):
                shade = (index * 9) % 256
                picture = image.new("RGB", (spec.width, spec.height), (shade, 90, 255 - shade))
                for packet in stream.encode(av.VideoFrame.from_image(picture)):
                    output.mux(packet)
            for packet in stream.encode():
                output.mux(packet)
        return Path(path).read_bytes()
    finally:
        os.unlink(path)


def main(argv: list[str]) -> int:
    """(Re)write the fixtures: every one with ``--all``, else only those missing."""
    FIXTURES.mkdir(exist_ok=True)
    for spec in VIDEO_FIXTURES:
        target = FIXTURES / spec.filename
        if target.exists() and "--all" not in argv:
            continue
        data = encode_video(spec)
        partial = target.with_suffix(target.suffix + ".part")
        partial.write_bytes(data)
        os.replace(partial, target)
        print(f"{target.name}: {len(data):,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
