"""Fetching RunComfy model API doc pages over http(s), for ``import URL`` and ``sync``.

One :class:`Fetcher` owns an ``httpx.Client`` and every rule about reading a page:

* a User-Agent naming the tool and its version (``runcomfy-codegen/0.1.0 …``);
* timeouts per phase (connect, read) and one overall deadline per page, retries included;
* a size cap: a page larger than ``max_bytes`` is refused while it streams, never read whole;
* retries with exponential backoff and full jitter on 408/425/429/5xx and on transport errors
  (connection refused or dropped, timeouts), honouring ``Retry-After`` (seconds or an HTTP date)
  up to ``max_retry_after``; a wait that would pass the page's deadline is not started;
* redirects followed by hand (at most ``max_redirects``), each hop checked: http(s) only, and a
  redirect to a login page is an error naming both URLs (the page is not public any more);
* a page that is not 200 is an error naming the URL and the status.

Every error is a :class:`FetchError` whose message starts with the URL asked for.
"""

from __future__ import annotations

import email.utils
import os
import random
import re
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING
from urllib.parse import quote, urljoin, urlsplit

from runcomfy_codegen import __version__
from runcomfy_codegen._errors import CodegenError, SourceError

if TYPE_CHECKING:
    import httpx

DEFAULT_DOCS_URL = "https://www.runcomfy.com/models/{model_id}/api"
DOCS_URL_ENV = "RUNCOMFY_DOCS_URL"
USER_AGENT = f"runcomfy-codegen/{__version__} (+https://github.com/runcomfy-codegen; schema sync)"
ACCEPT = "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.5"

_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_REDIRECT_STATUS = frozenset({301, 302, 303, 307, 308})
# A redirect whose target path has one of these segments sends the reader to sign in.
_LOGIN_PATH = re.compile(
    r"(?:^|/)(?:log-?in|sign-?in|sign_in|signon|sso|oauth2?|auth|authorize|session|sessions)(?:[./]|$)",
    re.IGNORECASE,
)


class FetchError(SourceError):
    """A page that could not be fetched: the message starts with the URL and says why."""


def is_url(text: str) -> bool:
    return text[:8].lower().startswith(("http://", "https://"))


def docs_url(model_id: str, template: str | None = None) -> str:
    """The doc page URL of a model: ``template`` (else ``$RUNCOMFY_DOCS_URL``, else RunComfy's own)
    with ``{model_id}`` replaced by the id (each segment percent-encoded, slashes kept)."""
    template = template or os.environ.get(DOCS_URL_ENV) or DEFAULT_DOCS_URL
    check_docs_template(template)
    return template.replace("{model_id}", quote(model_id, safe="/"))


def check_docs_template(template: str) -> None:
    if "{model_id}" not in template:
        raise CodegenError(f"{DOCS_URL_ENV}={template!r}: the URL template needs a {{model_id}} placeholder")
    if not is_url(template):
        raise CodegenError(
            f"{DOCS_URL_ENV}={template!r}: the URL template must start with http:// or https://"
        )


def is_login_url(url: str) -> bool:
    """A sign-in page's URL (``/login``, ``/u/sign-in``, ``/oauth/…``); never a model doc page's."""
    from runcomfy_codegen.docpage import model_id_from_docs_url

    if model_id_from_docs_url(url) is not None:
        return False
    return _LOGIN_PATH.search(urlsplit(url).path) is not None


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from now: a number of seconds or an HTTP date; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class Page:
    url: str
    """The URL asked for."""
    final_url: str
    """Where the page was found, after redirects."""
    text: str
    content_type: str
    attempts: int = 1


class Fetcher:
    """Reads doc pages; thread-safe (one client, shared by ``sync``'s worker threads)."""

    def __init__(
        self,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        deadline: float = 120.0,
        max_bytes: int = 8 * 1024 * 1024,
        max_retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        max_retry_after: float = 60.0,
        max_redirects: int = 5,
        max_connections: int = 8,
        http_client: httpx.Client | None = None,
    ) -> None:
        import httpx

        self.deadline = deadline
        self.max_bytes = max_bytes
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self.max_redirects = max_redirects
        self._owns_client = http_client is None
        self._http = http_client or httpx.Client(
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            follow_redirects=False,
            trust_env=True,
        )
        self._random = random.Random()
        self._lock = threading.Lock()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_client:
            self._http.close()

    # One page ---------------------------------------------------------------------------------
    def get(self, url: str) -> Page:
        """The page at ``url`` (redirects followed and checked, retried within the deadline)."""
        import httpx

        if not is_url(url):
            raise FetchError(f"{url}: not an http(s) URL")
        deadline = time.monotonic() + self.deadline
        attempt = 0
        while True:
            attempt += 1
            try:
                status, final_url, headers, body = self._get_following_redirects(url, deadline)
            except httpx.TransportError as exc:  # refused, dropped, timed out: worth another try
                self._wait_or_give_up(url, attempt, deadline, None, _describe(exc))
                continue
            except (httpx.HTTPError, httpx.InvalidURL) as exc:  # e.g. a body that does not decode
                raise FetchError(f"{url}: {_describe(exc)}") from None
            if status == 200:
                content_type = headers.get("content-type", "")
                return Page(url, final_url, _decode(url, body, content_type), content_type, attempt)
            reason = f"HTTP {status} {_phrase(status)}".rstrip() + (
                f" at {final_url}" if final_url != url else ""
            )
            if status not in _RETRY_STATUS:
                if status in (401, 403):
                    reason += " (the page needs a login)"
                raise FetchError(f"{url}: {reason}")
            self._wait_or_give_up(url, attempt, deadline, headers.get("retry-after"), reason)

    def _wait_or_give_up(
        self, url: str, attempt: int, deadline: float, retry_after: str | None, reason: str
    ) -> None:
        if attempt > self.max_retries:
            raise FetchError(f"{url}: {reason} (gave up after {attempt} attempts)")
        with self._lock:
            jitter = self._random.random()
        wait = jitter * min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        asked = retry_after_seconds(retry_after)
        if asked is not None:
            if asked > self.max_retry_after:
                raise FetchError(
                    f"{url}: {reason}; Retry-After {asked:.0f} s is longer than the "
                    f"{self.max_retry_after:.0f} s this tool waits"
                )
            wait = max(wait, asked)
        if time.monotonic() + wait >= deadline:
            raise FetchError(f"{url}: {reason} (gave up: the {self.deadline:.0f} s deadline would pass)")
        time.sleep(wait)

    def _get_following_redirects(self, url: str, deadline: float) -> tuple[int, str, httpx.Headers, bytes]:
        current = url
        for _hop in range(self.max_redirects + 1):
            status, headers, body = self._get_once(url, current, deadline)
            if status not in _REDIRECT_STATUS:
                return status, current, headers, body
            location = headers.get("location")
            if not location:
                raise FetchError(f"{url}: HTTP {status} redirect without a Location header at {current}")
            target = urljoin(current, location)
            if not is_url(target):
                raise FetchError(f"{url}: redirected to a non-http(s) URL {target!r}")
            if is_login_url(target):
                raise FetchError(f"{url}: redirected to a login page ({target}); the page is not public")
            current = target
        raise FetchError(f"{url}: more than {self.max_redirects} redirects (last: {current})")

    def _get_once(self, url: str, current: str, deadline: float) -> tuple[int, httpx.Headers, bytes]:
        import httpx

        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError(f"{url}: the page did not arrive within the {self.deadline:.0f} s deadline")
        configured = self._http.timeout
        timeout = httpx.Timeout(
            min(configured.read or remaining, remaining),
            connect=min(configured.connect or remaining, remaining),
        )
        headers = {"User-Agent": USER_AGENT, "Accept": ACCEPT}
        with self._http.stream("GET", current, headers=headers, timeout=timeout) as response:
            if response.status_code != 200:
                # Error and redirect bodies are not needed: read at most a little to free the connection.
                _read_capped(response, 64 * 1024, deadline, url, keep=False)
                return response.status_code, response.headers, b""
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise FetchError(
                    f"{url}: the page is {int(declared):,} bytes, more than the {self.max_bytes:,}-byte cap"
                )
            return 200, response.headers, _read_capped(response, self.max_bytes, deadline, url)


def _read_capped(response: httpx.Response, cap: int, deadline: float, url: str, keep: bool = True) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > cap:
            if not keep:
                break
            raise FetchError(f"{url}: the page is larger than the {cap:,}-byte cap")
        if keep:
            chunks.append(chunk)
        if time.monotonic() > deadline:
            raise FetchError(f"{url}: the page did not arrive within the deadline ({size:,} bytes read)")
    return b"".join(chunks)


def _decode(url: str, body: bytes, content_type: str) -> str:
    charset = "utf-8"
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip("\"'")
    try:
        text = body.decode(charset)
    except LookupError:
        raise FetchError(f"{url}: unknown charset {charset!r} in Content-Type") from None
    except UnicodeDecodeError as exc:
        raise FetchError(
            f"{url}: the page is not valid {charset} text: {exc.reason} at byte {exc.start}"
        ) from None
    return text.removeprefix("\ufeff")


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
