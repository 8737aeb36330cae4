"""Image sizes from header bytes alone (runtime/_containers.py): PNG, JPEG, GIF, WebP, as Pillow says,
whatever metadata follows the header, reading only what the header needs."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from runcomfy_models._containers import ContainerError, MediaInfo, image_format, read_image
from runcomfy_models._media import HEAD_BYTES, analyse


def drive(blob: bytes, head_bytes: int = HEAD_BYTES) -> tuple[MediaInfo, int]:
    """Run a reader over ``blob`` as the probers do; return its result and the bytes it was given."""
    given = min(len(blob), head_bytes)
    reader = analyse(len(blob), blob[:head_bytes])
    try:
        offset, length = next(reader)
        while True:
            chunk = blob[offset : offset + length]
            given += len(chunk)
            offset, length = reader.send(chunk)
    except StopIteration as done:
        return done.value, given


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def variants() -> list[tuple[str, bytes]]:
    rgb = Image.new("RGB", (321, 123), (10, 20, 30))
    frames = [Image.new("RGB", (77, 55), (i * 50, 0, 0)) for i in range(3)]
    return [
        ("png", encode(rgb, "PNG")),
        ("png-palette", encode(rgb.convert("P"), "PNG")),
        ("png-interlaced", encode(Image.new("L", (1, 4097)), "PNG", optimize=False)),
        ("jpeg", encode(rgb, "JPEG", quality=80)),
        ("jpeg-progressive", encode(rgb, "JPEG", progressive=True)),
        ("jpeg-grey", encode(rgb.convert("L"), "JPEG")),
        ("jpeg-exif", encode(rgb, "JPEG", exif=b"Exif\x00\x00" + bytes(60_000))),
        ("gif", encode(rgb.convert("P"), "GIF")),
        ("gif-animated", encode(frames[0], "GIF", save_all=True, append_images=frames[1:])),
        ("webp-lossy", encode(rgb, "WEBP", quality=50)),
        ("webp-lossless", encode(rgb, "WEBP", lossless=True)),
        ("webp-alpha", encode(Image.new("RGBA", (99, 17), (1, 2, 3, 4)), "WEBP")),
        ("webp-animated", encode(frames[0], "WEBP", save_all=True, append_images=frames[1:])),
    ]


@pytest.mark.parametrize(("name", "blob"), variants(), ids=[n for n, _ in variants()])
def test_sizes_agree_with_pillow(name: str, blob: bytes) -> None:
    with Image.open(io.BytesIO(blob)) as image:
        expected = (image.format.lower() if image.format else "", image.size)
    info, _given = drive(blob)
    assert (info.format, (info.width, info.height)) == expected
    assert image_format(blob) == info.format


def test_a_png_with_a_huge_chunk_before_its_pixels_is_not_read_through() -> None:
    blob = encode(Image.new("RGB", (1920, 1080)), "PNG")
    ihdr_end = 8 + 25
    huge = chunk(b"zTXt", b"comment\x00\x00" + bytes(31_000_000))  # a 31 MB ancillary chunk
    blob = blob[:ihdr_end] + huge + blob[ihdr_end:]
    info, given = drive(blob)
    assert (info.format, info.width, info.height) == ("png", 1920, 1080)
    assert given == HEAD_BYTES  # the first read; IHDR is in its first 24 bytes
    info, given = drive(blob, head_bytes=24)
    assert (info.width, info.height) == (1920, 1080) and given == 24


def test_a_jpeg_frame_header_after_large_metadata_is_reached_by_skipping_segments() -> None:
    jpeg = encode(Image.new("RGB", (640, 360)), "JPEG")
    app = b"".join(b"\xff\xe2" + struct.pack(">H", 65535) + bytes(65533) for _ in range(40))  # 2.6 MB of ICC
    blob = jpeg[:2] + app + jpeg[2:]
    with Image.open(io.BytesIO(blob)) as image:
        assert image.size == (640, 360)
    info, given = drive(blob)
    assert (info.format, info.width, info.height) == ("jpeg", 640, 360)
    assert given <= HEAD_BYTES + 40 * 4096  # one small read per segment header, never the segments


def test_fill_bytes_and_standalone_markers_are_walked() -> None:
    jpeg = encode(Image.new("RGB", (33, 44)), "JPEG")
    blob = jpeg[:2] + b"\xff\xff\xff" + jpeg[2:]
    assert drive(blob)[0].width == 33


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(8), "truncated PNG"),
        (b"\x89PNG\r\n\x1a\n" + chunk(b"tEXt", b"a\x00b")[:16] + bytes(8), "not IHDR"),
        (b"\xff\xd8\xff\xda\x00\x02", "before its image data"),
        (b"\xff\xd8\xff\xe0\x00\x10" + bytes(20), "no marker"),
        (b"\xff\xd8\xff\xe0\x00\x10" + bytes(10), "frame header"),
        (b"GIF89a\x00\x00\x10\x00" + bytes(10), "zero width"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8Z" + bytes(14), "unknown first chunk"),
    ],
)
def test_broken_headers_are_container_errors(blob: bytes, message: str) -> None:
    with pytest.raises(ContainerError, match=message):
        drive(blob)


def test_other_formats_go_to_pillow() -> None:
    bmp = encode(Image.new("RGB", (5, 6)), "BMP")
    assert image_format(bmp) is None
    info, _ = drive(bmp)
    assert (info.format, info.width, info.height) == ("bmp", 5, 6)
    with pytest.raises(ContainerError):
        next(read_image(len(bmp), bmp))
