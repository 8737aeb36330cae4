"""Custom validation rules on media: real files (Pillow, PyAV) served by a real local HTTP server."""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import runcomfy_models
from runcomfy_codegen.mock import MockServer
from runcomfy_codegen.mock.media import make_video
from runcomfy_models import Client, MediaProbeError, MediaRule, MediaValidationError, check_media
from runcomfy_models._media import HEAD_BYTES, MediaProber
from tests.conftest import SEED_ID
from tests.media_server import MediaServer


def png(width: int, height: int, mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg(width: int, height: int, **options: Any) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 10, 10)).save(buffer, format="JPEG", **options)
    return buffer.getvalue()


@pytest.fixture
def media() -> Iterator[MediaServer]:
    with MediaServer() as server:
        yield server


def seed_with(url: str) -> Any:
    return runcomfy_models.get(SEED_ID).Input(prompt="p", first_frame_image_url=url)


def rules_broken(url: str, **kwargs: Any) -> list[str]:
    return sorted(v.rule for v in check_media(seed_with(url), **kwargs))


@pytest.mark.parametrize(
    ("size", "broken"),
    [
        ((299, 400), ["width_pixels>"]),
        ((300, 400), ["width_pixels>"]),  # `>` is strict: exactly 300 fails
        ((301, 400), []),
        ((400, 300), ["height_pixels>"]),
        ((400, 301), []),
        ((5999, 4000), []),
        ((6000, 4000), ["width_pixels<"]),  # `<` is strict: exactly 6000 fails
        ((400, 1000), ["width/height>"]),  # aspect exactly 0.4 fails
        ((401, 1000), []),
        ((1000, 400), ["width/height<"]),  # aspect exactly 2.5 fails
        ((999, 400), []),
        ((200, 100), ["height_pixels>", "width_pixels>"]),  # every violation, not just the first
    ],
)
def test_seed_rules_at_their_boundaries(media: MediaServer, size: tuple[int, int], broken: list[str]) -> None:
    url = media.add(f"/img-{size[0]}x{size[1]}.png", png(*size))
    assert rules_broken(url) == broken


@pytest.mark.parametrize(
    ("size", "broken"), [(29_999_999, []), (30_000_000, ["file_size_mb<"]), (30_000_001, ["file_size_mb<"])]
)
def test_file_size_in_megabytes_of_a_million_bytes(media: MediaServer, size: int, broken: list[str]) -> None:
    url = media.add("/big.png", png(640, 480), size=size)
    assert rules_broken(url) == broken


def test_a_30_mb_png_costs_one_round_trip_and_at_most_64_kib(media: MediaServer) -> None:
    url = media.add("/big.png", png(640, 480), size=30_000_000)
    with Client(token="t") as client:
        prober = MediaProber(client._http)
        info = prober.measure(url)
    assert (info.width, info.height, info.size_bytes) == (640, 480, 30_000_000)
    assert prober.round_trips == 1
    assert prober.bytes_read <= HEAD_BYTES
    assert media.bytes_sent <= HEAD_BYTES
    assert media.requests[0][2] == "bytes=0-65535"


@pytest.mark.parametrize("send_length", [True, False])
def test_a_server_that_ignores_range_is_read_as_a_stream_that_stops(send_length: bool) -> None:
    with MediaServer(ranges=False, send_length=send_length) as media:
        url = media.add("/big.png", png(640, 480), size=30_000_000)
        if send_length:
            assert rules_broken(url) == ["file_size_mb<"]
        else:  # no size anywhere: size rule cannot be judged, and it says so
            with pytest.raises(MediaProbeError, match="file_size_mb"):
                check_media(seed_with(url))
        assert media.bytes_sent < 4 * 1024 * 1024  # far from 30 MB: the stream stopped


def test_jpeg_with_a_large_exif_block_and_comment(media: MediaServer) -> None:
    exif = Image.Exif()
    exif[0x010E] = "x" * 60 * 1024  # ImageDescription: 60 KiB of EXIF before the frame header
    data = jpeg(800, 600, exif=exif.tobytes(), comment=b"c" * 40 * 1024)
    assert data.find(b"\xff\xc0") > HEAD_BYTES  # the SOF0 marker sits past the first read
    url = media.add("/exif.jpg", data)
    with Client(token="t") as client:
        prober = MediaProber(client._http)
        info = prober.measure(url)
    assert (info.width, info.height) == (800, 600)
    assert prober.round_trips == 2
    assert prober.bytes_read < 512 * 1024


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("progressive.jpg", jpeg(640, 480, progressive=True), (640, 480)),
        ("deep.png", png(500, 400, mode="I;16"), (500, 400)),
        ("lies.jpg", png(700, 500), (700, 500)),  # a PNG whose extension says JPEG
        ("image.gif", None, (320, 330)),
        ("animated.webp", None, (350, 360)),
    ],
)
def test_image_formats(media: MediaServer, name: str, data: bytes | None, expected: tuple[int, int]) -> None:
    if data is None:
        buffer = io.BytesIO()
        frames = [Image.new("RGB", expected, (i * 40, 0, 0)) for i in range(3)]
        fmt = "GIF" if name.endswith("gif") else "WEBP"
        frames[0].save(buffer, format=fmt, save_all=True, append_images=frames[1:], duration=100)
        data = buffer.getvalue()
    url = media.add(f"/{name}", data)
    info = MediaProber(__import__("httpx").Client()).measure(url)
    assert (info.width, info.height) == expected


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda m: m.add("/truncated.png", png(640, 480)[:20]), "truncated PNG header"),
        (lambda m: m.add("/notes.txt", b"hello, not an image at all"), "not an image"),
        (lambda m: m.base_url + "/missing.png", "HTTP 404"),
    ],
)
def test_unmeasurable_media_is_a_probe_error_not_a_violation(
    media: MediaServer, setup: Any, message: str
) -> None:
    url = setup(media)
    with pytest.raises(MediaProbeError, match=message) as info:
        check_media(seed_with(url))
    assert "check_media=False" in str(info.value)
    assert not isinstance(info.value, MediaValidationError)


def test_a_redirect_is_followed(media: MediaServer) -> None:
    target = media.add("/real.png", png(640, 480))
    media.redirects["/short"] = target
    assert rules_broken(media.base_url + "/short") == []


def test_a_hanging_server_times_out_as_a_probe_error(media: MediaServer) -> None:
    url = media.add("/slow.png", png(640, 480))
    media.hang["/slow.png"] = 2.0
    with pytest.raises(MediaProbeError, match="Timeout"):
        check_media(seed_with(url), timeout=0.3)


def test_data_uris_are_measured_and_local_paths_are_never_opened(tmp_path: Path) -> None:
    path = tmp_path / "small image.png"
    path.write_bytes(png(200, 500))
    data_uri = "data:image/png;base64," + base64.b64encode(png(640, 480)).decode()
    assert rules_broken(data_uri) == []
    small = "data:image/png;base64," + base64.b64encode(png(200, 500)).decode()
    assert rules_broken(small) == ["width/height>", "width_pixels>"]
    for value in (str(path), path.as_uri(), str(tmp_path / "missing.png")):
        with pytest.raises(MediaProbeError, match="is not an http\\(s\\) URL or a data: URI") as info:
            check_media(seed_with(value))
        assert "width" not in str(info.value) and "exist" not in str(info.value)


VIDEO_SCHEMA = {
    "type": "object",
    "required": ["video_url"],
    "properties": {
        "video_url": {
            "type": "string",
            "validations": [
                {
                    "validation_rule": "duration_seconds<=",
                    "validation_value": 5,
                    "validation_error": "max 5 s",
                },
                {"validation_rule": "fps>=", "validation_value": 24, "validation_error": "at least 24 fps"},
                {
                    "validation_rule": "width_pixels>=",
                    "validation_value": 320,
                    "validation_error": "width >= 320",
                },
            ],
        },
        "reference_urls": {
            "type": "array",
            "items": {"type": "string"},
            "validations": [
                {"validation_rule": "height_pixels<=", "validation_value": 300, "validation_error": "h<=300"}
            ],
        },
    },
}


@pytest.mark.parametrize(
    ("container", "faststart"), [("mp4", False), ("mp4", True), ("mov", False), ("webm", False)]
)
def test_video_metrics(media: MediaServer, compile_schema: Any, container: str, faststart: bool) -> None:
    module = compile_schema(VIDEO_SCHEMA)
    good = media.add(
        f"/ok.{container}", make_video(320, 240, fps=24, frames=48, container=container, faststart=faststart)
    )
    slow = media.add(f"/slow.{container}", make_video(160, 120, fps=10, frames=70, container=container))
    assert check_media(module.Input(video_url=good)) == []
    violations = check_media(module.Input(video_url=slow))
    assert sorted(v.rule for v in violations) == ["duration_seconds<=", "fps>=", "width_pixels>="]
    by_rule = {v.rule: v for v in violations}
    assert by_rule["duration_seconds<="].measured == pytest.approx(7.0, abs=0.15)
    assert by_rule["fps>="].measured == pytest.approx(10.0, abs=0.01)
    assert by_rule["fps>="].message == "at least 24 fps"


def test_an_mp4_with_moov_at_the_end_is_read_by_its_header_and_tail(
    media: MediaServer, compile_schema: Any
) -> None:
    data = make_video(320, 240, fps=24, frames=48, container="mp4")
    assert data.find(b"moov") > data.find(b"mdat")  # moov after the media data
    padded = data[: data.find(b"mdat") - 4]  # rebuild it with an 8 MB mdat in the middle
    mdat_start = data.find(b"mdat") - 4
    mdat_size = int.from_bytes(data[mdat_start : mdat_start + 4], "big")
    moov = data[mdat_start + mdat_size :]
    filler = 8_000_000
    big_mdat = (
        (mdat_size + filler).to_bytes(4, "big")
        + data[mdat_start + 4 : mdat_start + mdat_size]
        + b"\0" * filler
    )
    url = media.add("/late-moov.mp4", padded + big_mdat + moov)
    with Client(token="t") as client:
        prober = MediaProber(client._http)
        info = prober.measure(url)
    assert (info.width, info.height, info.fps) == (320, 240, 24.0)
    assert prober.round_trips == 2
    assert prober.bytes_read < 2 * HEAD_BYTES + len(moov)


def test_array_items_are_each_checked_with_their_index(media: MediaServer, compile_schema: Any) -> None:
    module = compile_schema(VIDEO_SCHEMA)
    video = media.add("/ok.mp4", make_video(320, 240, fps=24, frames=24))
    refs = [
        media.add("/a.png", png(400, 200)),
        media.add("/b.png", png(400, 400)),
        media.add("/c.png", png(400, 500)),
    ]
    violations = check_media(module.Input(video_url=video, reference_urls=refs))
    assert [(v.field, v.index) for v in violations] == [("reference_urls", 1), ("reference_urls", 2)]
    assert "reference_urls[1]: height_pixels is 400, rule height_pixels<= 300: h<=300" in str(violations[0])


def test_async_checks_array_items_concurrently(media: MediaServer, compile_schema: Any) -> None:
    module = compile_schema(VIDEO_SCHEMA)
    video = media.add("/ok.mp4", make_video(320, 240, fps=24, frames=24))
    refs = [media.add(f"/r{i}.png", png(300, 300 + i)) for i in range(20)]
    violations = asyncio.run(runcomfy_models.acheck_media(module.Input(video_url=video, reference_urls=refs)))
    assert [v.index for v in violations] == list(range(1, 20))


def test_submit_checks_media_first_and_sends_nothing_on_a_violation(media: MediaServer) -> None:
    tiny = media.add("/tiny.png", png(100, 100))
    with MockServer() as server, Client(base_url=server.base_url, token=server.token) as client:
        with pytest.raises(MediaValidationError) as info:
            client.submit(seed_with(tiny))
        assert [v.rule for v in info.value.violations] == ["width_pixels>", "height_pixels>"]
        assert "La largeur et la hauteur de l'image ne doivent pas être inférieures à 300 pixels." in str(
            info.value
        )
        assert server.count("POST", "/v1/models/") == 0
        job = client.submit(seed_with(tiny), check_media=False)  # skipped on request: the service judges
        assert job.request_id


def test_probes_are_cached_per_url_per_client(media: MediaServer) -> None:
    url = media.add("/once.png", png(640, 480))
    with Client(token="t") as client:
        client.check_media(seed_with(url))
        client.check_media(seed_with(url))
    assert len(media.requests) == 1


def test_the_mock_server_enforces_the_rules_after_submit(media: MediaServer) -> None:
    with MockServer(queue_seconds=0.05, run_seconds=0.05) as server:
        tiny = f"{server.base_url}/media/tiny.png"  # the mock's own PNG is 640x360: fine
        with Client(base_url=server.base_url, token=server.token) as client:
            assert client.run(seed_with(tiny), poll_interval=0.02, timeout=10)
            narrow = media.add("/narrow.png", png(310, 1000))
            narrow_local = narrow.replace("127.0.0.1", "localhost")
            with pytest.raises(runcomfy_models.JobFailedError, match="rapport d'aspect"):
                client.run(seed_with(narrow_local), poll_interval=0.02, timeout=10, check_media=False)


@pytest.mark.parametrize(
    ("operator", "results"),
    [("<", [True, False, False]), ("<=", [True, True, False]), (">", [False, False, True]),
     (">=", [False, True, True]), ("=", [False, True, False]), ("!=", [True, False, True])],
)  # fmt: skip
def test_operators_at_the_boundary(operator: str, results: list[bool]) -> None:
    rule = MediaRule(field="f", metric="width_pixels", operator=operator, value=300, message="m")
    assert [rule.passes(v) for v in (299, 300, 301)] == results


def test_wav_duration(media: MediaServer, compile_schema: Any) -> None:
    import wave

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(16000)
        writer.writeframes(b"\0\0" * 16000 * 3)  # 3 s
    schema = {
        "type": "object",
        "properties": {
            "audio_url": {
                "type": "string",
                "validations": [
                    {
                        "validation_rule": "duration_seconds<",
                        "validation_value": 3,
                        "validation_error": "under 3 s",
                    }
                ],
            }
        },
    }
    module = compile_schema(schema)
    url = media.add("/voice.wav", buffer.getvalue())
    violations = check_media(module.Input(audio_url=url))
    assert [(v.rule, v.measured) for v in violations] == [("duration_seconds<", 3.0)]
