"""Sans-I/O header parsers for video and audio containers: ISO BMFF (MP4/MOV/M4A), Matroska/WebM, WAV.

Each parser is a generator: it yields ``(offset, length)`` when it needs bytes it does not have and
receives them back, then returns a :class:`MediaInfo`. The sync and async probers drive the same
parser, so only the I/O differs. Parsers read box/element headers and the few metadata boxes they
need (``moov`` for MP4, ``Info``/``Tracks`` for WebM), never frames.
"""

from __future__ import annotations

import struct
from collections.abc import Generator
from dataclasses import dataclass

Reader = Generator[tuple[int, int], bytes, "MediaInfo"]
TAIL_CHUNK = 256 * 1024


class ContainerError(ValueError):
    """The bytes are not a container this module can read (or are truncated)."""


@dataclass
class MediaInfo:
    """What a probe measured. ``None`` where the format does not say."""

    format: str
    width: int | None = None
    height: int | None = None
    duration_seconds: float | None = None
    fps: float | None = None
    size_bytes: int | None = None


def sniff(head: bytes) -> str:
    """The container kind from magic bytes (extensions lie): ``mp4``, ``webm``, ``wav`` or ``image``."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis", b"heic", b"heix", b"mif1", b"msf1"):
            return "image"
        return "mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    return "image"


# --- ISO BMFF --------------------------------------------------------------------------------------

_CONTAINER_BOXES = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf"}


def _boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, payload start, box end) of the boxes in data[start:end]."""
    boxes = []
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            if pos + 16 > end:
                break
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header:
            raise ContainerError(f"corrupt MP4 box {kind!r} at {pos}")
        boxes.append((kind, pos + header, pos + size))
        pos += size
    return boxes


def read_mp4(size: int | None, head: bytes) -> Reader:
    """Find ``moov`` among the top-level boxes (reading box headers only), then parse it."""
    pos = 0
    data, data_start = head, 0
    while True:
        if size is not None and pos >= size:
            raise ContainerError("no 'moov' box: not a complete MP4/MOV file")
        if pos + 16 > data_start + len(data):
            # Read a chunk, not just the box header: a trailing 'moov' then comes in the same read.
            want = TAIL_CHUNK if size is None else min(TAIL_CHUNK, size - pos)
            data, data_start = (yield (pos, max(want, 8))), pos
            if len(data) < 8:
                raise ContainerError("truncated MP4: no 'moov' box before the end of the data")
        rel = pos - data_start
        box_size, kind = struct.unpack(">I4s", data[rel : rel + 8])
        header = 8
        if box_size == 1:
            box_size = struct.unpack(">Q", data[rel + 8 : rel + 16])[0]
            header = 16
        elif box_size == 0:
            if size is None:
                raise ContainerError("MP4 box runs to the end of a file of unknown size")
            box_size = size - pos
        if box_size < header:
            raise ContainerError(f"corrupt MP4 box {kind!r} at offset {pos}")
        if kind == b"moov":
            if rel + box_size > len(data):
                data, data_start = (yield (pos, box_size)), pos
                rel = 0
                if len(data) < box_size:
                    raise ContainerError("truncated MP4: the 'moov' box is cut short")
            return _parse_moov(data, rel + header, rel + box_size)
        pos += box_size


def _fixed_16_16(value: int) -> int:
    return round(value / 65536)


def _parse_moov(data: bytes, start: int, end: int) -> MediaInfo:
    info = MediaInfo("mp4")
    for kind, body, box_end in _boxes(data, start, end):
        if kind == b"mvhd":
            version = data[body]
            if version == 1:
                timescale, duration = struct.unpack(">IQ", data[body + 20 : body + 32])
            else:
                timescale, duration = struct.unpack(">II", data[body + 12 : body + 20])
            if timescale:
                info.duration_seconds = duration / timescale
        elif kind == b"trak":
            _parse_trak(data, body, box_end, info)
    return info


def _parse_trak(data: bytes, start: int, end: int, info: MediaInfo) -> None:
    width = height = None
    handler = None
    timescale = duration = 0
    deltas: dict[int, int] = {}  # sample delta -> number of samples with it

    def walk(s: int, e: int) -> None:
        nonlocal width, height, handler, timescale, duration
        for kind, body, box_end in _boxes(data, s, e):
            if kind == b"tkhd":
                width = _fixed_16_16(struct.unpack(">I", data[box_end - 8 : box_end - 4])[0])
                height = _fixed_16_16(struct.unpack(">I", data[box_end - 4 : box_end])[0])
            elif kind == b"mdhd":
                if data[body] == 1:
                    timescale, duration = struct.unpack(">IQ", data[body + 20 : body + 32])
                else:
                    timescale, duration = struct.unpack(">II", data[body + 12 : body + 20])
            elif kind == b"hdlr" and handler is None:  # QuickTime has a second (data) hdlr in minf
                handler = data[body + 8 : body + 12]
            elif kind == b"stts":
                count = struct.unpack(">I", data[body + 4 : body + 8])[0]
                for i in range(count):
                    entry = body + 8 + 8 * i
                    samples, delta = struct.unpack(">II", data[entry : entry + 8])
                    deltas[delta] = deltas.get(delta, 0) + samples
            elif kind in _CONTAINER_BOXES:
                walk(body, box_end)

    walk(start, end)
    if handler == b"vide" and info.width is None:
        info.width, info.height = width, height
        # The nominal frame rate: the most common frame duration (the track duration may include
        # an edit-list delay, so samples / duration would be slightly off).
        delta = max(deltas, key=lambda d: deltas[d], default=0)
        if timescale and delta:
            info.fps = round(timescale / delta, 3)
    if handler in (b"vide", b"soun") and info.duration_seconds is None and timescale:
        info.duration_seconds = duration / timescale


# --- Matroska / WebM -------------------------------------------------------------------------------

_SEGMENT, _INFO, _TRACKS, _CLUSTER = 0x18538067, 0x1549A966, 0x1654AE6B, 0x1F43B675
_TIMECODE_SCALE, _DURATION = 0x2AD7B1, 0x4489
_TRACK_ENTRY, _TRACK_TYPE, _DEFAULT_DURATION, _VIDEO = 0xAE, 0x83, 0x23E383, 0xE0
_PIXEL_WIDTH, _PIXEL_HEIGHT = 0xB0, 0xBA


def _vint(data: bytes, pos: int, keep_marker: bool) -> tuple[int, int]:
    if pos >= len(data):
        raise ContainerError("truncated WebM element")
    first = data[pos]
    length = 1
    mask = 0x80
    while length <= 8 and not first & mask:
        mask >>= 1
        length += 1
    if length > 8:
        raise ContainerError("corrupt WebM variable-length integer")
    value = first if keep_marker else first & (mask - 1)
    for byte in data[pos + 1 : pos + length]:
        value = (value << 8) | byte
    if pos + length > len(data):
        raise ContainerError("truncated WebM element")
    return value, pos + length


def _elements(data: bytes, start: int, end: int) -> Generator[tuple[int, int, int], None, None]:
    pos = start
    while pos < end:
        element_id, pos = _vint(data, pos, keep_marker=True)
        size, pos = _vint(data, pos, keep_marker=False)
        element_end = min(pos + size, end) if size != (1 << (7 * 8)) - 1 else end
        yield element_id, pos, element_end
        if element_id in (_SEGMENT,):
            return
        pos = element_end


def _uint(data: bytes, start: int, end: int) -> int:
    return int.from_bytes(data[start:end], "big")


def read_webm(size: int | None, head: bytes) -> Reader:
    """Read ``Info`` (duration) and ``Tracks`` (frame size, frame rate), stopping at the first Cluster."""
    info = MediaInfo("webm")
    data = head
    want = len(head)
    cap = size if size is not None else 1 << 22
    while True:
        try:
            _parse_webm(data, info)
            return info
        except ContainerError:
            if len(data) >= cap or want >= 1 << 22:
                raise
            want = min(want * 4, cap)
            data = yield (0, want)


def _parse_webm(data: bytes, info: MediaInfo) -> None:
    timecode_scale = 1_000_000
    duration = None
    segment = None
    for element_id, body, _end in _elements(data, 0, len(data)):
        if element_id == _SEGMENT:
            segment = body
    if segment is None:
        raise ContainerError("no WebM Segment in the data read")
    found_tracks = False
    for element_id, body, end in _elements(data, segment, len(data)):
        if end > len(data):
            raise ContainerError("truncated WebM")
        if element_id == _INFO:
            for child, cbody, cend in _elements(data, body, end):
                if child == _TIMECODE_SCALE:
                    timecode_scale = _uint(data, cbody, cend)
                elif child == _DURATION:
                    duration = struct.unpack(">f" if cend - cbody == 4 else ">d", data[cbody:cend])[0]
        elif element_id == _TRACKS:
            found_tracks = True
            for entry, ebody, eend in _elements(data, body, end):
                if entry != _TRACK_ENTRY:
                    continue
                track_type = default_duration = None
                width = height = None
                for child, cbody, cend in _elements(data, ebody, eend):
                    if child == _TRACK_TYPE:
                        track_type = _uint(data, cbody, cend)
                    elif child == _DEFAULT_DURATION:
                        default_duration = _uint(data, cbody, cend)
                    elif child == _VIDEO:
                        for v, vbody, vend in _elements(data, cbody, cend):
                            if v == _PIXEL_WIDTH:
                                width = _uint(data, vbody, vend)
                            elif v == _PIXEL_HEIGHT:
                                height = _uint(data, vbody, vend)
                if track_type == 1 and info.width is None:
                    info.width, info.height = width, height
                    if default_duration:
                        info.fps = round(1e9 / default_duration, 3)
        elif element_id == _CLUSTER:
            break
    if not found_tracks:
        raise ContainerError("no WebM Tracks in the data read")
    if duration is not None:
        info.duration_seconds = duration * timecode_scale / 1e9


# --- WAV -------------------------------------------------------------------------------------------


def read_wav(size: int | None, head: bytes) -> Reader:
    data = head
    pos = 12
    byte_rate = None
    while True:
        if pos + 8 > len(data):
            if size is not None and pos + 8 > size:
                raise ContainerError("WAV without a 'data' chunk")
            data = yield (0, pos + 64)
            if pos + 8 > len(data):
                raise ContainerError("truncated WAV")
        chunk, length = struct.unpack("<4sI", data[pos : pos + 8])
        if chunk == b"fmt ":
            if pos + 20 > len(data):
                data = yield (0, pos + 64)
            byte_rate = struct.unpack("<I", data[pos + 16 : pos + 20])[0]
        elif chunk == b"data":
            if not byte_rate:
                raise ContainerError("WAV 'data' before 'fmt '")
            return MediaInfo("wav", duration_seconds=length / byte_rate)
        pos += 8 + length + (length & 1)
        if size is None and pos > 1 << 22:
            raise ContainerError("WAV header too long")
        if pos > len(data):
            data = yield (0, pos + 64)
    return MediaInfo("wav")  # pragma: no cover


# --- images: PNG, JPEG, WebP, GIF -----------------------------------------------------------------
#
# Width and height sit in a fixed place near the start of these four formats, so they are read from
# the header bytes alone, whatever metadata follows (Pillow is only the fallback for other formats):
#
# * PNG: the 8-byte signature, then the IHDR chunk, which must come first: width and height are the
#   big-endian uint32 at bytes 16 and 20 (the first 24 bytes). Ancillary chunks (text, ICC, EXIF),
#   however large, come after it and are never read.
# * GIF: "GIF87a"/"GIF89a", then the logical screen's width and height, little-endian uint16 at 6, 8.
# * WebP: "RIFF", size, "WEBP", then the first chunk: "VP8 " (lossy: 14-bit sizes at 26 and 28 after
#   the 9d 01 2a start code), "VP8L" (lossless: signature 0x2f, then 14-bit width-1 and height-1
#   packed at 21) or "VP8X" (extended: 24-bit canvas width-1 and height-1 at 24 and 27).
# * JPEG: SOI, then marker segments, each ``FF xx`` plus a 2-byte length (which counts itself),
#   walked by their lengths: only the 4-byte segment headers are read, each metadata segment (EXIF,
#   ICC, XMP, up to 64 KiB each) skipped by a ranged read past it, until a start-of-frame marker
#   (SOF0-SOF15 but DHT C4, JPG C8, DAC CC), whose payload holds precision, height, width.
#
# The widths and heights are those Pillow reports (``Image.size``, EXIF orientation not applied).

_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_JPEG_STANDALONE = {0x01, 0xD8, *range(0xD0, 0xD8)}
JPEG_CHUNK = 4096
"""Bytes asked for at a time while walking a JPEG's segments (a segment header is 4 bytes)."""
MAX_JPEG_SEGMENTS = 4096
"""Segments walked before giving up on a JPEG (each is at most 64 KiB: this stays under 256 MiB)."""


def image_format(head: bytes) -> str | None:
    """``png``, ``jpeg``, ``gif`` or ``webp`` from magic bytes; None for any other format."""
    if head[:8] == _PNG:
        return "png"
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def read_image(size: int | None, head: bytes) -> Reader:
    """Width and height of a PNG, JPEG, GIF or WebP from its header (see the notes above)."""
    kind = image_format(head)
    if kind is None:
        raise ContainerError("not a PNG, JPEG, GIF or WebP file")
    if kind == "jpeg":
        return (yield from _read_jpeg(size, head))
    data = head
    need = {"png": 24, "gif": 10, "webp": 30}[kind]
    if len(data) < need:
        if size is not None and size < need:
            raise ContainerError(f"truncated {kind.upper()} header")
        data = yield (0, need)
        if len(data) < need:
            raise ContainerError(f"truncated {kind.upper()} header")
    if kind == "png":
        if data[12:16] != b"IHDR":
            raise ContainerError("PNG whose first chunk is not IHDR")
        width, height = struct.unpack(">II", data[16:24])
    elif kind == "gif":
        width, height = struct.unpack("<HH", data[6:10])
    else:
        width, height = _webp_size(data)
    if not width or not height:
        raise ContainerError(f"{kind.upper()} header with a zero width or height")
    return MediaInfo(kind, width=width, height=height)


def _webp_size(data: bytes) -> tuple[int, int]:
    chunk = data[12:16]
    if chunk == b"VP8 ":
        if data[23:26] != b"\x9d\x01\x2a":
            raise ContainerError("WebP VP8 frame without its start code")
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":
        if data[20] != 0x2F:
            raise ContainerError("WebP VP8L chunk without its signature")
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    raise ContainerError(f"WebP with an unknown first chunk {chunk!r}")


def _read_jpeg(size: int | None, head: bytes) -> Reader:
    data, start = head, 0  # data holds bytes [start, start + len(data)) of the file
    pos = 2  # after SOI
    for _segment in range(MAX_JPEG_SEGMENTS):
        # a marker: fill bytes (FF) may precede it; then, for most markers, a 2-byte length
        while True:
            if pos + 4 > start + len(data) or pos < start:
                if size is not None and pos + 4 > size:
                    raise ContainerError("JPEG without a frame header (SOF) before its end")
                want = JPEG_CHUNK if size is None else min(JPEG_CHUNK, size - pos)
                data, start = (yield (pos, max(want, 4))), pos
                if len(data) < 4:
                    raise ContainerError("truncated JPEG: no frame header (SOF)")
            rel = pos - start
            if data[rel] != 0xFF:
                raise ContainerError(f"corrupt JPEG: no marker at offset {pos}")
            if data[rel + 1] == 0xFF:
                pos += 1  # fill byte
                continue
            break
        marker = data[rel + 1]
        if marker in _JPEG_STANDALONE:
            pos += 2
            continue
        if marker in (0xD9, 0xDA):
            raise ContainerError("JPEG without a frame header (SOF) before its image data")
        length = struct.unpack(">H", data[rel + 2 : rel + 4])[0]
        if length < 2:
            raise ContainerError(f"corrupt JPEG segment length at offset {pos}")
        if marker in _JPEG_SOF:
            if rel + 9 > len(data):
                data, start = (yield (pos, 9)), pos
                rel = 0
                if len(data) < 9:
                    raise ContainerError("truncated JPEG frame header")
            height, width = struct.unpack(">HH", data[rel + 5 : rel + 9])
            if not width or not height:
                raise ContainerError("JPEG frame header with a zero width or height")
            return MediaInfo("jpeg", width=width, height=height)
        pos += 2 + length
    raise ContainerError(f"JPEG with more than {MAX_JPEG_SEGMENTS} segments before its frame header")
