"""The model registry: every model id of the package, and lazy import of one model's module."""

from __future__ import annotations

import difflib
import threading
import warnings
from collections.abc import Mapping
from functools import cache
from importlib import import_module
from types import ModuleType
from typing import Any, ClassVar, Protocol, TypeVar, cast

from ._base import RunComfyInput, RunComfyOutput, UntypedOutput
from ._rules import MediaRule

InputT_co = TypeVar("InputT_co", bound=RunComfyInput[Any], covariant=True)
OutputT_co = TypeVar("OutputT_co", bound=RunComfyOutput, covariant=True)


class ModelModule(Protocol[InputT_co, OutputT_co]):
    """What ``get("<catalog id>")`` returns, for a type checker: the model module's own names.

    ``catalog/_typed.pyi`` types ``get`` with one overload per catalog id, so
    ``get("...").Input(durration=7)`` is a type error (a misspelt field, a wrong ``Literal``, a
    missing required field), and ``client.run(get("...").Input(...))`` returns that model's ``Output``.
    """

    @property
    def MODEL_ID(self) -> str: ...
    @property
    def Input(self) -> type[InputT_co]: ...
    @property
    def Output(self) -> type[OutputT_co]: ...
    @property
    def MEDIA_FIELDS(self) -> tuple[str, ...]: ...
    @property
    def MEDIA_RULES(self) -> tuple[MediaRule, ...]: ...


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


def input_class(model_id: str) -> type[RunComfyInput[RunComfyOutput]]:
    """The ``Input`` class of a model id."""
    return cast("type[RunComfyInput[RunComfyOutput]]", get(model_id).Input)


def validate_input(model_id: str, payload: Any) -> RunComfyInput[RunComfyOutput]:
    """Validate a JSON payload for a model id with its generated ``Input``."""
    return input_class(model_id).model_validate(payload)


# Model ids outside the catalog ---------------------------------------------------------------------
class UntypedModelWarning(UserWarning):
    """A model id outside the generated catalog is run untyped (once per model id and process)."""


class UntypedInput(RunComfyInput[UntypedOutput]):
    """The input of a model id outside the catalog: the dict as given, no schema, no rules.

    Built by :func:`untyped_input`, one subclass per model id (its ``runcomfy_model_id``)."""

    runcomfy_output: ClassVar[type[RunComfyOutput]] = UntypedOutput
    runcomfy_untyped: ClassVar[bool] = True

    def __init__(self, /, **data: Any) -> None:
        """Every key is kept as is (there is no schema to warn against)."""
        __tracebackhide__ = True
        self.__pydantic_validator__.validate_python(data, self_instance=self)

    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]


_untyped_classes: dict[str, type[UntypedInput]] = {}
_warned: set[str] = set()
_lock = threading.Lock()


def untyped_notice(model_id: str) -> str:
    """The one-time notice for a model id outside the catalog: what happens, and how to get types."""
    return (
        f"model id {model_id!r} is not in the generated catalog: run untyped (input sent as is, no "
        "schema or media rules; output kept raw as UntypedOutput). For types and checks: "
        f"runcomfy-codegen import https://www.runcomfy.com/models/{model_id}/api && runcomfy-codegen generate"
    )


def untyped_input(model_id: str, payload: Mapping[str, Any], *, stacklevel: int = 2) -> UntypedInput:
    """An input for a model id outside the catalog; warns once per model id (:class:`UntypedModelWarning`)."""
    if not isinstance(payload, Mapping):
        raise TypeError(f"{model_id}: the input must be a JSON object (a dict), not {type(payload).__name__}")
    with _lock:
        cls = _untyped_classes.get(model_id)
        if cls is None:
            cls = type(
                "UntypedInput", (UntypedInput,), {"runcomfy_model_id": model_id, "__module__": __name__}
            )
            _untyped_classes[model_id] = cls
        first = model_id not in _warned
        _warned.add(model_id)
    if first:
        warnings.warn(UntypedModelWarning(untyped_notice(model_id)), stacklevel=stacklevel + 1)
    return cls.model_validate(dict(payload))
