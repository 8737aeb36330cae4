"""The mock server: HTTP routing, auth, validation, outputs, media and injected faults."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

from runcomfy_codegen.mock.docs import DocPages
from runcomfy_codegen.mock.faults import Fault, FaultQueue
from runcomfy_codegen.mock.jobs import JobStore, MockJob
from runcomfy_codegen.mock.media import make_png, make_video

DEFAULT_TOKEN = "mock-token"
_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")
MAX_BODY_BYTES = 128 * 1024 * 1024
"""Request bodies over this are refused with 413 before a byte of them is read (room for a
data: URI at the client's 64 Mi-character cap)."""


def _example_output(output_class: Any, media_base: str) -> dict[str, Any]:
    """An ``output`` object that satisfies the model's ``Output``: media fields point at our media."""
    schema = output_class.model_json_schema(by_alias=True)
    result: dict[str, Any] = {}
    for name, outer in schema.get("properties", {}).items():
        spec = next((s for s in outer.get("anyOf", [outer]) if s.get("type") != "null"), outer)
        kind = "mp4" if "video" in name.lower() else "png"
        url = f"{media_base}/output.{kind}"
        fmt = str(outer.get("format") or spec.get("format") or "")
        if spec.get("type") == "string":
            result[name] = url if fmt.endswith(("uri", "url")) or "url" in name else "text"
        elif spec.get("type") == "array" and spec.get("items", {}).get("type") == "string":
            result[name] = [url]
    try:
        output_class.model_validate(result)
    except Exception:  # a model whose output we cannot fake: an empty (still valid) object
        result = {}
    return result


UNTYPED_PREFIX = "mock/"
"""Model ids under ``mock/`` that are not in the catalog are served untyped (any input, echoed back):
what a model the client has no schema for looks like."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # socketserver's default of 5 drops bursts of connections
    mock: MockServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet; requests are in mock.requests
        return

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm and delayed
        # ACKs add ~40 ms to every keep-alive reply.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    # Replies ----------------------------------------------------------------------------------
    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self._answered = True
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.server.mock.log(self.command, self.path, status)  # before the reply: the client may act on it
        if self.command != "HEAD":
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(body).encode(), "application/json", headers)

    def _error(self, status: int, message: str, error_code: int | None = None, **extra: Any) -> None:
        body: dict[str, Any] = {"message": message, **extra}
        if error_code is not None:
            body["error_code"] = error_code
        self._json(status, body)

    # Routing ----------------------------------------------------------------------------------
    def _refuse(self, status: int, message: str) -> None:
        """Answer and close without reading the body: drain briefly so the client sees the reply."""
        self.close_connection = True
        self._send(
            status, json.dumps({"message": message}).encode(), "application/json", {"Connection": "close"}
        )
        with contextlib.suppress(OSError):
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(1.0)
            for _ in range(64):  # at most 4 MiB or 1 s of the unread body
                if not self.connection.recv(65536):
                    break

    def _authorized(self) -> bool:
        return self.headers.get("Authorization") == f"Bearer {self.server.mock.token}"

    def _body(self) -> bytes | None:
        """The request body, or ``None`` after answering 400/411/413 (nothing read past the cap)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._refuse(411, "a request body needs a Content-Length")
            return None
        lengths = {v.strip() for v in self.headers.get_all("Content-Length") or []}
        if len(lengths) > 1:
            self._refuse(400, "conflicting Content-Length headers")
            return None
        text = lengths.pop() if lengths else "0"
        if not text.isdigit():
            self._refuse(400, f"malformed Content-Length {text[:40]!r}")
            return None
        length = int(text)
        if length > MAX_BODY_BYTES:
            self._refuse(413, f"request body of {length} bytes is over the limit of {MAX_BODY_BYTES}")
            return None
        return self.rfile.read(length) if length else b""

    def _dispatch(self, method: str) -> None:
        try:
            self._route(method)
        except Exception as exc:  # a bug or a request the routes did not expect: answer, never drop
            if not getattr(self, "_answered", False):
                with contextlib.suppress(OSError):
                    self._error(500, f"mock server error: {type(exc).__name__}")
            self.close_connection = True

    def _route(self, method: str) -> None:
        self._answered = False
        mock = self.server.mock
        mock.receive(method, self.path)
        path = urlsplit(self.path).path
        has_body = self.headers.get("Content-Length", "0").strip() not in ("", "0")
        if has_body and path.startswith("/v1/") and not self._authorized():
            self._refuse(401, "missing or invalid bearer token")  # without reading the body
            return
        raw = self._body()
        if raw is None:
            return
        try:
            fault = self._fault(method, path)
        except ValueError as exc:
            self._error(400, f"bad X-Mock-Fault header: {exc}")
            return
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.seconds)
            fault = None
        if fault is not None and self._apply_fault(fault):
            return
        if path.startswith("/media/"):
            self._media(path[len("/media/") :], urlsplit(self.path).query)
            return
        page = mock.docs.respond(
            method, self.path, self.headers.get("Accept", ""), self.headers.get("User-Agent", "")
        )
        if page is not None:  # model API doc pages (mock/docs.py)
            self._send(*page)
            return
        if not path.startswith("/v1/"):
            self._error(404, f"no route {method} {path}")
            return
        if not self._authorized():
            self._error(401, "missing or invalid bearer token")
            return
        parts = path.split("/")
        if method == "POST" and path.startswith("/v1/models/"):
            self._submit(unquote(path[len("/v1/models/") :]), raw, failed=fault is not None)
        elif method == "GET" and path.startswith("/v1/models/"):
            self._model_info(unquote(path[len("/v1/models/") :]))
        elif len(parts) == 5 and parts[2] == "requests":
            self._request(method, unquote(parts[3]), parts[4])
        else:
            self._error(404, f"no route {method} {path}", 404001)

    def _fault(self, method: str, path: str) -> Fault | None:
        header = self.headers.get("X-Mock-Fault")
        if header:
            return Fault.parse(header)
        if path.startswith("/media/"):
            return None
        return self.server.mock.faults.take(method, path)

    def _apply_fault(self, fault: Fault) -> bool:
        """Answer with the fault; False for ``job-failed``, which shapes the job instead."""
        kind = fault.kind
        if kind == "drop":
            self.server.mock.log(self.command, self.path, 0)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return True
        if kind == "429":
            self._json(429, {"message": "rate limited"}, {"Retry-After": fault.retry_after})
        elif kind in ("500", "502", "503"):
            self._error(int(kind), HTTPStatus(int(kind)).phrase)
        elif kind == "malformed":
            self._send(200, b"{not json", "application/json")
        elif kind == "error-200":
            self._json(200, {"error_code": 400002, "message": "insufficient balance"})
        else:
            return False
        return True

    def _media(self, name: str, query: str) -> None:
        _stem, _, extension = name.rpartition(".")
        if extension == "png":
            data = make_png()
        elif extension in ("mp4", "mov", "webm"):
            data = make_video(container=extension)
        else:
            self._error(404, f"no media {name}")
            return
        match = _RANGE.match(self.headers.get("Range", ""))
        if match is None or "norange" in query:
            self._send(200, data, f"{'image' if extension == 'png' else 'video'}/{extension}")
            self.server.mock.media_bytes += 0 if self.command == "HEAD" else len(data)
            return
        start = int(match.group(1) or 0)
        end = min(int(match.group(2)) if match.group(2) else len(data) - 1, len(data) - 1)
        if start >= len(data):
            self._send(416, b"", "text/plain", {"Content-Range": f"bytes */{len(data)}"})
            return
        chunk = data[start : end + 1]
        self.server.mock.media_bytes += len(chunk)
        self._send(
            206, chunk, "application/octet-stream", {"Content-Range": f"bytes {start}-{end}/{len(data)}"}
        )

    # The four endpoints -------------------------------------------------------------------------
    def _submit(self, model_id: str, raw: bytes, failed: bool) -> None:
        mock = self.server.mock
        try:
            import runcomfy_models

            module = runcomfy_models.get(model_id)
        except KeyError:
            if model_id.startswith(UNTYPED_PREFIX):  # a model the client has no schema for
                self._submit_untyped(model_id, raw)
                return
            self._error(404, f"model {model_id!r} not found", 404001)
            return
        try:
            payload = json.loads(raw or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            self._error(400, f"body is not JSON: {exc}")
            return
        except RecursionError:
            self._error(400, "body is not JSON this server reads: nested too deeply")
            return
        from pydantic import ValidationError

        try:
            model = module.Input.model_validate(payload)
        except ValidationError as exc:
            detail = [
                {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
                for e in exc.errors(include_url=False)
            ]
            self._error(422, "invalid input", detail=detail)
            return
        error = {"message": "job failed (injected by the mock server)"} if failed else mock.media_error(model)
        job = mock.jobs.create(model_id, payload, error)
        job.output = _example_output(module.Output, f"{mock.base_url}/media/{job.request_id}")
        self._json(200, mock.urls(job))

    def _submit_untyped(self, model_id: str, raw: bytes) -> None:
        """``mock/<anything>``: any JSON object is accepted; the output echoes it beside a media URL."""
        mock = self.server.mock
        try:
            payload = json.loads(raw or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            self._error(400, "body is not JSON")
            return
        if not isinstance(payload, dict):
            self._error(422, "invalid input: the body must be a JSON object")
            return
        job = mock.jobs.create(model_id, payload, None)
        job.output = {"image": f"{mock.base_url}/media/{job.request_id}/output.png", "echo": payload}
        self._json(200, mock.urls(job))

    def _model_info(self, model_id: str) -> None:
        """``GET /v1/models/{model_id}``: the model and its ``base_price_usd`` (what one job costs here)."""
        import runcomfy_models

        if model_id not in runcomfy_models.models():
            self._error(404, f"model {model_id!r} not found", 404001)
            return
        self._json(200, {"model_id": model_id, "base_price_usd": self.server.mock.price(model_id)})

    def _request(self, method: str, request_id: str, action: str) -> None:
        mock = self.server.mock
        job = mock.jobs.get(request_id)
        if job is None:
            self._error(404, f"request {request_id!r} not found or expired", 404001)
            return
        status, position = mock.jobs.state(job)
        if method == "GET" and action == "status":
            body: dict[str, Any] = {"request_id": job.request_id, "status": status}
            if position is not None:
                body["queue_position"] = position
            urls = mock.urls(job)
            body.update(status_url=urls["status_url"], result_url=urls["result_url"])
            self._json(200, body)
        elif method == "GET" and action == "result":
            body = {
                "request_id": job.request_id,
                "status": "succeeded" if status == "completed" else status,
                "created_at": mock.jobs.created_at(job),
                "finished_at": mock.jobs.finished_at(job),
            }
            if status == "completed":
                body["output"] = job.output
            elif status == "failed":
                body["error"] = job.error
            if "include_cost=true" in urlsplit(self.path).query and status in ("completed", "failed"):
                body["cost"] = mock.price(job.model_id) if status == "completed" else 0.0
            self._json(200, body)
        elif method == "POST" and action == "cancel":
            after, outcome = mock.jobs.cancel(job)
            self._json(202, {"request_id": job.request_id, "status": after, "outcome": outcome})
        else:
            self._error(404, f"no route {method} /v1/requests/{{id}}/{action}", 404001)


class MockServer:
    """The mock RunComfy Model API on ``host`` (127.0.0.1) and a free port, in a background thread."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str = DEFAULT_TOKEN,
        queue_seconds: float = 0.2,
        run_seconds: float = 0.3,
        check_media: bool = True,
        schemas: str | Path = "schemas",
        drift: Mapping[str, str] | None = None,
        base_price_usd: float = 0.05,
    ) -> None:
        self.token = token
        self.docs = DocPages(Path(schemas), lambda: self.base_url)
        """Doc pages of the ``schemas`` store; ``drift`` maps model ids to a drift kind (see mock/docs.py)."""
        self.base_price_usd = base_price_usd
        self.prices: dict[str, float] = {}
        """Per-model prices (USD per job) overriding ``base_price_usd``."""
        self.jobs = JobStore(queue_seconds, run_seconds)
        self.faults = FaultQueue()
        self.check_media_rules = check_media
        self.requests: list[tuple[str, str, int]] = []
        """(method, path, status) of every reply sent (0: the connection was dropped)."""
        self.received: list[tuple[str, str]] = []
        """(method, path) of every request, logged on arrival (before any injected delay)."""
        self.media_bytes = 0
        self._lock = threading.Lock()
        self._httpd = _Server((host, port), _Handler)
        self._httpd.mock = self
        self._thread: threading.Thread | None = None
        self._media_prober: Any = None
        self._media_http: Any = None
        for model_id, kind in (drift or {}).items():
            self.docs.drift(model_id, kind)

    def __repr__(self) -> str:
        return f"MockServer(base_url={self.base_url!r}, token='***')"

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        host = host if isinstance(host, str) else host.decode()
        return f"http://{host}:{port}"

    def price(self, model_id: str) -> float:
        return self.prices.get(model_id, self.base_price_usd)

    def inject(self, fault: Fault) -> None:
        self.faults.add(fault)

    def log(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.requests.append((method, path, status))

    def receive(self, method: str, path: str) -> None:
        with self._lock:
            self.received.append((method, path))

    def count(self, method: str, path_part: str) -> int:
        """Requests received so far with this method and path fragment."""
        with self._lock:
            return sum(1 for m, p in self.received if m == method and path_part in p)

    def urls(self, job: MockJob) -> dict[str, str]:
        base = f"{self.base_url}/v1/requests/{job.request_id}"
        return {
            "request_id": job.request_id,
            "status_url": f"{base}/status",
            "result_url": f"{base}/result",
            "cancel_url": f"{base}/cancel",
        }

    def media_error(self, model: Any) -> dict[str, Any] | None:
        """The service checks custom rules after the submit: a violation makes the job fail."""
        if not self.check_media_rules or not model.runcomfy_media_rules:
            return None
        payload = model.to_payload()
        local = [
            rule.field
            for rule in model.runcomfy_media_rules
            if any(f"//{host}" in str(payload.get(rule.field, "")) for host in _LOCAL_HOSTS)
        ]
        if not local:
            return None  # only media it can reach on this machine
        from runcomfy_models import MediaProbeError

        try:
            violations = self._prober().check(model)
        except MediaProbeError as exc:
            return {"message": f"cannot read media: {exc.message}"}
        if not violations:
            return None
        return {
            "message": violations[0].message,
            "detail": [
                {"field": v.field, "index": v.index, "rule": v.rule, "value": v.value, "measured": v.measured}
                for v in violations
            ],
        }

    def _prober(self) -> Any:
        """One prober (and its probe cache) for the server's life, as a real service would cache."""
        with self._lock:
            if self._media_prober is None:
                import httpx

                from runcomfy_models._media import MediaProber

                self._media_http = httpx.Client()
                self._media_prober = MediaProber(self._media_http)
            return self._media_prober

    def start(self) -> MockServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="mock-runcomfy",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever(poll_interval=0.05)

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._media_http is not None:
            self._media_http.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
