"""Real media files made on the fly, for the mock's outputs and for tests: PNG (Pillow), MP4 (PyAV)."""

from __future__ import annotations

import io
import os
import tempfile
from functools import lru_cache


@lru_cache(maxsize=32)
def make_png(width: int = 640, height: int = 360, color: tuple[int, int, int] = (40, 120, 200)) -> bytes:
    from PIL import Image

    image = Image.new("RGB", (width, height), color)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@lru_cache(maxsize=32)
def make_video(
    width: int = 320,
    height: int = 240,
    fps: int = 24,
    frames: int = 24,
    container: str = "mp4",
    faststart: bool = False,
) -> bytes:
    """A real, decodable video: H.264 in MP4/MOV, VP8 in WebM."""
    import av
    from PIL import Image

    codec = "libvpx" if container == "webm" else "libx264"
    options = {"movflags": "faststart"} if faststart else {}
    fd, path = tempfile.mkstemp(suffix=f".{container}")
    os.close(fd)
    try:
        with av.open(path, "w", format=container, options=options) as output:
            stream = output.add_stream(codec, rate=fps)
            stream.width, stream.height = width, height
            stream.pix_fmt = "yuv420p"
            for index in range(frames):
                shade = (index * 9) % 256
                picture = Image.new("RGB", (width, height), (shade, 90, 255 - shade))
                frame = av.VideoFrame.from_image(picture)  # type: ignore[no-untyped-call]  # untyped in PyAV
                for packet in stream.encode(frame):
                    output.mux(packet)
            for packet in stream.encode():
                output.mux(packet)
        with open(path, "rb") as handle:
            return handle.read()
    finally:
        os.unlink(path)
