"""A real local HTTP server for media probing tests: Range or not, counting every byte it sends.

Files are virtual (a real header, then zero padding to any size), so a 30 MB file costs nothing.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")
CHUNK = 16 * 1024


@dataclass
class VirtualFile:
    head: bytes
    size: int
    content_type: str = "application/octet-stream"

    def read(self, start: int, end: int) -> bytes:
        """Bytes [start, end)."""
        data = self.head[start:end]
        return data + b"\0" * max(0, (end - start) - len(data))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # socketserver's default of 5 drops bursts of connections


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        return

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle stalls

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    def _serve(self, head: bool) -> None:
        media: MediaServer = self.server.media
        media.requests.append((self.command, self.path, self.headers.get("Range")))
        path = self.path.split("?")[0]
        if path in media.redirects:
            self.send_response(302)
            self.send_header("Location", media.redirects[path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if path in media.hang:
            time.sleep(media.hang[path])
        file = media.files.get(path)
        if file is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        match = _RANGE.match(self.headers.get("Range", ""))
        ranged = media.ranges and match is not None and not head
        if ranged:
            assert match is not None
            start = int(match.group(1) or 0)
            end = min(int(match.group(2)) + 1 if match.group(2) else file.size, file.size)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{file.size}")
        else:
            start, end = 0, file.size
            self.send_response(200)
        self.send_header("Content-Type", file.content_type)
        if media.send_length or ranged:
            self.send_header("Content-Length", str(end - start))
        else:
            self.close_connection = True
        self.end_headers()
        if head:
            return
        try:
            for offset in range(start, end, CHUNK):
                chunk = file.read(offset, min(offset + CHUNK, end))
                self.wfile.write(chunk)
                media.bytes_sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass


class MediaServer:
    def __init__(self, *, ranges: bool = True, send_length: bool = True) -> None:
        self.files: dict[str, VirtualFile] = {}
        self.redirects: dict[str, str] = {}
        self.hang: dict[str, float] = {}
        self.ranges = ranges
        self.send_length = send_length
        self.bytes_sent = 0
        self.requests: list[tuple[str, str, str | None]] = []
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.media = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def add(self, path: str, data: bytes, size: int | None = None) -> str:
        self.files[path] = VirtualFile(data, len(data) if size is None else size)
        return self.base_url + path

    def reset_counts(self) -> None:
        self.bytes_sent = 0
        self.requests.clear()

    def __enter__(self) -> MediaServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def serve(**kwargs: Any) -> Iterator[MediaServer]:
    with MediaServer(**kwargs) as server:
        yield server
