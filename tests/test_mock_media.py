"""The mock's media: PNGs written with zlib, videos from committed fixtures, no video library."""

from __future__ import annotations

import io
import zlib

import pytest
from PIL import Image

from runcomfy_codegen.mock.media import FIXTURES, VIDEO_FIXTURES, VideoSpec, make_png, make_video
from runcomfy_models._containers import MediaInfo
from runcomfy_models._media import analyse


def measure(data: bytes) -> MediaInfo:
    reader = analyse(len(data), data)
    try:
        next(reader)
    except StopIteration as done:
        info: MediaInfo = done.value
        return info
    raise AssertionError("the whole file was given, yet the parser asked for more")


@pytest.mark.parametrize(("width", "height", "color"), [(640, 360, (40, 120, 200)), (1, 1, (0, 0, 0))])
def test_make_png_is_a_valid_png_of_that_size_and_colour(
    width: int, height: int, color: tuple[int, int, int]
) -> None:
    data = make_png(width, height, color)
    with Image.open(io.BytesIO(data)) as image:
        image.load()  # decodes every row: CRCs, zlib stream and filters are all checked
        assert (image.size, image.mode, image.format) == ((width, height), "RGB", "PNG")
        assert image.getpixel((width - 1, height - 1)) == color
    assert zlib.crc32(data[12:29]) == int.from_bytes(data[29:33], "big")  # IHDR's CRC


def test_make_png_refuses_sizes_png_cannot_hold() -> None:
    with pytest.raises(ValueError, match="outside"):
        make_png(0, 10)


@pytest.mark.parametrize("spec", VIDEO_FIXTURES, ids=lambda s: s.filename)
def test_every_video_fixture_is_committed_and_measures_as_named(spec: VideoSpec) -> None:
    width, height, fps, frames, container, faststart = spec
    data = make_video(width, height, fps, frames, container, faststart)
    assert (FIXTURES / spec.filename).stat().st_size == len(data) < 16_000
    info = measure(data)
    assert (info.width, info.height, info.fps) == (width, height, float(fps))
    assert info.duration_seconds == pytest.approx(frames / fps, abs=1e-6)
    assert info.format == ("webm" if container == "webm" else "mp4")
    if container != "webm":
        assert (data.find(b"moov") < data.find(b"mdat")) is faststart
        assert b"avc1" in data  # H.264


def test_a_video_without_a_fixture_says_how_to_make_one() -> None:
    with pytest.raises(LookupError, match=r"video-99x99-24fps-24f\.mp4.*_make_fixtures.*pip install av"):
        make_video(99, 99)
