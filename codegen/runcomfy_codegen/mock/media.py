"""Real media for the mock's outputs and for tests, with no media library at run time.

* PNG: written here (``zlib`` + CRC, the whole format for one RGB image), any size and colour.
* Video: small real files committed under ``fixtures/`` (H.264 in MP4/MOV, VP8 in WebM), read by
  :func:`make_video` for the parameter sets listed in :data:`VIDEO_FIXTURES`. They were encoded
  once with PyAV (FFmpeg's libx264 / libvpx) by ``_make_fixtures.py``; to add or remake one, install
  PyAV (``pip install av``, never a dependency of this project), add its parameters to
  :data:`VIDEO_FIXTURES` and run ``python -m runcomfy_codegen.mock._make_fixtures``.
"""

from __future__ import annotations

import struct
import zlib
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

FIXTURES = Path(__file__).parent / "fixtures"


class VideoSpec(NamedTuple):
    width: int = 320
    height: int = 240
    fps: int = 24
    frames: int = 24
    container: str = "mp4"
    faststart: bool = False

    @property
    def filename(self) -> str:
        fast = "-faststart" if self.faststart else ""
        return f"video-{self.width}x{self.height}-{self.fps}fps-{self.frames}f{fast}.{self.container}"


VIDEO_FIXTURES: tuple[VideoSpec, ...] = (
    VideoSpec(),  # the mock's /media/<name>.mp4, .mov and .webm
    VideoSpec(container="mov"),
    VideoSpec(container="webm"),
    VideoSpec(frames=48),
    VideoSpec(frames=48, faststart=True),
    VideoSpec(frames=48, container="mov"),
    VideoSpec(frames=48, container="webm"),
    VideoSpec(160, 120, fps=10, frames=70),
    VideoSpec(160, 120, fps=10, frames=70, container="mov"),
    VideoSpec(160, 120, fps=10, frames=70, container="webm"),
)
"""Every committed video: (width, height, fps, frames, container, faststart)."""


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


@lru_cache(maxsize=32)
def make_png(width: int = 640, height: int = 360, color: tuple[int, int, int] = (40, 120, 200)) -> bytes:
    """A valid 8-bit RGB PNG of one colour (filter type 0 on every row)."""
    if not (0 < width <= 65_535 and 0 < height <= 65_535):
        raise ValueError(f"PNG size {width}x{height} is outside 1..65535")
    row = b"\x00" + bytes(color) * width
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit truecolour, no interlace
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


@lru_cache(maxsize=32)
def make_video(
    width: int = 320,
    height: int = 240,
    fps: int = 24,
    frames: int = 24,
    container: str = "mp4",
    faststart: bool = False,
) -> bytes:
    """A real, decodable video (H.264 in MP4/MOV, VP8 in WebM), read from the committed fixtures."""
    spec = VideoSpec(width, height, fps, frames, container, faststart)
    if spec not in VIDEO_FIXTURES:
        raise LookupError(
            f"no video fixture {spec.filename}: add {spec} to VIDEO_FIXTURES in {__name__} and run "
            "'python -m runcomfy_codegen.mock._make_fixtures' with PyAV installed (pip install av)"
        )
    return (FIXTURES / spec.filename).read_bytes()
