"""A hostile HTTP server on 127.0.0.1: each path is a behaviour written against the raw socket.

Behaviours hang, trickle, send endless or huge bodies, gzip bombs, redirect loops and malformed
JSON. Each runs in its own daemon thread and stops when the server stops (or the peer goes away),
so no test can leave a thread spinning.
"""

from __future__ import annotations

import json
import socket
import socketserver
import struct
import threading
import zlib
from collections.abc import Callable
from functools import lru_cache
from typing import Any

Behaviour = Callable[["Conn"], None]


class Conn:
    """One accepted connection: the parsed request and helpers to answer it."""

    def __init__(
        self, sock: socket.socket, stop: threading.Event, method: str, path: str, headers: dict[str, str]
    ):
        self.sock = sock
        self.stop = stop
        self.method = method
        self.path = path
        self.headers = headers

    def send(self, data: bytes) -> bool:
        """Send bytes; ``False`` once the peer is gone or the server stops."""
        if self.stop.is_set():
            return False
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def head(self, status: int, headers: dict[str, str] | None = None, reason: str = "X") -> bool:
        lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
        return self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        all_headers = {"Content-Length": str(len(body)), "Connection": "close", **(headers or {})}
        if self.head(status, all_headers):
            self.send(body)

    def json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.reply(status, json.dumps(body).encode(), {"Content-Type": "application/json", **(headers or {})})

    def idle(self, seconds: float) -> bool:
        """Wait; ``False`` when the server stopped meanwhile."""
        return not self.stop.wait(seconds)


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(10)
        data = b""
        try:
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = sock.recv(4096)
                if not chunk:
                    return
                data += chunk
        except OSError:
            return
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _version = ([*lines[0].split(" "), "", ""])[:3]
        headers = {}
        for line in lines[1:]:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        length = int(headers.get("content-length") or 0)
        try:
            while len(rest) < length:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                rest += chunk
        except OSError:
            return
        hostile = self.server.hostile
        hostile.requests.append((method, path))
        route = hostile.routes.get(path.split("?")[0], hostile.default)
        route(Conn(sock, hostile.stopped, method, path, headers))


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    hostile: HostileServer


class HostileServer:
    def __init__(self) -> None:
        self.routes: dict[str, Behaviour] = {}
        self.requests: list[tuple[str, str]] = []
        self.stopped = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.hostile = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def default(self, conn: Conn) -> None:
        conn.json(404, {"message": "no route"})

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


# --- behaviours -----------------------------------------------------------------------------------


def hang(conn: Conn) -> None:
    """Accept the request and never answer."""
    conn.idle(120)


def endless_chunked(conn: Conn) -> None:
    """A 200 whose chunked body never ends (a chunk every 10 ms)."""
    if not conn.head(200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}):
        return
    conn.send(b"1\r\n[\r\n")
    while conn.send(b"400\r\n" + b" " * 1024 + b"\r\n") and conn.idle(0.01):
        pass


def huge_body(conn: Conn, status: int = 200) -> None:
    """A reply announcing 1 GB and sending it as fast as the peer reads."""
    size = 1_000_000_000
    headers = {"Content-Type": "application/json", "Content-Length": str(size)}
    if status == 206:
        headers["Content-Range"] = f"bytes 0-{size - 1}/{size}"
    if not conn.head(status, headers):
        return
    block = b" " * 65536
    sent = 0
    while sent < size and conn.send(block):
        sent += len(block)


@lru_cache(maxsize=2)
def gzip_bomb(megabytes: int = 128) -> bytes:
    """``megabytes`` MiB of zeros, gzip-compressed (about 1 MB per GiB): 4x the largest cap here."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * (1024 * 1024)
    parts = [compressor.compress(block) for _ in range(megabytes)]
    parts.append(compressor.flush())
    return b"".join(parts)


def gzip_bomb_reply(status: int) -> Behaviour:
    def behave(conn: Conn) -> None:
        body = gzip_bomb()
        headers = {"Content-Encoding": "gzip", "Content-Type": "image/png", "Content-Length": str(len(body))}
        if status == 206:
            headers["Content-Range"] = "bytes 0-65535/1073741824"
        conn.reply(status, body, headers)

    return behave


def endless_206(conn: Conn) -> None:
    """A 206 without length that never ends."""
    if not conn.head(
        206, {"Content-Type": "image/png", "Content-Range": "bytes 0-65535/*", "Connection": "close"}
    ):
        return
    block = b"\0" * 65536
    while conn.send(block):
        pass


def trickle(conn: Conn) -> None:
    """A 200 whose body comes one byte every 0.2 s, forever."""
    if not conn.head(200, {"Content-Type": "image/png", "Content-Length": "100000"}):
        return
    while conn.send(b"\0") and conn.idle(0.2):
        pass


def redirect_loop(conn: Conn) -> None:
    conn.reply(302, b"", {"Location": conn.path})


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header(width: int, height: int) -> bytes:
    """A PNG claiming ``width`` x ``height``: signature, IHDR, a tiny IDAT, IEND (no real pixels)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", b"x" * 10) + _chunk(b"IEND", b"")


def static(status: int, body: bytes, headers: dict[str, str] | None = None) -> Behaviour:
    def behave(conn: Conn) -> None:
        conn.reply(status, body, headers)

    return behave


def json_reply(status: int, body: Any, headers: dict[str, str] | None = None) -> Behaviour:
    return static(status, json.dumps(body).encode(), {"Content-Type": "application/json", **(headers or {})})
