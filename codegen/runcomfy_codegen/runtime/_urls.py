"""URL paths of the RunComfy Model API."""

from __future__ import annotations

from urllib.parse import quote

DEFAULT_BASE_URL = "https://model-api.runcomfy.net"


def model_path(model_id: str) -> str:
    """The model id as a URL path, each segment percent-encoded (``Hailuo Video`` → ``Hailuo%20Video``)."""
    return "/".join(quote(segment, safe="") for segment in model_id.split("/"))


def submit_path(model_id: str) -> str:
    return f"/v1/models/{model_path(model_id)}"


MAX_REQUEST_ID = 256


def is_request_id(value: object) -> bool:
    """A usable request id: 1-256 printable ASCII characters without spaces, not ``.`` or ``..``
    (which a URL would read as a path step)."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_REQUEST_ID
        and all("\x21" <= c <= "\x7e" for c in value)
        and value not in (".", "..")
    )


def request_path(request_id: str, action: str) -> str:
    """``/v1/requests/<id>/<action>``; ``ValueError`` for an id that is not usable (empty, blank ...),
    so no request goes to ``/v1/requests//status``."""
    if not is_request_id(request_id):
        shown = repr(request_id[:60]) if isinstance(request_id, str) else type(request_id).__name__
        raise ValueError(
            f"request_id {shown} is not a request id (1-{MAX_REQUEST_ID} printable characters, no spaces)"
        )
    return f"/v1/requests/{quote(request_id, safe='')}/{action}"


def redact_url(value: str, limit: int = 120) -> str:
    """A URL as it may appear in a message or log: no credentials, no query string, no fragment.

    ``https://user:pass@cdn.example/a.png?token=x#f`` → ``https://***@cdn.example/a.png?***``;
    a ``data:`` URI shows only its media type and length. Anything else is cut to ``limit``.
    """
    if value[:5].lower() == "data:":
        header = value[5:].partition(",")[0][:60]
        return f"data:{header},... ({len(value)} chars)"
    value = value.partition("#")[0]
    value, question, _query = value.partition("?")
    scheme, sep, rest = value.partition("://")
    if sep:
        authority, slash, path = rest.partition("/")
        if "@" in authority:
            authority = "***@" + authority.rpartition("@")[2]
        value = f"{scheme}{sep}{authority}{slash}{path}"
    value += "?***" if question else ""
    return value if len(value) <= limit else value[: limit - 3] + "..."


def is_http_url(value: str) -> bool:
    """``http://`` or ``https://`` with a host: the only URLs the client reads or downloads."""
    scheme, sep, rest = value.partition("://")
    return (
        bool(sep) and scheme.lower() in ("http", "https") and bool(rest.split("/", 1)[0].rpartition("@")[2])
    )


def download_url(value: str) -> str:
    """``value`` if an output file may be downloaded from it; an output URL with another scheme
    (``javascript:``, ``file:``, ``ftp:`` …) is refused as a malformed reply, never opened."""
    from ._exceptions import APIResponseValidationError

    if not is_http_url(value):
        raise APIResponseValidationError(
            f"the output URL {redact_url(value)!r} is not an http(s) URL, so it is not downloaded"
        )
    return value
