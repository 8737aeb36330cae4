r"""Annotated types the generated models use to follow JSON Schema exactly.

pydantic's strict mode gets most of JSON Schema right; these aliases cover the rest:

* :data:`JsonInt`: JSON Schema counts ``1.0`` as an integer (strict ``int`` would refuse it);
  it is accepted and stored as ``1``. Booleans and strings stay refused.
* :data:`JsonNumber`: a ``number``: an integer given stays that integer (strict ``float`` would turn
  ``9007199254740993`` into ``9007199254740992.0``, a different value); floats as usual.
* :data:`IntChoice`: ``Literal`` compares with ``==``, so ``Literal[1]`` would take ``True``;
  JSON Schema's ``enum`` does not.
* :data:`BoolChoice`: likewise ``Literal[False]`` would take ``0``.
* :data:`Omittable`: an optional property without default, where ``null`` is not allowed: leave it
  out (``None`` means *not sent*), but an explicit ``null`` is refused.
* :class:`JsonSchemaCheck`: the keywords pydantic cannot state exactly (``not``, ``oneOf``,
  ``uniqueItems``, ``multipleOf`` on floats …) are checked by jsonschema on the raw value.
* :func:`pattern_check`: ``pattern`` as JSON Schema specifies it (ECMA-262, Unicode mode), matched
  in linear time (:mod:`._patterns`); used for ``Field(pattern=...)`` and inside ``JsonSchemaCheck``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, PlainSerializer, ValidatorFunctionWrapHandler, WrapValidator
from pydantic_core import PydanticCustomError, core_schema

from ._patterns import PatternError, PatternTimeoutError, ecma_matcher, ecma_validator

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


def _keep_integer(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    result = handler(value)  # the float checks and bounds (a bool or a string is refused here)
    return value if type(value) is int else result


def _as_given(value: Any) -> Any:
    return value


JsonInt = Annotated[int, BeforeValidator(_json_integer)]
JsonNumber = Annotated[float, WrapValidator(_keep_integer), PlainSerializer(_as_given, return_type=Any)]
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
            return ecma_validator(self.schema)
        except ImportError:  # the client installed without its jsonschema extra
            keywords = ", ".join(sorted(self.schema)) if isinstance(self.schema, dict) else repr(self.schema)
            raise ModuleNotFoundError(
                f"validating this field's JSON Schema keywords ({keywords}) needs jsonschema, "
                "which is not installed: pip install 'runcomfy-models[jsonschema]'",
                name="jsonschema",
            ) from None

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


def pattern_check(pattern: str) -> Callable[[str], str]:
    """The validator that stands for ``pattern`` in a pydantic core schema."""
    matcher = ecma_matcher(pattern)

    def check(value: str) -> str:
        try:
            matched = matcher(value)
        except PatternTimeoutError as exc:  # a backtracking pattern that passed its time bound
            raise PydanticCustomError("string_pattern_timeout", "{reason}", {"reason": str(exc)}) from None
        except PatternError as exc:  # the regex package refused what Python's re compiled
            raise PydanticCustomError("string_pattern_error", "{reason}", {"reason": str(exc)}) from None
        if not matched:
            raise PydanticCustomError(
                "string_pattern_mismatch", "String should match pattern '{pattern}'", {"pattern": pattern}
            )
        return value

    return check


def with_ecma_patterns(schema: Any) -> Any:
    """``schema`` (a pydantic core schema) with each ``str`` pattern run by :func:`pattern_check`."""
    if isinstance(schema, dict):
        if schema.get("type") == "str" and isinstance(schema.get("pattern"), str):
            rest = {k: v for k, v in schema.items() if k not in ("pattern", "regex_engine")}
            return core_schema.no_info_after_validator_function(pattern_check(schema["pattern"]), rest)
        return {k: with_ecma_patterns(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [with_ecma_patterns(v) for v in schema]
    return schema
