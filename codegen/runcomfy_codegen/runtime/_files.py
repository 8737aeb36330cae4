"""Local files as media inputs: a media field of an ``Input`` also takes a ``pathlib.Path``.

Building the ``Input`` does no I/O (the path is kept as given). At submit, before anything is sent,
the client reads each file (at most :data:`MAX_FILE_BYTES`, 6 MiB, per file and
:data:`MAX_REQUEST_BYTES`, 64 MiB, for the whole request body, unless the client is configured
otherwise), turns it into a ``data:`` URI with the file's media type, and checks the schema's custom
media rules on those bytes (locally: a ``data:`` URI is measured without the network). A missing or
unreadable file, a file over a cap or a rule broken: an error naming the field and the path, and
nothing is submitted.

``data:`` URIs are what RunComfy's own ComfyUI nodes send to this API (each image capped around
6 MiB, the request at 64 MiB); RunComfy's API documentation does not promise them.
"""

from __future__ import annotations

import base64
from pathlib import PurePath
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema

from ._exceptions import RunComfyError

if TYPE_CHECKING:
    from ._base import RunComfyInput

MAX_FILE_BYTES = 6 * 1024**2
"""Largest local file sent as a ``data:`` URI (bytes), unless the client says otherwise."""
MAX_REQUEST_BYTES = 64 * 1024**2
"""Largest request body with local files in it (bytes), unless the client says otherwise."""

# Media types by leading bytes, for files whose name says nothing (the extension wins otherwise).
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"RIFF", "audio/wav"),
    (b"\x1aE\xdf\xa3", "video/webm"),
    (b"ID3", "audio/mpeg"),
    (b"fLaC", "audio/flac"),
    (b"OggS", "audio/ogg"),
)


class LocalFileError(RunComfyError):
    """A local file given for a media input cannot be sent: missing, unreadable or over a cap."""


def _refuse_path_in_json(value: Any) -> Any:
    if not isinstance(value, PurePath):
        return value
    raise ValueError(
        f"the local file {str(value)!r} is sent by Client.submit/run (as a data: URI); "
        "to_payload() has no URL for it"
    )


class _StrOrPath:
    """Validation of a media input: a string (as before, all in pydantic-core: no Python call per
    value), or a ``pathlib.PurePath`` kept as given. A path has no JSON form: ``to_payload()`` refuses
    it (the client replaces it with a ``data:`` URI first); the JSON Schema says ``string``."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        path = core_schema.is_instance_schema(PurePath)
        return core_schema.json_or_python_schema(
            serialization=core_schema.plain_serializer_function_ser_schema(
                _refuse_path_in_json, when_used="json"
            ),
            json_schema=core_schema.str_schema(),
            python_schema=core_schema.union_schema(
                [core_schema.str_schema(), path],
                custom_error_type="string_type",  # one error, worded as for a str field
            ),
        )


if TYPE_CHECKING:
    MediaInput = str | PurePath
else:
    MediaInput = Annotated[str, _StrOrPath()]
"""A media input: a URL (``str``), or a local file (``pathlib.Path``) the client sends as a ``data:`` URI."""


def media_type(path: PurePath, head: bytes) -> str:
    """The file's media type: from its leading bytes when they say, else from its name."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            if kind == "audio/wav" and head[8:12] == b"AVI ":
                return "video/x-msvideo"
            return kind
    if head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:10] == b"qt" else "video/mp4"
    import mimetypes

    guessed = mimetypes.guess_type(path.name)[0]
    return guessed or "application/octet-stream"


def _read(path: PurePath, where: str, cap: int) -> bytes:
    try:
        with open(path, "rb") as handle:
            data = handle.read(cap + 1)
    except FileNotFoundError:
        raise LocalFileError(f"{where}: {str(path)!r}: no such file; nothing was submitted") from None
    except IsADirectoryError:
        raise LocalFileError(
            f"{where}: {str(path)!r} is a folder, not a file; nothing was submitted"
        ) from None
    except OSError as exc:
        raise LocalFileError(
            f"{where}: {str(path)!r} cannot be read ({exc.strerror or exc}); nothing was submitted"
        ) from None
    if len(data) > cap:
        raise LocalFileError(
            f"{where}: {str(path)!r} is larger than {cap} bytes, the cap for a local file sent as a data: URI "
            "(upload it and give its URL, or raise max_file_bytes); nothing was submitted"
        )
    return data


def data_uri(path: PurePath, where: str = "file", cap: int = MAX_FILE_BYTES) -> str:
    """The file at ``path`` as a ``data:<media type>;base64,...`` URI (at most ``cap`` bytes)."""
    data = _read(path, where, cap)
    return f"data:{media_type(path, data[:16])};base64,{base64.b64encode(data).decode('ascii')}"


def has_local_files(model: RunComfyInput[Any]) -> bool:
    for name in model.model_fields_set:
        value = getattr(model, name, None)
        if isinstance(value, PurePath) or (
            isinstance(value, list) and any(isinstance(v, PurePath) for v in value)
        ):
            return True
    return False


def with_local_files(
    model: RunComfyInput[Any],
    *,
    max_file_bytes: int = MAX_FILE_BYTES,
    max_request_bytes: int = MAX_REQUEST_BYTES,
) -> RunComfyInput[Any]:
    """``model`` with every local file read into a ``data:`` URI (``model`` itself when it has none).

    Raises :class:`LocalFileError` naming the field and path; nothing is sent by the caller then."""
    if not has_local_files(model):
        return model
    fields = type(model).model_fields
    update: dict[str, Any] = {}
    for name in model.model_fields_set:
        value = getattr(model, name, None)
        label = model.runcomfy_model_id + ": " + (fields[name].alias or name if name in fields else name)
        if isinstance(value, PurePath):
            update[name] = data_uri(value, label, max_file_bytes)
        elif isinstance(value, list) and any(isinstance(v, PurePath) for v in value):
            update[name] = [
                data_uri(v, f"{label}[{i}]", max_file_bytes) if isinstance(v, PurePath) else v
                for i, v in enumerate(value)
            ]
    import json

    resolved = model.model_copy(update=update)
    size = len(json.dumps(resolved.to_payload(), ensure_ascii=False).encode())
    if size > max_request_bytes:
        raise LocalFileError(
            f"{model.runcomfy_model_id}: the request with its local files is {size} bytes, over the cap of "
            f"{max_request_bytes} (upload the files and give their URLs, or raise max_request_bytes); "
            "nothing was submitted"
        )
    return resolved
