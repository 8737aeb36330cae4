"""``run --output-dir DIR``: download a finished job's output files.

Every http(s) URL in the output (a field's value, or the items of a list field) is fetched into
DIR under a name made here, never taken from the server: ``<field><ext>``, or ``<field>-<i><ext>``
for list items, the extension taken from the URL's path when it is short and alphanumeric
(``.bin`` otherwise). Each file streams into a temporary file beside its target and is renamed
into place only when complete, so DIR never holds a partial file. The API token is never sent:
output files live on media hosts, fetched with a client that has no credentials. Each download has
a size cap and a deadline.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

MAX_BYTES = 4 * 1024**3  # 4 GiB per file
DEADLINE = 600.0  # seconds per file
_EXT = re.compile(r"\.[A-Za-z0-9]{1,5}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class DownloadError(Exception):
    """An output file could not be fetched (the message names the field and URL)."""


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and urlsplit(value).scheme in ("http", "https")


def targets(output: dict[str, Any]) -> list[tuple[str, int | None, str]]:
    """(field, index in a list or None, URL) of every downloadable value, in output order."""
    found: list[tuple[str, int | None, str]] = []
    for field, value in output.items():
        if _is_url(value):
            found.append((field, None, value))
        elif isinstance(value, list):
            found.extend((field, i, item) for i, item in enumerate(value) if _is_url(item))
    return found


def file_name(field: str, index: int | None, url: str) -> str:
    match = _EXT.search(urlsplit(url).path)
    ext = match.group(0).lower() if match else ".bin"
    stem = _UNSAFE.sub("_", field).strip("._") or "output"
    return f"{stem}{'' if index is None else f'-{index}'}{ext}"


def _shown(url: str) -> str:
    """The URL without query string or credentials (signed URLs carry secrets there)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{parts.path}"


def download_outputs(output: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Fetch every output URL into ``folder``; returns ``{field: path or [paths]}`` (str paths)."""
    import httpx

    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, Any] = {}
    timeout = httpx.Timeout(30.0)
    with httpx.Client(timeout=timeout, follow_redirects=True, trust_env=True) as http:
        for field, index, url in targets(output):
            path = folder / file_name(field, index, url)
            _fetch(http, url, path, field)
            if index is None:
                files[field] = str(path)
            else:
                files.setdefault(field, []).append(str(path))
    return files


def _fetch(http: Any, url: str, path: Path, field: str) -> None:
    import httpx

    deadline = time.monotonic() + DEADLINE
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.part")  # beside it, so the rename is atomic
    try:
        with open(temp, "xb") as out, http.stream("GET", url) as reply:
            if reply.status_code != 200:
                raise DownloadError(f"{field}: {_shown(url)}: HTTP {reply.status_code}")
            size = 0
            for chunk in reply.iter_bytes(1 << 16):
                size += len(chunk)
                if size > MAX_BYTES:
                    raise DownloadError(f"{field}: {_shown(url)}: larger than {MAX_BYTES} bytes")
                if time.monotonic() > deadline:
                    raise DownloadError(f"{field}: {_shown(url)}: not complete within {DEADLINE:g} s")
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except httpx.HTTPError as exc:
        raise DownloadError(f"{field}: {_shown(url)}: {type(exc).__name__}: {exc}") from None
    except OSError as exc:
        raise DownloadError(f"{field}: cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
