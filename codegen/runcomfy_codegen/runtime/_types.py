"""Annotated types the generated models use to follow JSON Schema exactly.

pydantic's strict mode gets most of JSON Schema right; these aliases cover the rest:

* :data:`JsonInt`: JSON Schema counts ``1.0`` as an integer (strict ``int`` would refuse it);
  it is accepted and stored as ``1``. Booleans and strings stay refused.
* :data:`IntChoice`: ``Literal`` compares with ``==``, so ``Literal[1]`` would take ``True``;
  JSON Schema's ``enum`` does not.
* :data:`BoolChoice`: likewise ``Literal[False]`` would take ``0``.
* :data:`Omittable`: an optional property without default, where ``null`` is not allowed: leave it
  out (``None`` means *not sent*), but an explicit ``null`` is refused.
* :class:`JsonSchemaCheck`: the keywords pydantic cannot state exactly (``not``, ``oneOf``,
  ``uniqueItems``, ``multipleOf`` on floats …) are checked by jsonschema on the raw value.
"""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator
from pydantic_core import PydanticCustomError, core_schema

T = TypeVar("T")


def _json_integer(value: Any) -> Any:
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _json_boolean(value: Any) -> Any:
    if not isinstance(value, bool):
        raise PydanticCustomError("bool_type", "Input should be a valid boolean")
    return value


def _not_null(value: Any) -> Any:
    if value is None:
        raise PydanticCustomError("null_not_allowed", "null is not allowed; leave the field out instead")
    return value


JsonInt = Annotated[int, BeforeValidator(_json_integer)]
IntChoice = Annotated[T, BeforeValidator(_json_integer)]
BoolChoice = Annotated[T, BeforeValidator(_json_boolean)]
Omittable = Annotated[T | None, BeforeValidator(_not_null)]


def _as_json(value: Any) -> Any:
    """A model instance passed in Python becomes the JSON object it stands for."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if isinstance(value, list):
        return [_as_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_json(v) for k, v in value.items()}
    return value


class JsonSchemaCheck:
    """Validate the raw value against a JSON Schema fragment with jsonschema (Draft 2020-12).

    Used as ``Annotated[T, JsonSchemaCheck({...})]``; the fragment holds only the keywords the
    annotation ``T`` cannot say. jsonschema is imported and the validator compiled on first use, so
    importing a model costs nothing for keywords it never meets.
    """

    __slots__ = ("__dict__", "schema")

    def __init__(self, schema: Any) -> None:
        self.schema = schema

    def __repr__(self) -> str:
        return f"JsonSchemaCheck({self.schema!r})"

    @cached_property
    def _validator(self) -> Any:
        try:
            from jsonschema import Draft202012Validator
        except ImportError:  # the client installed without its jsonschema extra
            keywords = ", ".join(sorted(self.schema)) if isinstance(self.schema, dict) else repr(self.schema)
            raise ModuleNotFoundError(
                f"validating this field's JSON Schema keywords ({keywords}) needs jsonschema, "
                "which is not installed: pip install 'runcomfy-models[jsonschema]'",
                name="jsonschema",
            ) from None
        return Draft202012Validator(self.schema)

    def validate(self, value: Any) -> Any:
        raw = _as_json(value)
        errors = sorted(self._validator.iter_errors(raw), key=lambda e: list(e.absolute_path))
        if errors:
            error = errors[0]
            where = "".join(f"/{p}" for p in error.absolute_path)
            raise PydanticCustomError(
                "json_schema",
                "{keyword} failed{where}: {reason}",
                {
                    "keyword": str(error.validator),
                    "where": f" at {where}" if where else "",
                    "reason": error.message,
                },
            )
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        return core_schema.no_info_before_validator_function(self.validate, handler(source))
