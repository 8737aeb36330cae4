"""Hostile servers on 127.0.0.1: every case ends, in bounded time and memory, as an error of the hierarchy.

Upper bounds on time here are generous (they catch "hangs", not slowness); speed lives in benchmarks/.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import runcomfy_models
from runcomfy_models import (
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    Client,
    MediaProbeError,
    RunComfyError,
    SubmitUncertainError,
    check_media,
)
from runcomfy_models._media import MAX_PROBE_BYTES, MediaProber
from tests.conftest import SEED_ID
from tests.hostile_server import (
    HostileServer,
    endless_206,
    endless_chunked,
    gzip_bomb_reply,
    hang,
    huge_body,
    json_reply,
    png_header,
    redirect_loop,
    static,
    trickle,
)

SUBMIT = "/v1/models/" + SEED_ID
RID = "req-1"
STATUS = f"/v1/requests/{RID}/status"
RESULT = f"/v1/requests/{RID}/result"
JOB = {"request_id": RID, "status_url": "x", "result_url": "y", "cancel_url": "z"}
HANG_BOUND = 15.0  # a "no hang" bound: the deadlines under test are 1-5 s


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with HostileServer() as hostile:
        hostile.routes[SUBMIT] = json_reply(200, JOB)
        yield hostile


def seed(url: str = "https://example.com/cat.png") -> Any:
    return runcomfy_models.get(SEED_ID).Input(prompt="p", first_frame_image_url=url)


def client(server: HostileServer, **kwargs: Any) -> Client:
    return Client(token="tok", base_url=server.url, **kwargs)


def timed(function: Any, *args: Any, **kwargs: Any) -> tuple[BaseException, float]:
    start = time.monotonic()
    with pytest.raises(RunComfyError) as info:
        function(*args, **kwargs)
    return info.value, time.monotonic() - start


# --- the client: one deadline for the whole call --------------------------------------------------


@pytest.mark.parametrize(
    "behaviour", [hang, endless_chunked, trickle], ids=["hang", "endless-chunked", "trickle"]
)
def test_a_status_that_never_ends_stops_at_the_run_deadline(server: HostileServer, behaviour: Any) -> None:
    server.routes[STATUS] = behaviour
    with client(server) as c:
        error, elapsed = timed(c.run, seed(), timeout=2, check_media=False, poll_interval=0.05)
    assert isinstance(error, APITimeoutError), error
    assert "client.wait('req-1'" in str(error)  # resumable
    assert elapsed < 2 + HANG_BOUND


def test_three_429s_with_retry_after_20_end_by_the_deadline(server: HostileServer) -> None:
    server.routes[STATUS] = json_reply(429, {"message": "slow down"}, {"Retry-After": "20"})
    with client(server) as c:
        error, elapsed = timed(c.wait, RID, timeout=5, poll_interval=0.05)
    assert isinstance(error, APITimeoutError)
    assert elapsed < 5 + 1
    assert len(server.requests) == 1  # the 20 s wait would pass the deadline: not attempted


def test_async_wait_hang_stops_at_the_deadline(server: HostileServer) -> None:
    server.routes[STATUS] = hang

    async def main() -> None:
        async with runcomfy_models.AsyncClient(token="tok", base_url=server.url) as c:
            await c.wait(RID, timeout=1.5)

    start = time.monotonic()
    with pytest.raises(APITimeoutError):
        asyncio.run(main())
    assert time.monotonic() - start < 1.5 + HANG_BOUND


@pytest.mark.parametrize("path", [STATUS, RESULT])
@pytest.mark.parametrize("behaviour", ["huge", "gzip-bomb"])
def test_huge_and_bomb_replies_are_capped(server: HostileServer, path: str, behaviour: str) -> None:
    server.routes[STATUS] = json_reply(200, {"request_id": RID, "status": "completed"})
    server.routes[path] = huge_body if behaviour == "huge" else gzip_bomb_reply(200)
    with client(server, max_retries=0) as c:
        error, elapsed = timed(c.wait, RID, timeout=60, poll_interval=0.05)
    assert isinstance(error, APIResponseValidationError), error
    assert "cap" in str(error)
    assert elapsed < HANG_BOUND


# --- the client: malformed replies map to the hierarchy ---------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        json_reply(200, {"status": "in_queue"}),
        json_reply(200, {"request_id": ""}),
        json_reply(200, {"request_id": "a b\n"}),
        json_reply(200, {"request_id": 5}),
        json_reply(302, {"request_id": RID}, {"Location": "/elsewhere"}),
        static(200, b"[1, 2"),
    ],
    ids=["no-request-id", "empty-id", "bad-chars", "int-id", "302", "not-json"],
)
def test_a_submit_reply_without_a_usable_request_id_is_uncertain(server: HostileServer, reply: Any) -> None:
    server.routes[SUBMIT] = reply
    with client(server) as c:
        error, _ = timed(c.submit, seed(), check_media=False)
    assert isinstance(error, SubmitUncertainError), error
    assert "may exist" in str(error)


@pytest.mark.parametrize(
    ("route", "reply", "expected"),
    [
        (STATUS, json_reply(200, {"request_id": RID}), APIResponseValidationError),
        (STATUS, json_reply(200, {"request_id": RID, "status": 7}), APIResponseValidationError),
        (STATUS, json_reply(200, [1]), APIResponseValidationError),
        (
            STATUS,
            json_reply(302, {"request_id": RID, "status": "completed"}, {"Location": "/x"}),
            APIStatusError,
        ),
        (
            RESULT,
            json_reply(200, {"request_id": RID, "status": "completed", "output": [1]}),
            APIResponseValidationError,
        ),
        (
            RESULT,
            json_reply(200, {"request_id": RID, "status": "completed", "output": {"video": 5}}),
            APIResponseValidationError,
        ),
    ],
    ids=["status-missing", "status-type", "status-array", "status-302", "output-array", "output-field"],
)
def test_malformed_status_result_and_output(
    server: HostileServer, route: str, reply: Any, expected: type
) -> None:
    server.routes[STATUS] = json_reply(200, {"request_id": RID, "status": "completed"})
    server.routes[RESULT] = json_reply(200, {"request_id": RID, "status": "completed", "output": {}})
    server.routes[route] = reply
    with client(server, max_retries=0) as c:
        error, _ = timed(c.wait, RID, model_id=SEED_ID, timeout=10, poll_interval=0.05)
    assert type(error) is expected, error
    assert "pydantic" not in str(error)


# --- secrets ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["tok-123\n", " tok", "tok 123", "tok\x00", "tök"])
def test_a_token_with_whitespace_or_control_characters_is_refused_unshown(
    server: HostileServer, token: str
) -> None:
    with pytest.raises(RunComfyError, match="API token") as info:
        Client(token=token, base_url=server.url)
    assert "tok" not in str(info.value).replace("token", "")
    assert server.requests == []


def test_url_credentials_and_queries_are_redacted_in_errors_and_logs(
    server: HostileServer, caplog: pytest.LogCaptureFixture
) -> None:
    host = server.url.split("//")[1]
    url = f"http://user:s3cret@{host}/missing.png?token=abc123&sig=zz#frag"
    with caplog.at_level(logging.DEBUG), pytest.raises(MediaProbeError) as info:
        check_media(seed(url))
    text = str(info.value) + repr(info.value) + caplog.text
    assert "s3cret" not in text and "abc123" not in text and "zz" not in text
    assert f"http://***@{host}/missing.png?***" in str(info.value)
    assert any("HTTP Request" in r.getMessage() for r in caplog.records)


# --- media probes: bounded whatever the server does ---------------------------------------------


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        (gzip_bomb_reply(200), "cap|not an image"),
        (gzip_bomb_reply(206), "cap"),
        (endless_206, "cap"),
        (lambda conn: huge_body(conn, 206), "cap"),
        (redirect_loop, "TooManyRedirects"),
    ],
    ids=["gzip-bomb-200", "gzip-bomb-206", "endless-206", "huge-206", "redirect-loop"],
)
def test_probe_reads_are_capped(server: HostileServer, behaviour: Any, reason: str) -> None:
    server.routes["/m.png"] = behaviour
    start = time.monotonic()
    with httpx.Client() as http:
        prober = MediaProber(http)
        with pytest.raises(MediaProbeError, match=reason):
            prober.measure(server.url + "/m.png")
    assert prober.bytes_read <= MAX_PROBE_BYTES
    assert time.monotonic() - start < HANG_BOUND


@pytest.mark.parametrize("behaviour", [trickle, hang], ids=["trickle", "hang"])
def test_a_probe_has_one_overall_deadline(server: HostileServer, behaviour: Any) -> None:
    server.routes["/m.png"] = behaviour
    start = time.monotonic()
    with httpx.Client() as http, pytest.raises(MediaProbeError, match=r"deadline|Timeout"):
        MediaProber(http, deadline=1.0).measure(server.url + "/m.png")
    assert time.monotonic() - start < 1.0 + HANG_BOUND


def test_async_probe_deadline(server: HostileServer) -> None:
    from runcomfy_models._media import AsyncMediaProber

    server.routes["/m.png"] = trickle

    async def main() -> None:
        async with httpx.AsyncClient() as http:
            await AsyncMediaProber(http, deadline=1.0).measure(server.url + "/m.png")

    start = time.monotonic()
    with pytest.raises(MediaProbeError, match="deadline"):
        asyncio.run(main())
    assert time.monotonic() - start < 1.0 + HANG_BOUND


def test_an_image_header_claiming_100000_pixels_is_a_width_violation(server: HostileServer) -> None:
    server.routes["/bomb.png"] = static(200, png_header(100_000, 100_000), {"Content-Type": "image/png"})
    rules = sorted(v.rule for v in check_media(seed(server.url + "/bomb.png")))
    assert rules == ["height_pixels<", "width_pixels<"]


def test_the_mock_reports_the_bomb_header_as_a_violation(server: HostileServer) -> None:
    from runcomfy_codegen.mock import MockServer
    from runcomfy_models import JobFailedError

    server.routes["/bomb.png"] = static(200, png_header(100_000, 100_000), {"Content-Type": "image/png"})
    with (
        MockServer(queue_seconds=0, run_seconds=0) as mock,
        Client(token="mock-token", base_url=mock.base_url) as c,
        pytest.raises(JobFailedError, match="6000"),
    ):
        c.run(seed(server.url + "/bomb.png"), check_media=False, poll_interval=0.02, timeout=20)


@pytest.mark.parametrize(
    "value",
    ["/etc/shadow", "file:///etc/passwd", "ftp://example.com/a.png", "relative.png", "javascript:alert(1)"],
)
def test_only_http_urls_and_data_uris_are_measured(value: str) -> None:
    with pytest.raises(MediaProbeError, match=r"is not an http\(s\) URL or a data: URI"):
        check_media(seed(value))


def test_a_fifo_path_is_never_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    start = time.monotonic()
    with pytest.raises(MediaProbeError, match="not an http"):
        check_media(seed(str(fifo)))
    assert time.monotonic() - start < HANG_BOUND


def test_a_data_uri_over_the_cap_is_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    import runcomfy_models._media as media

    monkeypatch.setattr(media, "MAX_DATA_URI_CHARS", 1000)
    value = "data:image/png;base64," + base64.b64encode(png_header(400, 400) + b"\0" * 2000).decode()
    with pytest.raises(MediaProbeError, match="longer than the cap"):
        check_media(seed(value))


# --- the mock: oversized and malformed requests --------------------------------------------------


def _raw(url: str, data: bytes) -> bytes:
    import socket

    host, port = url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_the_mock_refuses_an_oversized_body_before_reading_it() -> None:
    from runcomfy_codegen.mock import MockServer

    with MockServer() as mock:
        start = time.monotonic()
        reply = _raw(
            mock.base_url,
            f"POST {SUBMIT} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer mock-token\r\nContent-Length: 536870912\r\n\r\n".encode()
            + b"{" * 1000,
        )
        assert reply.startswith(b"HTTP/1.1 413"), reply[:100]
        assert time.monotonic() - start < HANG_BOUND


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /v1/models/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer mock-token\r\nContent-Length: abc\r\n\r\n",
        b"POST /v1/models/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer mock-token\r\nContent-Length: -5\r\n\r\n",
        b"GET /v1/requests/%ZZ/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer mock-token\r\n\r\n",
        b"POST /v1/models/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer mock-token\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        f"POST {SUBMIT} HTTP/1.1\r\nAuthorization: Bearer mock-token\r\nContent-Length: 20000\r\n\r\n".encode()
        + b"[" * 20000,
        f"POST {SUBMIT} HTTP/1.1\r\nAuthorization: Bearer mock-token\r\nContent-Length: 2\r\n\r\n".encode()
        + b"\xff\xfe",
        b"GET /v1/requests/x/status HTTP/1.1\r\nX-Mock-Fault: nonsense\r\nAuthorization: Bearer mock-token\r\n\r\n",
    ],
    ids=[
        "length-not-a-number",
        "negative-length",
        "bad-escape",
        "two-lengths",
        "deep-json",
        "not-utf8",
        "bad-fault",
    ],
)
def test_the_mock_answers_malformed_requests_with_400(request_bytes: bytes) -> None:
    from runcomfy_codegen.mock import MockServer

    with MockServer() as mock:
        reply = _raw(mock.base_url, request_bytes)
    assert reply.startswith((b"HTTP/1.1 400", b"HTTP/1.1 404")), reply[:100]


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://cdn.example/a.mp4", True),
        ("HTTP://cdn.example/a.mp4", True),
        ("javascript:alert(1)", False),
        ("file:///etc/passwd", False),
        ("ftp://cdn.example/a.mp4", False),
        ("data:video/mp4;base64,AAAA", False),
        ("https:///nohost", False),
    ],
)
def test_only_http_output_urls_are_downloadable(url: str, ok: bool) -> None:
    from runcomfy_models._urls import download_url

    if ok:
        assert download_url(url) == url
    else:
        with pytest.raises(APIResponseValidationError, match="not an http"):
            download_url(url)


def test_the_mock_never_reads_file_media(tmp_path: Path) -> None:
    from runcomfy_codegen.mock import MockServer
    from runcomfy_models import JobFailedError

    secret = tmp_path / "secret.png"
    secret.write_bytes(png_header(100, 100))
    value = f"file://127.0.0.1{secret}"
    with (
        MockServer(queue_seconds=0, run_seconds=0) as mock,
        Client(token="mock-token", base_url=mock.base_url) as c,
        pytest.raises(JobFailedError, match=r"not an http\(s\) URL") as info,
    ):
        c.run(seed(value), check_media=False, poll_interval=0.02, timeout=20)
    assert "100" not in str(info.value)


def test_the_run_deadline_also_bounds_the_media_check(server: HostileServer) -> None:
    server.routes["/m.png"] = trickle
    with client(server) as c:
        error, elapsed = timed(c.run, seed(server.url + "/m.png"), timeout=1.5)
    assert isinstance(error, APITimeoutError), error
    assert "nothing was submitted" in str(error)
    assert ("POST", SUBMIT) not in server.requests
    assert elapsed < 1.5 + HANG_BOUND


def test_a_submit_that_cannot_connect_ends_by_the_deadline_and_says_nothing_was_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    import runcomfy_models._base_client as base

    monkeypatch.setattr(base, "RETRY_BASE_DELAY", 5.0)  # the next backoff would pass the deadline
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with Client(token="tok", base_url=f"http://127.0.0.1:{port}", max_retries=10) as c:
        error, elapsed = timed(c.run, seed(), timeout=1.0, check_media=False)
    assert isinstance(error, APITimeoutError) and not isinstance(error, SubmitUncertainError), error
    assert "nothing was submitted" in str(error)
    assert elapsed < 1.0 + HANG_BOUND


def test_a_redirect_is_an_error_even_when_the_http_client_follows_redirects(server: HostileServer) -> None:
    server.routes[STATUS] = json_reply(302, {"request_id": RID, "status": "completed"}, {"Location": "/ok"})
    server.routes["/ok"] = json_reply(200, {"request_id": RID, "status": "completed"})
    with (
        httpx.Client(follow_redirects=True) as http,
        Client(token="tok", base_url=server.url, http_client=http) as c,
        pytest.raises(APIStatusError, match="302"),
    ):
        c.status(RID)
    assert ("GET", "/ok") not in server.requests


def test_credentials_in_the_base_url_stay_out_of_the_repr() -> None:
    with Client(token="tok", base_url="https://user:s3cret@api.example/?key=k") as c:
        assert "s3cret" not in repr(c) and "key=k" not in repr(c)


def test_the_mock_answers_401_before_reading_an_unauthorised_body() -> None:
    from runcomfy_codegen.mock import MockServer

    with MockServer() as mock:
        start = time.monotonic()
        reply = _raw(
            mock.base_url,
            f"POST {SUBMIT} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n".encode() + b"{" * 1000,
        )
    assert reply.startswith(b"HTTP/1.1 401"), reply[:100]
    assert time.monotonic() - start < HANG_BOUND
