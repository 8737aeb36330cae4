"""Custom media rules: measure each media input, reading as little of it as possible.

``check_media(input)`` measures every media field that has ``validations`` rules and returns every
violation (not just the first). A rule's metric comes from :data:`METRICS`; a new metric is one
small function registered with :func:`metric`.

Reading, per value:

* ``http(s)://``: one ``GET`` with ``Range: bytes=0-65535``; the total size comes from
  ``Content-Range`` (or ``Content-Length``; a ``HEAD`` only if neither tells it). A server that
  ignores ``Range`` is read as a stream that stops once the header is parsed. More is read only when
  the format needs it (a JPEG whose frame header sits after a large EXIF block; an MP4 whose
  ``moov`` box is at the end: then a ranged read at that offset), and never more than
  :data:`MAX_PROBE_BYTES` in all.
* ``data:`` URIs (at most :data:`MAX_DATA_URI_CHARS`): the same parsers, without network.
* anything else (a bare path, ``file://``, ``ftp://`` …) is refused before any I/O: no local file
  is ever opened here.

Every HTTP body is read raw and decoded here, so :data:`MAX_PROBE_BYTES` holds for the decoded bytes
whatever the status (200 or 206) or ``Content-Encoding``; one probe (all its requests) ends within
:data:`PROBE_DEADLINE` seconds. Messages show URLs without credentials or query strings.

``file_size_mb`` counts megabytes of 1,000,000 bytes (RunComfy writes "MB"/"Mo", the SI unit).

A value that cannot be measured (unreachable, 404, unknown format, truncated) raises
:class:`MediaProbeError`, which is never reported as a rule violation; pass ``check_media=False``
to ``submit``/``run`` to skip the check.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import re
import struct
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import h11
import httpx

from ._base import RunComfyInput
from ._base_client import BodyLimitError, BoundedBody, bounded_timeout, scrub
from ._containers import (
    ContainerError,
    MediaInfo,
    Reader,
    image_format,
    read_image,
    read_mp4,
    read_wav,
    read_webm,
    sniff,
)
from ._exceptions import Hint, MediaProbeError, MediaValidationError
from ._rules import MediaRule
from ._urls import redact_url

HEAD_BYTES = 64 * 1024
MAX_PROBE_BYTES = 8 * 1024 * 1024
"""Cap on the bytes read from one media value, all reads together."""
PROBE_TIMEOUT = httpx.Timeout(10.0)
PROBE_DEADLINE = 30.0
"""Seconds one value's probe may take, all its requests and reads together."""
MAX_DATA_URI_CHARS = 64 * 1024 * 1024
"""Cap on a ``data:`` URI's length (about 48 MB of base64-encoded media)."""

Metric = Callable[[MediaInfo], "float | None"]
METRICS: dict[str, Metric] = {}


def metric(name: str) -> Callable[[Metric], Metric]:
    """Register a metric function (``MediaInfo`` -> number, or ``None`` when it does not apply)."""

    def register(function: Metric) -> Metric:
        METRICS[name] = function
        return function

    return register


@metric("width_pixels")
def _width(info: MediaInfo) -> float | None:
    return info.width


@metric("height_pixels")
def _height(info: MediaInfo) -> float | None:
    return info.height


@metric("width/height")
def _aspect(info: MediaInfo) -> float | None:
    return info.width / info.height if info.width and info.height else None


@metric("file_size_mb")
def _size_mb(info: MediaInfo) -> float | None:
    return None if info.size_bytes is None else info.size_bytes / 1_000_000


@metric("duration_seconds")
def _duration(info: MediaInfo) -> float | None:
    return info.duration_seconds


@metric("fps")
def _fps(info: MediaInfo) -> float | None:
    return info.fps


@dataclass(frozen=True)
class Violation:
    """One broken rule: where, what was measured, the rule, and the schema's own message."""

    field: str
    index: int | None
    metric: str
    measured: float
    operator: str
    value: float
    message: str

    @property
    def rule(self) -> str:
        return f"{self.metric}{self.operator}"

    def __str__(self) -> str:
        where = self.field if self.index is None else f"{self.field}[{self.index}]"
        measured = f"{self.measured:.4g}" if isinstance(self.measured, float) else str(self.measured)
        return f"{where}: {self.metric} is {measured}, rule {self.rule} {self.value:g}: {self.message}"


# --- parsing (sans-I/O) ---------------------------------------------------------------------------


def _image_reader(size: int | None, head: bytes) -> Reader:
    """Formats other than PNG, JPEG, GIF and WebP (which :func:`read_image` reads without it):
    Pillow's lazy ``Image.open`` reads only the header; feed it more bytes until it can."""
    try:
        from PIL import UnidentifiedImageError
    except ImportError:  # the client installed without its media extra
        raise ContainerError(
            "measuring an image other than PNG, JPEG, GIF or WebP needs Pillow, which is not installed: "
            "pip install 'runcomfy-models[media]'"
        ) from None
    data = head
    while True:
        try:
            return _image_header(data)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error) as exc:
            if size is not None and len(data) >= size:
                raise ContainerError(f"not an image format this client can read ({exc})") from None
            if len(data) >= MAX_PROBE_BYTES:
                raise ContainerError("no image header within the probe cap") from None
            want = min(len(data) * 4, MAX_PROBE_BYTES)
            if size is not None:
                want = min(want, size)
            more = yield (0, want)
            if len(more) <= len(data):
                raise ContainerError(f"truncated or unreadable image ({exc})") from None
            data = more


def _image_header(data: bytes) -> MediaInfo:
    """Format and size from an image header. A header claiming a huge size is measured, not refused:
    Pillow's decompression-bomb guard is for decoding pixels, which a probe never does."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            return MediaInfo((image.format or "image").lower(), width=width, height=height)
    except Image.DecompressionBombError:
        pass
    # Image.open's own loop over the registered formats, without its pixel-count guard.
    Image.init()
    for format_id in Image.ID:
        factory, accept = Image.OPEN[format_id]
        if accept is not None and not accept(data[:16]):
            continue
        try:
            image = factory(io.BytesIO(data), "")
        except (SyntaxError, IndexError, TypeError, struct.error, OSError, ValueError):
            continue
        width, height = image.size
        return MediaInfo((image.format or "image").lower(), width=width, height=height)
    raise ValueError("not a known image format")


def analyse(size: int | None, head: bytes) -> Reader:
    kind = sniff(head)
    reader = {"mp4": read_mp4, "webm": read_webm, "wav": read_wav}.get(kind, _image_reader)
    if reader is _image_reader and image_format(head) is not None:
        reader = read_image  # PNG, JPEG, GIF, WebP: from the header alone, without Pillow
    info = yield from reader(size, head)
    info.size_bytes = size
    return info


# --- reading ---------------------------------------------------------------------------------------

_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


def _data_uri(value: str) -> bytes:
    if len(value) > MAX_DATA_URI_CHARS:
        raise ContainerError(f"the data: URI is longer than the cap of {MAX_DATA_URI_CHARS} characters")
    header, _, payload = value.partition(",")
    if ";base64" in header.lower():
        try:
            return base64.b64decode(payload, validate=False)
        except binascii.Error as exc:
            raise ContainerError(f"the data: URI's base64 is invalid ({exc})") from None
    return unquote(payload).encode("latin-1", "replace")


class _SchemeRefused(ContainerError):
    """A media value that is neither an http(s) URL nor a ``data:`` URI."""


def _kind(value: str) -> str:
    """``http`` or ``data``; anything else is refused before any I/O."""
    head = value[:8].lower()
    if head.startswith(("http://", "https://")):
        return "http"
    if head.startswith("data:"):
        return "data"
    raise _SchemeRefused(
        "is not an http(s) URL or a data: URI: RunComfy fetches media by URL, so a local path, "
        "a file:// URL or another scheme is refused (no local file is read)"
    )


@contextmanager
def _probe_errors(field: str, index: int | None, value: str) -> Iterator[None]:
    """Whatever stops a measurement becomes one :class:`MediaProbeError` naming the field and value."""
    try:
        yield
    except _SchemeRefused as exc:
        where = field if index is None else f"{field}[{index}]"
        raise MediaProbeError(f"{where}: {redact_url(value)!r} {exc}") from None
    except (ContainerError, BodyLimitError) as exc:
        raise _probe_error(field, index, value, str(exc)) from None
    except (asyncio.TimeoutError, TimeoutError):
        raise _probe_error(field, index, value, "no answer within the probe deadline") from None
    except (OSError, ValueError, httpx.HTTPError) as exc:
        raise _probe_error(field, index, value, f"{type(exc).__name__}: {scrub(str(exc))[:300]}") from None


def _probe_error(field: str, index: int | None, value: str, reason: str) -> MediaProbeError:
    where = field if index is None else f"{field}[{index}]"
    shown = redact_url(value)
    return MediaProbeError(
        f"could not measure {where} ({shown}): {reason}. This is not a rule violation",
        hints=[Hint.of("skip_media_check")],
    )


class _Fetch:
    """Byte source over HTTP, remembering what the server supports."""

    def __init__(self, url: str, deadline: float) -> None:
        self.url = url
        self.deadline = deadline
        self.size: int | None = None
        self.ranges = True
        self.bytes_read = 0
        self.round_trips = 0


def _length(text: str) -> int:
    size = int(text)
    if size < 0:
        raise ContainerError(f"the server gave a negative size ({size})")
    return size


def _size_from(response: httpx.Response) -> int | None:
    match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
    if match and match.group(3) != "*":
        return _length(match.group(3))
    if response.status_code == 200 and "Content-Length" in response.headers:
        return _length(response.headers["Content-Length"])
    return None


class _ProberBase:
    def __init__(self, deadline: float = PROBE_DEADLINE) -> None:
        self._cache: dict[str, MediaInfo] = {}
        self.deadline = deadline
        self.bytes_read = 0
        self.round_trips = 0

    @staticmethod
    def targets(model: RunComfyInput[Any]) -> list[tuple[MediaRule, str, int | None, str]]:
        """(rule, field, item index, value) for every rule and value the payload sets."""
        payload = model.to_payload()
        found: list[tuple[MediaRule, str, int | None, str]] = []
        for rule in model.runcomfy_media_rules:
            value = payload.get(rule.field)
            if value is None:
                continue
            if isinstance(value, list):
                found.extend((rule, rule.field, i, v) for i, v in enumerate(value) if isinstance(v, str))
            elif isinstance(value, str):
                found.append((rule, rule.field, None, value))
        return found

    @staticmethod
    def violations(
        targets: list[tuple[MediaRule, str, int | None, str]], infos: dict[str, MediaInfo]
    ) -> list[Violation]:
        found = []
        for rule, field, index, value in targets:
            info = infos[value]
            function = METRICS.get(rule.metric)
            if function is None:
                continue  # unknown metric allowed by --allow-unknown: kept as data, not checked
            measured = function(info)
            if measured is None:
                if rule.metric in (
                    "width_pixels",
                    "height_pixels",
                    "width/height",
                    "duration_seconds",
                    "fps",
                ):
                    raise _probe_error(field, index, value, f"a {info.format} file has no {rule.metric}")
                raise _probe_error(field, index, value, f"the server did not tell the {rule.metric}")
            if not rule.passes(measured):
                found.append(
                    Violation(field, index, rule.metric, measured, rule.operator, rule.value, rule.message)
                )
        return found

    def _ends(self, deadline: float | None) -> float:
        """When one probe must end: :attr:`deadline` seconds from now, or the caller's deadline."""
        ends = time.monotonic() + self.deadline
        return ends if deadline is None else min(ends, deadline)

    # HTTP reading, shared by both probers (they differ only in how they wait) ------------------
    def _plan(self, fetch: _Fetch, offset: int, length: int) -> dict[str, str]:
        """Headers for the next read; refuses a read that would pass the cap or the deadline."""
        limit = length if fetch.ranges else offset + length
        if fetch.bytes_read + limit > MAX_PROBE_BYTES:
            raise ContainerError(f"reading it would pass the probe cap of {MAX_PROBE_BYTES} bytes")
        if time.monotonic() >= fetch.deadline:
            raise TimeoutError
        fetch.round_trips += 1
        self.round_trips += 1
        headers = {"Accept-Encoding": "identity"}
        if fetch.ranges:
            headers["Range"] = f"bytes={offset}-{offset + length - 1}"
        return headers

    @staticmethod
    def _timeout(timeout: httpx.Timeout, fetch: _Fetch) -> httpx.Timeout:
        return bounded_timeout(timeout, fetch.deadline)

    @staticmethod
    def _body(fetch: _Fetch, reply: httpx.Response, offset: int, length: int) -> BoundedBody:
        """Check the reply's status and learn the size; the body's reader, capped while it reads:
        a 206 at the bytes asked for, a 200 (Range ignored: the body starts at byte 0) stops once
        it holds them, and neither passes what is left of :data:`MAX_PROBE_BYTES`."""
        if reply.status_code not in (200, 206):
            raise ContainerError(f"the server answered HTTP {reply.status_code}")
        if fetch.size is None:
            fetch.size = _size_from(reply)
        room = MAX_PROBE_BYTES - fetch.bytes_read
        if reply.status_code == 200:
            fetch.ranges = False
            return BoundedBody(reply.headers, room, fetch.deadline, stop_at=offset + length)
        return BoundedBody(reply.headers, min(length, room), fetch.deadline)

    def _slice(
        self, fetch: _Fetch, reply: httpx.Response, body: BoundedBody, offset: int, length: int
    ) -> bytes:
        data = bytes(body.data)
        fetch.bytes_read += len(data)
        self.bytes_read += len(data)
        return data[offset : offset + length] if reply.status_code == 200 else data[:length]

    @staticmethod
    def _needs_head(fetch: _Fetch, head: bytes) -> bool:
        """Is a HEAD needed for the size? Not when the first read already held the whole file."""
        if fetch.size is None and len(head) < HEAD_BYTES:
            fetch.size = len(head)
        return fetch.size is None

    def _count_head(self, fetch: _Fetch, reply: httpx.Response) -> None:
        fetch.round_trips += 1
        self.round_trips += 1
        if "Content-Length" in reply.headers:
            fetch.size = _length(reply.headers["Content-Length"])

    def _measure_data(self, value: str) -> MediaInfo:
        blob = _data_uri(value)
        reader = analyse(len(blob), blob[:HEAD_BYTES])
        try:
            request = next(reader)
            while True:
                offset, length = request
                request = reader.send(blob[offset : offset + length])
        except StopIteration as done:
            info: MediaInfo = done.value
            return info


class MediaProber(_ProberBase):
    """Synchronous prober; probes are cached per URL for the life of the client."""

    def __init__(
        self, http: httpx.Client, timeout: httpx.Timeout = PROBE_TIMEOUT, deadline: float = PROBE_DEADLINE
    ) -> None:
        super().__init__(deadline)
        self._http = http
        self._timeout_config = timeout

    def check(self, model: RunComfyInput[Any], deadline: float | None = None) -> list[Violation]:
        """Every violation of ``model``'s media rules; ``deadline`` (``time.monotonic()``) caps the
        probes' own deadline (a ``run``'s overall deadline)."""
        targets = self.targets(model)
        infos: dict[str, MediaInfo] = {}
        for _rule, field, index, value in targets:
            if value not in infos:
                infos[value] = self.measure(value, field, index, deadline)
        return self.violations(targets, infos)

    def measure(
        self, value: str, field: str = "value", index: int | None = None, deadline: float | None = None
    ) -> MediaInfo:
        if value not in self._cache:
            with _probe_errors(field, index, value):
                if _kind(value) == "http":
                    self._cache[value] = self._measure_http(value, self._ends(deadline))
                else:
                    self._cache[value] = self._measure_data(value)
        return self._cache[value]

    def _get(self, fetch: _Fetch, offset: int, length: int) -> bytes:
        """Bytes [offset, offset+length): a ranged GET, or a streamed GET from 0 if ranges are ignored."""
        headers = self._plan(fetch, offset, length)
        timeout = self._timeout(self._timeout_config, fetch)
        with self._http.stream(
            "GET", fetch.url, headers=headers, timeout=timeout, follow_redirects=True
        ) as reply:
            body = self._body(fetch, reply, offset, length)
            for chunk in reply.iter_raw():
                if body.feed(chunk):
                    break  # Range ignored: stop reading, the rest of the file is not needed
        return self._slice(fetch, reply, body, offset, length)

    def _measure_http(self, url: str, ends: float) -> MediaInfo:
        fetch = _Fetch(url, ends)
        head = self._get(fetch, 0, HEAD_BYTES)
        if self._needs_head(fetch, head):
            timeout = self._timeout(self._timeout_config, fetch)
            headers = {"Accept-Encoding": "identity"}
            self._count_head(
                fetch, self._http.head(url, headers=headers, timeout=timeout, follow_redirects=True)
            )
        reader = analyse(fetch.size, head)
        try:
            request = next(reader)
            while True:
                request = reader.send(self._get(fetch, *request))
        except StopIteration as done:
            info: MediaInfo = done.value
            return info


class AsyncMediaProber(_ProberBase):
    """Asynchronous prober: the values of one input (and array items) are measured concurrently.

    ``direct=True`` (what an ``AsyncClient`` that made its own HTTP client, and ``acheck_media``
    without ``http_client``, use): each probe is one HTTP/1.1 exchange on its own connection over
    asyncio streams, parsed by h11 (the HTTP/1.1 library httpx itself runs on), instead of a trip
    through httpx's and httpcore's async stack and connection pool, whose bookkeeping costs about
    1 ms of CPU per probe and grows with the number in flight: a hundred concurrent probes then
    hide behind one round trip. The reads are the same (same headers, caps, deadline, redirects,
    certificates as httpx's default context: certifi's, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``);
    ``http`` is used instead whenever the environment configures a proxy (``HTTP_PROXY``,
    ``HTTPS_PROXY``, ``ALL_PROXY``: httpx would honour it) or a URL carries credentials. With ``direct=False``
    (a caller's own ``http_client``: its proxies, transport and certificates) every probe goes
    through ``http``.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        timeout: httpx.Timeout = PROBE_TIMEOUT,
        deadline: float = PROBE_DEADLINE,
        *,
        direct: bool = False,
    ) -> None:
        super().__init__(deadline)
        self._http = http
        self._timeout_config = timeout
        self.direct = direct and not _environment_configures_http()

    async def check(self, model: RunComfyInput[Any], deadline: float | None = None) -> list[Violation]:
        targets = self.targets(model)
        unique: dict[str, tuple[str, int | None]] = {}
        for _rule, field, index, value in targets:
            unique.setdefault(value, (field, index))
        measured = await asyncio.gather(*(self.measure(v, f, i, deadline) for v, (f, i) in unique.items()))
        return self.violations(targets, dict(zip(unique, measured, strict=True)))

    async def measure(
        self, value: str, field: str = "value", index: int | None = None, deadline: float | None = None
    ) -> MediaInfo:
        if value not in self._cache:
            with _probe_errors(field, index, value):
                if _kind(value) == "http":
                    ends = self._ends(deadline)
                    info = await asyncio.wait_for(
                        self._measure_http(value, ends), max(0.0, ends - time.monotonic())
                    )
                else:
                    info = self._measure_data(value)
                self._cache[value] = info
        return self._cache[value]

    async def _get(self, fetch: _Fetch, offset: int, length: int) -> bytes:
        headers = self._plan(fetch, offset, length)
        if self._goes_direct(fetch.url):
            reply, body = await self._direct("GET", fetch, headers, offset, length)
            assert body is not None
            return self._slice(fetch, reply, body, offset, length)
        timeout = self._timeout(self._timeout_config, fetch)
        async with self._http.stream(
            "GET", fetch.url, headers=headers, timeout=timeout, follow_redirects=True
        ) as reply:
            body = self._body(fetch, reply, offset, length)
            async for chunk in reply.aiter_raw():
                if body.feed(chunk):
                    break  # a 206 body is read to its end, so the connection can serve the next probe
        return self._slice(fetch, reply, body, offset, length)

    async def _measure_http(self, url: str, ends: float) -> MediaInfo:
        fetch = _Fetch(url, ends)
        head = await self._get(fetch, 0, HEAD_BYTES)
        if self._needs_head(fetch, head):
            timeout = self._timeout(self._timeout_config, fetch)
            headers = {"Accept-Encoding": "identity"}
            if self._goes_direct(url):
                reply = (await self._direct("HEAD", fetch, headers, 0, 0))[0]
            else:
                reply = await self._http.head(url, headers=headers, timeout=timeout, follow_redirects=True)
            self._count_head(fetch, reply)
        reader = analyse(fetch.size, head)
        try:
            request = next(reader)
            while True:
                request = reader.send(await self._get(fetch, *request))
        except StopIteration as done:
            info: MediaInfo = done.value
            return info

    def _goes_direct(self, url: str) -> bool:
        return self.direct and not httpx.URL(url).userinfo  # credentials in a URL: httpx sends them

    async def _direct(
        self, method: str, fetch: _Fetch, headers: dict[str, str], offset: int, length: int
    ) -> tuple[httpx.Response, BoundedBody | None]:
        """One request (and its redirects, as httpx follows them) on fresh connections; the reply's
        status and headers, and for a GET its body read as :meth:`_body` says (then the connection
        is closed: a probe never reads more than it needs)."""
        url = httpx.URL(fetch.url)
        for _hop in range(MAX_REDIRECTS + 1):
            if time.monotonic() >= fetch.deadline:
                raise TimeoutError
            left = fetch.deadline - time.monotonic()
            limit = min(left, self._timeout_config.connect or left) + min(
                left, self._timeout_config.read or left
            )
            reply, body = await asyncio.wait_for(
                _exchange(self, method, url, headers, fetch, offset, length), min(left, limit)
            )
            location = reply.headers.get("Location")
            if reply.status_code in (301, 302, 303, 307, 308) and location:
                url = url.join(location)
                if url.scheme not in ("http", "https"):
                    raise ContainerError(f"redirected to a {url.scheme}: URL")
                continue
            return reply, body
        raise ContainerError(f"more than {MAX_REDIRECTS} redirects")


MAX_REDIRECTS = 20
"""Redirects a probe follows (httpx's default)."""
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_ENV_PROXIES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
_SSL_CONTEXT: Any = None


def _environment_configures_http() -> bool:
    """Does the environment set a proxy that httpx would honour?"""
    import os

    return any(os.environ.get(name) or os.environ.get(name.lower()) for name in _ENV_PROXIES)


def _ssl_context() -> Any:
    """httpx's default context (certifi's certificates, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``), made once."""
    global _SSL_CONTEXT
    if _SSL_CONTEXT is None:
        context = httpx.create_ssl_context()
        context.set_alpn_protocols(["http/1.1"])
        _SSL_CONTEXT = context
    return _SSL_CONTEXT


async def _exchange(
    prober: AsyncMediaProber,
    method: str,
    url: httpx.URL,
    headers: dict[str, str],
    fetch: _Fetch,
    offset: int,
    length: int,
) -> tuple[httpx.Response, BoundedBody | None]:
    """One HTTP/1.1 request on a new connection, parsed by h11; the connection is closed after."""
    if url.scheme not in ("http", "https"):
        raise ContainerError(f"cannot fetch a {url.scheme}: URL")
    tls = url.scheme == "https"
    host = url.raw_host.decode("ascii")
    port = url.port or (443 if tls else 80)
    reader, writer = await asyncio.open_connection(
        host, port, ssl=_ssl_context() if tls else None, server_hostname=host if tls else None
    )
    try:
        connection = h11.Connection(h11.CLIENT, max_incomplete_event_size=64 * 1024)
        request = h11.Request(
            method=method,
            target=url.raw_path,
            headers=[
                (b"Host", url.netloc),
                (b"Accept", b"*/*"),
                (b"User-Agent", _USER_AGENT),
                (b"Connection", b"close"),
                *((k.encode("ascii"), v.encode("ascii")) for k, v in headers.items()),
            ],
        )
        writer.write(connection.send(request) + (connection.send(h11.EndOfMessage()) or b""))
        event = await _next_event(connection, reader)
        while isinstance(event, h11.InformationalResponse):
            event = await _next_event(connection, reader)
        if not isinstance(event, h11.Response):
            raise ContainerError("the server closed the connection without an answer")
        reply = httpx.Response(event.status_code, headers=[(k, v) for k, v in event.headers])
        if method != "GET" or (event.status_code in _REDIRECTS and "Location" in reply.headers):
            return reply, None
        body = prober._body(fetch, reply, offset, length)
        while True:
            event = await _next_event(connection, reader)
            if isinstance(event, h11.Data):
                if body.feed(bytes(event.data)):
                    break
            elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                break
        return reply, body
    except h11.ProtocolError as exc:
        raise ContainerError(f"the server's HTTP reply is malformed ({exc})") from None
    finally:
        writer.close()


async def _next_event(connection: h11.Connection, reader: asyncio.StreamReader) -> Any:
    while True:
        event = connection.next_event()
        if event is not h11.NEED_DATA:
            return event
        connection.receive_data(await reader.read(64 * 1024))


_USER_AGENT = f"python-httpx/{httpx.__version__}".encode("ascii")


def raise_for_violations(violations: list[Violation]) -> None:
    if violations:
        raise MediaValidationError(list(violations))


def check_media(
    input: Any, *, http_client: httpx.Client | None = None, timeout: float | httpx.Timeout = PROBE_TIMEOUT
) -> list[Violation]:
    """Run a generated ``Input``'s custom media rules alone; returns every violation (empty: all pass).

    Raises :class:`MediaProbeError` when a value cannot be measured.
    """
    from ._client import as_input
    from ._files import with_local_files  # a local file (pathlib.Path) is measured from its bytes

    with httpx.Client() if http_client is None else _borrowed(http_client) as http:
        return MediaProber(http, httpx.Timeout(timeout)).check(with_local_files(as_input(input)))


async def acheck_media(
    input: Any,
    *,
    http_client: httpx.AsyncClient | None = None,
    timeout: float | httpx.Timeout = PROBE_TIMEOUT,
) -> list[Violation]:
    """Async twin of :func:`check_media`; the input's media values are measured concurrently."""
    from ._client import as_input
    from ._files import with_local_files  # a local file (pathlib.Path) is measured from its bytes

    model = with_local_files(as_input(input))
    if http_client is not None:
        return await AsyncMediaProber(http_client, httpx.Timeout(timeout)).check(model)
    async with httpx.AsyncClient() as http:
        return await AsyncMediaProber(http, httpx.Timeout(timeout), direct=True).check(model)


class _borrowed:
    """Use a caller's client in a ``with`` without closing it."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def __enter__(self) -> httpx.Client:
        return self.client

    def __exit__(self, *exc: object) -> None:
        return None
