"""Stage 2's output: the IR, a plain data model of one RunComfy model's schemas.

The IR says *what* to generate; :mod:`runcomfy_codegen.render` decides only *how it is spelled*.
Types form a small tree (:data:`TypeExpr`). Every keyword pydantic cannot state exactly travels as a
``check``: the JSON Schema fragment of just those keywords, which the generated code hands to
jsonschema at validation time, so the generated class accepts exactly what the schema accepts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Scalar = Literal["str", "int", "float", "bool", "None", "JsonValue", "MediaURL", "MediaInput"]
LiteralValue = str | int | bool | None


@dataclass(frozen=True)
class Primitive:
    name: Scalar


@dataclass(frozen=True)
class LiteralOf:
    values: tuple[LiteralValue, ...]


@dataclass(frozen=True)
class ListOf:
    item: TypeExpr


@dataclass(frozen=True)
class DictOf:
    value: TypeExpr


@dataclass(frozen=True)
class ModelRef:
    class_name: str


@dataclass(frozen=True)
class UnionOf:
    members: tuple[TypeExpr, ...]


@dataclass(frozen=True)
class Constrained:
    """``inner`` narrowed by pydantic constraints and/or a jsonschema ``check`` of leftover keywords."""

    inner: TypeExpr
    constraints: tuple[tuple[str, Any], ...] = ()
    """pydantic ``Field`` constraints, in a fixed order: ge, gt, le, lt, multiple_of, min_length, max_length, pattern."""
    check: Any = None
    """A JSON Schema fragment (dict or bool) checked by jsonschema, or None."""


TypeExpr = Primitive | LiteralOf | ListOf | DictOf | ModelRef | UnionOf | Constrained


@dataclass(frozen=True)
class Rule:
    """One custom ``validations`` rule of a media field."""

    field: str
    metric: str
    operator: str
    value: int | float
    message: str
    each_item: bool


@dataclass
class FieldIR:
    json_name: str
    python_name: str
    type: TypeExpr
    required: bool
    has_default: bool
    default: Any = None
    title: str | None = None
    description: str | None = None
    format: str | None = None
    omittable: bool = False
    """Optional, without default, and null is not allowed: ``None`` means *not sent*."""
    media: bool = False
    default_models: bool = False
    """The default holds objects typed by generated classes: it is built as instances of them."""

    @property
    def alias(self) -> str | None:
        return None if self.python_name == self.json_name else self.json_name


@dataclass
class ModelIR:
    class_name: str
    json_pointer: str
    title: str | None
    description: str | None
    fields: list[FieldIR]
    extra: Literal["allow", "forbid"] = "allow"
    check: Any = None
    """Leftover object keywords of a root model, checked by jsonschema before field validation."""


@dataclass
class ModuleIR:
    model_id: str
    module_name: str
    input_file: str
    output_file: str
    input_model: ModelIR
    output_model: ModelIR
    nested_models: list[ModelIR] = field(default_factory=list)
    """Classes for nested objects, in dependency order (a class comes before its users)."""
    rules: list[Rule] = field(default_factory=list)
    media_fields: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    input_schema_title: str | None = None
