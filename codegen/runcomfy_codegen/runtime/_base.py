"""Base classes of every generated ``Input`` and ``Output`` model."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler
from pydantic_core import CoreSchema

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


class RunComfyInput(RunComfyModel):
    """A model's request body. ``to_payload()`` is what the client sends."""

    runcomfy_model_id: ClassVar[str] = ""
    runcomfy_output: ClassVar[type[RunComfyOutput]] = RunComfyOutput
    runcomfy_media_rules: ClassVar[tuple[MediaRule, ...]] = ()

    def to_payload(self) -> dict[str, Any]:
        """The JSON body for ``POST /v1/models/{model_id}``: original names, only the fields set."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)
