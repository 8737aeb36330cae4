"""Base classes of every generated ``Input`` and ``Output`` model."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict
from typing_extensions import Self

from ._rules import MediaRule


class RunComfyModel(BaseModel):
    """Shared configuration: JSON Schema semantics rather than pydantic's lax coercions.

    * ``strict``: ``"5"`` is not an integer and ``1`` is not a string, as in JSON Schema;
    * ``python-re``: ``pattern`` is matched with Python's ``re.search``, as jsonschema does;
    * ``validate_by_name`` and ``validate_by_alias``: both the JSON name and the Python name work;
    * extra properties are allowed unless the schema says ``additionalProperties: false``
      (a generated class then sets ``extra="forbid"``).
    """

    model_config = ConfigDict(
        strict=True,
        regex_engine="python-re",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="allow",
        protected_namespaces=(),
        use_enum_values=True,
    )

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Self:
        """Validate a JSON payload by its original property names, exactly as JSON Schema does.

        Python names are for the constructor (``Input(class_=...)``); a payload key that happens to
        equal a Python name (``class_``) is an ordinary extra property here, as in JSON Schema.
        """
        kwargs.setdefault("by_alias", True)
        kwargs.setdefault("by_name", False)
        return super().model_validate(obj, **kwargs)

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **kwargs: Any) -> Self:
        """Like :meth:`model_validate`, from JSON text."""
        kwargs.setdefault("by_alias", True)
        kwargs.setdefault("by_name", False)
        return super().model_validate_json(json_data, **kwargs)


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
