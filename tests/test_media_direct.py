"""The async media probes' direct path (asyncio streams + h11) reads what the httpx path reads."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator

import httpx
import pytest
from PIL import Image

import runcomfy_models
from runcomfy_models import MediaProbeError
from runcomfy_models._media import HEAD_BYTES, MAX_PROBE_BYTES, AsyncMediaProber
from tests.media_server import MediaServer


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


def mp4() -> bytes:
    from runcomfy_codegen.mock.media import make_video

    return make_video(320, 240, 24, 24)


@pytest.fixture
def media() -> Iterator[MediaServer]:
    with MediaServer() as server:
        yield server


def probe(url: str, *, direct: bool, deadline: float = 30.0) -> tuple[object, int, int]:
    async def go() -> tuple[object, int, int]:
        async with httpx.AsyncClient() as http:
            prober = AsyncMediaProber(http, deadline=deadline, direct=direct)
            assert prober.direct is direct
            info = await prober.measure(url)
            return info, prober.bytes_read, prober.round_trips

    return asyncio.run(asyncio.wait_for(go(), 60))


@pytest.mark.parametrize("ranges", [True, False])
@pytest.mark.parametrize("send_length", [True, False])
def test_both_paths_measure_the_same(ranges: bool, send_length: bool) -> None:
    with MediaServer(ranges=ranges, send_length=send_length) as media:
        urls = [
            media.add("/big.png", png(1920, 1080), size=30_000_000),
            media.add("/small.png", png(64, 48)),
            media.add("/clip.mp4", mp4()),
        ]
        for url in urls:
            direct = probe(url, direct=True)
            pooled = probe(url, direct=False)
            assert direct == pooled, url
            assert direct[1] <= MAX_PROBE_BYTES


def test_a_ranged_png_is_one_round_trip_of_at_most_the_head(media: MediaServer) -> None:
    url = media.add("/big.png", png(1920, 1080), size=30_000_000)
    info, bytes_read, round_trips = probe(url, direct=True)
    assert (getattr(info, "width", None), getattr(info, "size_bytes", None)) == (1920, 30_000_000)
    assert bytes_read <= HEAD_BYTES and round_trips == 1
    assert media.requests == [("GET", "/big.png", f"bytes=0-{HEAD_BYTES - 1}")]


def test_redirects_are_followed_and_errors_are_probe_errors(media: MediaServer) -> None:
    target = media.add("/real.png", png(640, 480))
    media.redirects["/short"] = target
    info, _, _ = probe(media.base_url + "/short", direct=True)
    assert getattr(info, "width", None) == 640
    media.redirects["/loop"] = media.base_url + "/loop"
    with pytest.raises(MediaProbeError, match="redirects"):
        probe(media.base_url + "/loop", direct=True)
    with pytest.raises(MediaProbeError, match="HTTP 404"):
        probe(media.base_url + "/missing.png", direct=True)


def test_the_deadline_holds(media: MediaServer) -> None:
    url = media.add("/slow.png", png(64, 64))
    media.hang["/slow.png"] = 3.0
    with pytest.raises(MediaProbeError, match="deadline"):
        probe(url, direct=True, deadline=0.3)


def test_a_refused_connection_is_a_probe_error() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(MediaProbeError, match="could not measure"):
        probe(f"http://127.0.0.1:{port}/x.png", direct=True)


def test_a_proxy_in_the_environment_sends_probes_through_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    async def make() -> tuple[bool, bool]:
        async with (
            runcomfy_models.AsyncClient(token="t", base_url="http://127.0.0.1:9") as owned,
            httpx.AsyncClient() as http,
            runcomfy_models.AsyncClient(token="t", http_client=http) as borrowed,
        ):
            return owned._prober.direct, borrowed._prober.direct

    assert asyncio.run(make()) == (True, False)  # a caller's own http_client: its settings win
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    assert asyncio.run(make()) == (False, False)
