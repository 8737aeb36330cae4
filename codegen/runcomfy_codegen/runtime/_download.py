"""Output files: :class:`MediaURL`, the ``str`` an ``Output`` holds for a URL, and the one download
implementation of the package (``MediaURL.download``, the CLI's ``--output-dir``, batch ``output_dir``).

Every download:

* reads only ``http://`` and ``https://`` URLs (anything else is refused before a connection opens);
* never sends the API token: output files live on media hosts and are fetched with no credentials
  (a fresh ``httpx`` client, or the caller's pooled one, whose requests carry no auth);
* stops at a size cap (:data:`DEFAULT_MAX_BYTES`, 2 GiB, per call ``max_bytes=``) and a deadline
  for the whole transfer (:data:`DEFAULT_TIMEOUT`), removing what it wrote;
* writes a temporary file beside the target and renames it into place only when complete (a file
  at the target path is always whole);
* resumes with a ``Range`` request after a dropped connection (up to :data:`RESUME_ATTEMPTS`
  times), and starts over if the server answers a range request with the whole file.

Importing this module does not import httpx (a model module imports it for ``MediaURL``).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from pydantic import GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema

from ._exceptions import RunComfyError
from ._urls import is_http_url, redact_url

if TYPE_CHECKING:
    import httpx

DEFAULT_MAX_BYTES = 2 * 1024**3
"""Largest file a download accepts (bytes), unless ``max_bytes=`` says otherwise."""
DEFAULT_TIMEOUT = 600.0
"""Seconds one whole download may take (every connection, read and resume)."""
RESUME_ATTEMPTS = 3
"""Dropped connections one download survives (each resumes with a ``Range`` request)."""
CHUNK = 1 << 16
_CONNECT_READ_TIMEOUT = 30.0
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")

Progress = Callable[[int, "int | None"], Any]
"""``progress(bytes received, total bytes or None)``, called as data arrives."""


class DownloadError(RunComfyError):
    """An output file could not be downloaded: not http(s), over the cap, too slow, an HTTP error or
    a connection that kept dropping. Nothing is left at the target path."""


def _refuse_non_http(url: str) -> None:
    if not is_http_url(url):
        raise DownloadError(f"download {redact_url(url)!r}: not an http(s) URL, so it is not downloaded")


def file_name(url: str, default: str = "download") -> str:
    """A safe file name for ``url``: its last path segment, characters outside ``[A-Za-z0-9._-]``
    replaced; ``default`` when nothing usable is left (never a hidden or empty name)."""
    segment = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    name = _SAFE_NAME.sub("_", segment).strip("._")[:128]
    return name or default


def _target(url: str, path_or_dir: str | os.PathLike[str]) -> Path:
    path = Path(path_or_dir)
    if path.is_dir() or str(path_or_dir).endswith(("/", os.sep)):
        path.mkdir(parents=True, exist_ok=True)
        return path / file_name(url)
    return path


class _Transfer:
    """The state of one download, shared by the sync and async loops: which range to ask for, what
    a reply means, the cap and the deadline."""

    def __init__(self, url: str, max_bytes: int, timeout: float, progress: Progress | None) -> None:
        _refuse_non_http(url)
        self.url = url
        self.shown = redact_url(url)
        self.max_bytes = max_bytes
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        self.progress = progress
        self.received = 0
        self.total: int | None = None
        self.drops = 0

    def headers(self) -> dict[str, str]:
        headers = {"Accept-Encoding": "identity"}  # byte offsets must be the file's own for Range
        if self.received:
            headers["Range"] = f"bytes={self.received}-"
        return headers

    def http_timeout(self) -> Any:
        import httpx

        left = max(0.001, self.deadline - time.monotonic())
        return httpx.Timeout(min(_CONNECT_READ_TIMEOUT, left))

    def on_reply(self, status: int, headers: Any) -> bool:
        """Check a reply's status; True when the body starts over from byte 0 (drop what was kept)."""
        restart = False
        if status == 206 and self.received:
            first = re.match(r"bytes (\d+)-\d+/(\d+|\*)", headers.get("content-range", ""))
            if first is None or int(first.group(1)) != self.received:
                raise DownloadError(f"download {self.shown}: the server resumed at the wrong offset")
            if first.group(2) != "*":
                self.total = int(first.group(2))
        elif status == 200:
            restart = self.received > 0
            self.received = 0
            length = headers.get("content-length")
            self.total = int(length) if length and length.isdigit() else None
        else:
            raise DownloadError(f"download {self.shown}: HTTP {status}")
        if self.total is not None and self.total > self.max_bytes:
            raise DownloadError(
                f"download {self.shown}: {self.total} bytes, over the cap of {self.max_bytes}"
            )
        return restart

    def on_chunk(self, chunk: bytes) -> None:
        self.received += len(chunk)
        if self.received > self.max_bytes:
            raise DownloadError(f"download {self.shown}: larger than the cap of {self.max_bytes} bytes")
        if time.monotonic() > self.deadline:
            raise DownloadError(f"download {self.shown}: not complete within {self.timeout:g} s")
        if self.progress is not None:
            self.progress(self.received, self.total)

    def complete(self) -> bool:
        return self.total is None or self.received >= self.total

    def on_drop(self, exc: BaseException) -> None:
        """A dropped connection or a timeout: resume, or give up past the attempts or the deadline."""
        self.drops += 1
        if self.drops > RESUME_ATTEMPTS or time.monotonic() > self.deadline:
            raise DownloadError(
                f"download {self.shown}: {type(exc).__name__} after {self.received} bytes "
                f"({self.drops - 1} resume(s) tried)"
            ) from None


def _transport_errors() -> tuple[type[BaseException], ...]:
    import httpx

    return (httpx.TransportError, _Short)


class _Short(Exception):
    """The body ended before its announced length."""


def _stream_sync(transfer: _Transfer, http: httpx.Client | None, sink: IO[bytes] | None) -> Iterator[bytes]:
    """Yield the file's bytes (and write them to ``sink``), resuming after dropped connections."""
    import httpx

    own = http is None
    client = http or httpx.Client(follow_redirects=True, trust_env=True)
    try:
        while True:
            try:
                with client.stream(
                    "GET", transfer.url, headers=transfer.headers(), timeout=transfer.http_timeout(),
                    follow_redirects=True,
                ) as reply:  # fmt: skip
                    if transfer.on_reply(reply.status_code, reply.headers):
                        if sink is None:
                            raise DownloadError(
                                f"download {transfer.shown}: the server cannot resume a stream"
                            )
                        sink.seek(0)
                        sink.truncate()
                    for chunk in reply.iter_raw(CHUNK):
                        transfer.on_chunk(chunk)
                        if sink is not None:
                            sink.write(chunk)
                        yield chunk
                if not transfer.complete():
                    raise _Short()
                return
            except _transport_errors() as exc:
                transfer.on_drop(exc)
    finally:
        if own:
            client.close()


async def _stream_async(
    transfer: _Transfer, http: httpx.AsyncClient | None, sink: IO[bytes] | None
) -> AsyncIterator[bytes]:
    import httpx

    own = http is None
    client = http or httpx.AsyncClient(follow_redirects=True, trust_env=True)
    try:
        while True:
            try:
                async with client.stream(
                    "GET", transfer.url, headers=transfer.headers(), timeout=transfer.http_timeout(),
                    follow_redirects=True,
                ) as reply:  # fmt: skip
                    if transfer.on_reply(reply.status_code, reply.headers):
                        if sink is None:
                            raise DownloadError(
                                f"download {transfer.shown}: the server cannot resume a stream"
                            )
                        sink.seek(0)
                        sink.truncate()
                    async for chunk in reply.aiter_raw(CHUNK):
                        transfer.on_chunk(chunk)
                        if sink is not None:
                            sink.write(chunk)
                        yield chunk
                if not transfer.complete():
                    raise _Short()
                return
            except _transport_errors() as exc:
                transfer.on_drop(exc)
    finally:
        if own:
            await client.aclose()


def _temporary(target: Path) -> Path:
    import secrets

    return target.with_name(f".{target.name}.{secrets.token_hex(6)}.part")  # beside it: rename is atomic


def _publish(handle: IO[bytes], temp: Path, target: Path) -> None:
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()
    os.replace(temp, target)


def download(
    url: str,
    path_or_dir: str | os.PathLike[str] = ".",
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Progress | None = None,
    http: httpx.Client | None = None,
) -> Path:
    """Download ``url`` to a file (``path_or_dir``: a file path, or an existing folder / a path
    ending in ``/`` to keep the URL's file name); returns the path written."""
    transfer = _Transfer(url, max_bytes, timeout, progress)
    target = _target(url, path_or_dir)
    temp = _temporary(target)
    try:
        with open(temp, "xb") as handle:
            for _ in _stream_sync(transfer, http, handle):
                pass
            _publish(handle, temp, target)
    except OSError as exc:
        raise DownloadError(
            f"download {transfer.shown}: cannot write {target}: {exc.strerror or exc}"
        ) from None
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()
    return target


async def adownload(
    url: str,
    path_or_dir: str | os.PathLike[str] = ".",
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Progress | None = None,
    http: httpx.AsyncClient | None = None,
) -> Path:
    """Async twin of :func:`download` (file writes are small and local: done inline)."""
    transfer = _Transfer(url, max_bytes, timeout, progress)
    target = _target(url, path_or_dir)
    temp = _temporary(target)
    try:
        with open(temp, "xb") as handle:
            async for _ in _stream_async(transfer, http, handle):
                pass
            _publish(handle, temp, target)
    except OSError as exc:
        raise DownloadError(
            f"download {transfer.shown}: cannot write {target}: {exc.strerror or exc}"
        ) from None
    finally:
        with contextlib.suppress(OSError):
            temp.unlink()
    return target


class MediaURL(str):
    """The URL of an output file: a ``str`` (it compares, prints and serialises as the URL) that can
    fetch its file. ``download()``, ``read()`` and ``iter_bytes()`` (and the async ``adownload()``,
    ``aread()``, ``aiter_bytes()``) follow this module's rules: http(s) only, no API token, a size
    cap (``max_bytes``, 2 GiB by default), a deadline, atomic files, resume after a dropped connection.
    """

    __slots__ = ()

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(
            cls,
            core_schema.str_schema(),
            serialization=core_schema.plain_serializer_function_ser_schema(str),
        )

    def download(
        self,
        path_or_dir: str | os.PathLike[str] = ".",
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        timeout: float = DEFAULT_TIMEOUT,
        progress: Progress | None = None,
    ) -> Path:
        """Save the file (into a folder under the URL's file name, or at a file path); its path."""
        return download(str(self), path_or_dir, max_bytes=max_bytes, timeout=timeout, progress=progress)

    def read(self, *, max_bytes: int = DEFAULT_MAX_BYTES, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        """The file's bytes, in memory (mind ``max_bytes``)."""
        buffer = io.BytesIO()
        for _ in _stream_sync(_Transfer(str(self), max_bytes, timeout, None), None, buffer):
            pass
        return buffer.getvalue()

    def iter_bytes(
        self, *, max_bytes: int = DEFAULT_MAX_BYTES, timeout: float = DEFAULT_TIMEOUT
    ) -> Iterator[bytes]:
        """The file's bytes as they arrive (resumed after a dropped connection when the server can)."""
        return _stream_sync(_Transfer(str(self), max_bytes, timeout, None), None, None)

    async def adownload(
        self,
        path_or_dir: str | os.PathLike[str] = ".",
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        timeout: float = DEFAULT_TIMEOUT,
        progress: Progress | None = None,
    ) -> Path:
        return await adownload(
            str(self), path_or_dir, max_bytes=max_bytes, timeout=timeout, progress=progress
        )

    async def aread(self, *, max_bytes: int = DEFAULT_MAX_BYTES, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        buffer = io.BytesIO()
        async for _ in _stream_async(_Transfer(str(self), max_bytes, timeout, None), None, buffer):
            pass
        return buffer.getvalue()

    def aiter_bytes(
        self, *, max_bytes: int = DEFAULT_MAX_BYTES, timeout: float = DEFAULT_TIMEOUT
    ) -> AsyncIterator[bytes]:
        return _stream_async(_Transfer(str(self), max_bytes, timeout, None), None, None)


# Output files of a finished job: which values are downloaded, under what name -------------------
_EXT = re.compile(r"\.[A-Za-z0-9]{1,5}$")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):\S*$")
_BARE_SCHEMES = frozenset({"javascript", "vbscript", "data", "file", "blob", "about", "mailto", "ftp"})
"""URL schemes recognised without ``//`` (``javascript:alert(1)``); with ``//`` any scheme is a URL."""


def _is_refused_url(value: Any) -> bool:
    """A URL that is not a downloadable http(s) one: ``file:///etc/passwd``, ``javascript:...``,
    ``http://`` without a host. Text with spaces or a ``word:word`` value is not a URL."""
    if not isinstance(value, str) or is_http_url(value):
        return False
    match = _SCHEME.match(value)
    return match is not None and ("://" in value or match.group(1).lower() in _BARE_SCHEMES)


def _select(output: dict[str, Any], keep: Callable[[Any], bool]) -> list[tuple[str, int | None, str]]:
    found: list[tuple[str, int | None, str]] = []
    for field, value in output.items():
        if keep(value):
            found.append((field, None, value))
        elif isinstance(value, list):
            found.extend((field, i, item) for i, item in enumerate(value) if keep(item))
    return found


def output_targets(output: dict[str, Any]) -> list[tuple[str, int | None, str]]:
    """(field, index in a list or None, URL) of every downloadable (http(s)) value of an output
    object (top-level values and the items of list values), in output order."""
    return _select(output, lambda value: isinstance(value, str) and is_http_url(value))


def refused_output_urls(output: dict[str, Any]) -> list[str]:
    """One line per output value that is a URL of another scheme, so never downloaded (redacted)."""
    return [
        f"{field}{'' if index is None else f'[{index}]'}: {redact_url(url)!r} is not an http(s) URL, "
        "so it is not downloaded"
        for field, index, url in _select(output, _is_refused_url)
    ]


def output_file_name(field: str, index: int | None, url: str) -> str:
    """The file name an output value is saved under, made here and never taken from the server:
    ``<field><ext>``, or ``<field>-<i><ext>`` for list items; the extension from the URL's path when
    short and alphanumeric, ``.bin`` otherwise."""
    match = _EXT.search(urlsplit(url).path)
    ext = match.group(0).lower() if match else ".bin"
    stem = _UNSAFE_NAME.sub("_", field).strip("._") or "output"
    return f"{stem}{'' if index is None else f'-{index}'}{ext}"
