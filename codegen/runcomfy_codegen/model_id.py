"""Model ids: checking them, mapping them to module names and to request URLs.

A RunComfy model id is a slash-separated path such as ``bytedance/seedance-v1.5-pro/image-to-video``.
Segments are non-empty and made of letters, digits, ``.``, ``_``, ``-`` and inner spaces (real ids
have spaces: ``minimax/Hailuo Video 01 Live``); ``.`` and ``..`` are never segments, and neither is a
segment ending with ``.`` or one Windows reserves as a device (``CON``, ``nul.txt``, ``COM1`` ...), so
every store checks out on every system.

Module rule: each segment is lower-cased, every run of characters outside ``[a-z0-9]`` becomes ``_``,
leading/trailing ``_`` are stripped, a segment starting with a digit gets an ``m`` prefix, and the
segments are joined with ``__``. ``bytedance/seedance-v1.5-pro/image-to-video`` becomes
``bytedance__seedance_v1_5_pro__image_to_video``; its module is
``runcomfy_models.catalog.bytedance__seedance_v1_5_pro__image_to_video``.
"""

from __future__ import annotations

import re

from runcomfy_codegen._errors import ModelIdError

_SEGMENT = re.compile(r"[A-Za-z0-9._-]+(?: +[A-Za-z0-9._-]+)*")
MAX_SEGMENT = 100
"""Bytes in one id segment (a folder name in the store)."""
MAX_MODULE = 200
"""Characters in a module name: ``<module>.py`` and its temporary twins stay under 255 bytes."""
# Names Windows reserves for devices, whatever the extension (``nul.txt`` is the device too).
_WINDOWS_RESERVED = frozenset(
    {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
)
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def check_model_id(model_id: object) -> str:
    """Return ``model_id`` if it is a well-formed RunComfy model id, else raise :class:`ModelIdError`."""
    if not isinstance(model_id, str) or not model_id:
        raise ModelIdError(f"model id {model_id!r}: must be a non-empty string")
    if model_id != model_id.strip():
        raise ModelIdError(f"model id {model_id!r}: leading or trailing whitespace")
    if "\\" in model_id:
        raise ModelIdError(f"model id {model_id!r}: backslash is not allowed")
    if any(ord(c) < 32 or ord(c) == 127 for c in model_id):
        raise ModelIdError(f"model id {model_id!r}: control characters are not allowed")
    if model_id.startswith("/") or model_id.endswith("/"):
        raise ModelIdError(f"model id {model_id!r}: leading or trailing slash")
    for segment in model_id.split("/"):
        if not segment:
            raise ModelIdError(f"model id {model_id!r}: empty segment")
        if segment in (".", ".."):
            raise ModelIdError(f"model id {model_id!r}: segment {segment!r} is not allowed")
        if not _SEGMENT.fullmatch(segment):
            raise ModelIdError(
                f"model id {model_id!r}: segment {segment!r} may hold only letters, digits, '.', '_', '-' "
                "and inner spaces"
            )
        if segment.endswith("."):
            raise ModelIdError(
                f"model id {model_id!r}: segment {segment!r} ends with '.' (not a folder name on Windows)"
            )
        if len(segment.encode("utf-8")) > MAX_SEGMENT:
            raise ModelIdError(f"model id {model_id[:60]!r}...: a segment is longer than {MAX_SEGMENT} bytes")
        if segment.split(".", 1)[0].rstrip().lower() in _WINDOWS_RESERVED:
            raise ModelIdError(
                f"model id {model_id!r}: segment {segment!r} is a device name Windows reserves"
            )
    if len(module_name(model_id)) > MAX_MODULE:
        raise ModelIdError(
            f"model id {model_id[:60]!r}...: its module name would be longer than {MAX_MODULE} characters"
        )
    return model_id


def module_name(model_id: str) -> str:
    """The module name (inside ``runcomfy_models.catalog``) of a checked model id."""
    parts = []
    for segment in model_id.split("/"):
        part = _NON_ALNUM.sub("_", segment.lower()).strip("_") or "x"
        if part[0].isdigit():
            part = "m" + part
        parts.append(part)
    return "__".join(parts)


def catalog_module(model_id: str, taken: dict[str, str]) -> str:
    """The module of a catalog model: a valid id whose module no other id in ``taken`` (module ->
    model id) maps to; recorded in ``taken``. ``generate`` and ``list`` take and refuse the same ids."""
    check_model_id(model_id)
    module = module_name(model_id)
    if module in taken:
        raise ModelIdError(
            f"model ids {taken[module]!r} and {model_id!r} both map to module {module!r}; rename one folder"
        )
    taken[module] = model_id
    return module


def url_path(model_id: str) -> str:
    """The model id as it appears in request URLs: one definition, in the runtime's ``_urls.py``,
    used here from the ``runcomfy_models`` package the generator carries
    (:mod:`runcomfy_codegen.carried`)."""
    from runcomfy_codegen import carried

    carried.load()
    from runcomfy_models._urls import model_path

    return model_path(model_id)
