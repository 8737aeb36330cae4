"""The model registry: every model id of the package, and lazy import of one model's module."""

from __future__ import annotations

import difflib
from functools import cache
from importlib import import_module
from types import ModuleType
from typing import Any, cast

from ._base import RunComfyInput


@cache
def _catalog() -> dict[str, str]:
    catalog = import_module(f"{__package__}.catalog")
    return cast("dict[str, str]", catalog.MODELS)


def models() -> tuple[str, ...]:
    """Every model id this package has a client for, sorted."""
    return tuple(_catalog())


def get(model_id: str) -> ModuleType:
    """The module of one model (``MODEL_ID``, ``Input``, ``Output``), imported on first use."""
    catalog = _catalog()
    try:
        module = catalog[model_id]
    except KeyError:
        close = difflib.get_close_matches(str(model_id), catalog, n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise KeyError(f"unknown model id {model_id!r}{hint}") from None
    return import_module(f"{__package__}.catalog.{module}")


def input_class(model_id: str) -> type[RunComfyInput]:
    """The ``Input`` class of a model id."""
    return cast("type[RunComfyInput]", get(model_id).Input)


def validate_input(model_id: str, payload: Any) -> RunComfyInput:
    """Validate a JSON payload for a model id with its generated ``Input``."""
    return input_class(model_id).model_validate(payload)
