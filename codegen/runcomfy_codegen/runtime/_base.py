"""Base classes of every generated ``Input`` and ``Output`` model."""

from __future__ import annotations

import difflib
import warnings
from typing import TYPE_CHECKING, Any, ClassVar, Generic, NamedTuple, TypeVar

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler
from pydantic_core import CoreSchema

from ._exceptions import Hint, UnknownInputError, UnknownInputWarning
from ._rules import MediaRule
from ._types import with_ecma_patterns


class RunComfyModel(BaseModel):
    """Shared configuration: JSON Schema semantics rather than pydantic's lax coercions.

    * ``strict``: ``"5"`` is not an integer and ``1`` is not a string, as in JSON Schema;
    * ``pattern`` follows ECMA-262 and runs in linear time: every ``str`` pattern of the core schema
      is replaced by :func:`~._types.pattern_check` (see ``_types``), whatever engine is configured;
    * payloads are read by original (alias) names; the constructor also takes Python names;
    * extra properties are allowed unless the schema says ``additionalProperties: false``
      (a generated class then sets ``extra="forbid"``).
    """

    model_config = ConfigDict(
        strict=True,
        regex_engine="python-re",
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="allow",
        protected_namespaces=(),
        use_enum_values=True,
    )

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return with_ecma_patterns(handler(source))  # type: ignore[no-any-return]

    def __init__(self, /, **data: Any) -> None:
        """Build from keyword arguments by Python name (``class_=...``) or original name.

        ``model_validate(payload)`` reads payloads by their original property names only, exactly as
        JSON Schema does: a payload key that happens to equal a Python name (``class_``) is an
        ordinary extra property there. (Keeping names out of ``model_validate`` also keeps it on
        pydantic's fast path.)
        """
        __tracebackhide__ = True
        self.__pydantic_validator__.validate_python(data, self_instance=self, by_alias=True, by_name=True)

    # Tell pydantic this __init__ only validates (as BaseModel's does), so model_validate() keeps the
    # core validator's own path and never calls it: the same mark pydantic puts on BaseModel.__init__.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]


class RunComfyOutput(RunComfyModel):
    """The object under ``output`` in a finished request's result."""


class UntypedOutput(RunComfyOutput):
    """The output of a model id outside the catalog: every field the service sent, unchecked.

    Read fields as attributes (``output.video``, typed ``Any``) or all of them with ``model_dump()``.
    """

    if TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any: ...


OutputT = TypeVar("OutputT", bound=RunComfyOutput, covariant=True)
"""The ``Output`` class of a model: what ``Client.run`` returns for its ``Input``."""


class RunComfyInput(RunComfyModel, Generic[OutputT]):
    """A model's request body. ``to_payload()`` is what the client sends.

    Generated classes name their ``Output``, ``class Input(RunComfyInput[Output])``, so a type
    checker knows what ``client.run(Input(...))`` returns. At run time the link is the
    ``runcomfy_output`` class variable, and ``RunComfyInput[Output]`` is ``RunComfyInput`` itself:
    a parametrised pydantic class per model would cost every ``get()`` a class build (~2 ms).
    """

    if not TYPE_CHECKING:

        def __class_getitem__(cls, params: Any) -> Any:
            return cls if cls is RunComfyInput else super().__class_getitem__(params)

    runcomfy_model_id: ClassVar[str] = ""
    runcomfy_output: ClassVar[type[RunComfyOutput]] = RunComfyOutput
    runcomfy_media_rules: ClassVar[tuple[MediaRule, ...]] = ()
    runcomfy_media_fields: ClassVar[tuple[str, ...]] = ()
    runcomfy_untyped: ClassVar[bool] = False

    def __init__(self, /, **data: Any) -> None:
        """As :class:`RunComfyModel`, and a key the schema does not name is warned about.

        It is still kept and sent (JSON Schema allows extra properties), but ``durration=7`` is far
        more often a typo than a wish: :class:`UnknownInputWarning` names the closest known name.
        """
        __tracebackhide__ = True
        self.__pydantic_validator__.validate_python(data, self_instance=self, by_alias=True, by_name=True)
        if self.__pydantic_extra__:
            check_unknown_inputs(self, stacklevel=2)

    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    def to_payload(self) -> dict[str, Any]:
        """The JSON body for ``POST /v1/models/{model_id}``: original names, only the fields set."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class UnknownInput(NamedTuple):
    """A key of an input that its schema does not name, and the closest name it does (or None)."""

    key: str
    suggestion: str | None

    def __str__(self) -> str:
        return repr(self.key) + (f" (did you mean {self.suggestion!r}?)" if self.suggestion else "")


def unknown_inputs(model: RunComfyInput[Any]) -> tuple[UnknownInput, ...]:
    """The keys of ``model`` that its schema does not name (they are sent as extra properties)."""
    extra = model.__pydantic_extra__
    if not extra:
        return ()
    known = [info.alias or name for name, info in type(model).model_fields.items()]
    return tuple(
        UnknownInput(key, next(iter(difflib.get_close_matches(key, known, n=1, cutoff=0.6)), None))
        for key in extra
    )


def check_unknown_inputs(model: RunComfyInput[Any], *, strict: bool = False, stacklevel: int = 2) -> None:
    """Warn (:class:`UnknownInputWarning`) or, when ``strict``, raise (:class:`UnknownInputError`)
    if ``model`` has keys its schema does not name.

    ``stacklevel`` counts as ``warnings.warn``'s does, from the function that calls this one (1):
    the warning should point at the user's line.
    """
    unknown = unknown_inputs(model)
    if not unknown:
        return
    names = ", ".join(map(str, unknown))
    plural = "s" if len(unknown) > 1 else ""
    where = model.runcomfy_model_id or type(model).__qualname__
    if strict:
        raise UnknownInputError(
            f"{where}: unknown input{plural} {names}: not in the schema; nothing was sent",
            unknown,
            hints=[Hint.of("allow_unknown_inputs")],
        )
    warnings.warn(
        UnknownInputWarning(
            f"{where}: unknown input{plural} {names}: not in the schema, sent as is",
            unknown,
            hints=[Hint.of("strict_inputs")],
        ),
        stacklevel=stacklevel + 1,
    )
