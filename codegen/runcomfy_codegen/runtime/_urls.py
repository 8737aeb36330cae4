"""URL paths of the RunComfy Model API."""

from __future__ import annotations

from urllib.parse import quote

DEFAULT_BASE_URL = "https://model-api.runcomfy.net"


def model_path(model_id: str) -> str:
    """The model id as a URL path, each segment percent-encoded (``Hailuo Video`` → ``Hailuo%20Video``)."""
    return "/".join(quote(segment, safe="") for segment in model_id.split("/"))


def submit_path(model_id: str) -> str:
    return f"/v1/models/{model_path(model_id)}"


def request_path(request_id: str, action: str) -> str:
    return f"/v1/requests/{quote(request_id, safe='')}/{action}"
