"""``run --output-dir DIR``: download a finished job's output files, with a progress bar on stderr.

Every http(s) URL in the output (a field's value, or the items of a list field) is fetched into
DIR under a name made here, never taken from the server: ``<field><ext>``, or ``<field>-<i><ext>``
for list items, the extension taken from the URL's path when it is short and alphanumeric
(``.bin`` otherwise). The transfer itself is the client package's one download implementation
(``runcomfy_models._download``: http(s) only, no API token, a size cap, a deadline, a temporary file
renamed into place when complete, resumed with ``Range`` after a dropped connection). A value that is
a URL of another scheme (``javascript:``, ``file:``, ``data:`` ...) is never opened:
:func:`refused_targets` lists them, and ``run`` says each one and exits 4 (a failed download).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runcomfy_models._download import (
    DEFAULT_MAX_BYTES,
    DEFAULT_TIMEOUT,
    DownloadError,
    download,
    output_file_name,
    output_targets,
    refused_output_urls,
)

MAX_BYTES = DEFAULT_MAX_BYTES  # per file
DEADLINE = DEFAULT_TIMEOUT  # seconds per file

__all__ = [
    "DEADLINE",
    "MAX_BYTES",
    "DownloadError",
    "download_outputs",
    "file_name",
    "refused_targets",
    "targets",
]

# Which values are files and what they are named: the client package's one definition.
targets = output_targets
refused_targets = refused_output_urls
file_name = output_file_name


def download_outputs(output: dict[str, Any], folder: Path, *, progress: bool = False) -> dict[str, Any]:
    """Fetch every output URL into ``folder``; returns ``{field: path or [paths]}`` (str paths).

    With ``progress``, a bar per file on stderr (rich; plain lines when stderr is not a terminal)."""
    import httpx

    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, Any] = {}
    found = targets(output)
    with httpx.Client(follow_redirects=True, trust_env=True) as http, _bars(progress) as bars:
        for field, index, url in found:
            path = folder / file_name(field, index, url)
            if path.is_dir() and not path.is_symlink():  # never "into" it: the name is the file's
                raise DownloadError(f"{field}: {path} is a folder, where the file would go")
            report = None
            if bars is not None:
                task = bars.add_task(path.name, total=None)

                def report(done: int, total: int | None, task: Any = task) -> None:
                    bars.update(task, completed=done, total=total)

            try:
                download(url, path, max_bytes=MAX_BYTES, timeout=DEADLINE, progress=report, http=http)
            except DownloadError as exc:
                raise DownloadError(f"{field}: {exc.message}") from None
            if index is None:
                files[field] = str(path)
            else:
                files.setdefault(field, []).append(str(path))
    return files


class _NoBars:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _bars(enabled: bool) -> Any:
    if not enabled:
        return _NoBars()
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=Console(stderr=True),
        transient=False,
    )
