"""Stage 1, *load*: read a schema file and check it against the RunComfy schema dialect.

The dialect is JSON Schema 2020-12 plus RunComfy's ``validations`` array of custom media rules.
:data:`KEYWORDS` is the meta-schema, as a table: every keyword a schema may use and the shape of its
value. A keyword outside it, or a rule whose metric or operator is unknown, stops generation, because
silently dropping a constraint is how a client lies. ``allow_unknown=True`` lets such keywords and
rules through; they are then recorded as warnings (and, for rules, kept in the output as data).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runcomfy_codegen._errors import SchemaError, pointer
from runcomfy_codegen.rules import RuleSyntaxError, parse_rule
from runcomfy_codegen.runtime._types import PatternError, ecma_matcher

# keyword -> kind of value. Kinds are checked by _check_value below.
KEYWORDS: dict[str, str] = {
    # core
    "$schema": "string",
    "$comment": "string",
    "$defs": "schema_map",
    "definitions": "schema_map",
    "$ref": "string",
    # applicators
    "allOf": "schema_list",
    "anyOf": "schema_list",
    "oneOf": "schema_list",
    "not": "schema",
    "if": "schema",
    "then": "schema",
    "else": "schema",
    "dependentSchemas": "schema_map",
    "prefixItems": "schema_list",
    "items": "schema",
    "contains": "schema",
    "properties": "schema_map",
    "patternProperties": "schema_map",
    "additionalProperties": "schema",
    "propertyNames": "schema",
    "unevaluatedItems": "schema",
    "unevaluatedProperties": "schema",
    # validation
    "type": "type",
    "enum": "array",
    "const": "any",
    "multipleOf": "positive_number",
    "maximum": "number",
    "exclusiveMaximum": "number",
    "minimum": "number",
    "exclusiveMinimum": "number",
    "maxLength": "count",
    "minLength": "count",
    "pattern": "regex",
    "maxItems": "count",
    "minItems": "count",
    "uniqueItems": "boolean",
    "maxContains": "count",
    "minContains": "count",
    "maxProperties": "count",
    "minProperties": "count",
    "required": "string_set",
    "dependentRequired": "string_set_map",
    # annotations
    "title": "string",
    "description": "string",
    "default": "any",
    "deprecated": "boolean",
    "readOnly": "boolean",
    "writeOnly": "boolean",
    "examples": "array",
    "format": "string",
    "contentEncoding": "string",
    "contentMediaType": "string",
    "contentSchema": "schema",
    # RunComfy
    "validations": "validations",
}

# Keywords that change how references resolve; the generator cannot follow them exactly.
UNSUPPORTED: dict[str, str] = {
    "$id": "a nested base URI ($id) is not supported; inline the schema",
    "$anchor": "$anchor is not supported; use a JSON pointer $ref into $defs",
    "$dynamicRef": "$dynamicRef is not supported",
    "$dynamicAnchor": "$dynamicAnchor is not supported",
    "$vocabulary": "$vocabulary is not supported",
    "$recursiveRef": "$recursiveRef (draft 2019-09) is not supported",
    "$recursiveAnchor": "$recursiveAnchor (draft 2019-09) is not supported",
}

JSON_TYPES = ("array", "boolean", "integer", "null", "number", "object", "string")


@dataclass(frozen=True)
class Warning_:
    """Something the generator let through or changed; shown to the user and written into the module."""

    file: str
    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}#{self.pointer}: {self.message}"


@dataclass
class LoadedSchema:
    path: str
    document: Any
    warnings: list[Warning_] = field(default_factory=list)
    may_have_refs: bool = True
    """False when the file's text has no ``$ref`` at all (the parser then skips ref inlining)."""
    raw: bytes = b""
    """The file's bytes, as read (the manifest hashes them)."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def parse_json(text: str, file: str) -> Any:
    """Decode JSON strictly: no NaN/Infinity, no duplicate keys. Errors name the file and position."""
    try:
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise SchemaError(
            file, "", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise SchemaError(file, "", f"invalid JSON: {exc}") from None


def _read_json_text(path: Path) -> tuple[Any, str, bytes]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SchemaError(path, "", f"cannot read file: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SchemaError(path, "", f"not UTF-8: {exc.reason} at byte {exc.start}") from None
    return parse_json(text, str(path)), text, raw


def load_schema(path: Path, *, allow_unknown: bool = False, display: str | None = None) -> LoadedSchema:
    """Read and check one schema file. Raises :class:`SchemaError` naming file, pointer and reason.

    An ``output.json`` holds RunComfy's wrapper ``{"output": {...}}``; the schema inside is checked.
    """
    name = display or str(path)
    document, text, raw = _read_json_text(path)
    loaded = LoadedSchema(
        name, document, may_have_refs="$ref" in text or "\\u0024ref" in text.lower(), raw=raw
    )
    check_schema(document, name, allow_unknown=allow_unknown, warnings=loaded.warnings)
    return loaded


def unwrap_output(document: Any) -> tuple[Any, tuple[str, ...]]:
    """The schema inside RunComfy's ``{"output": {...}}`` wrapper, and its path."""
    if isinstance(document, dict) and set(document) == {"output"}:
        return document["output"], ("output",)
    return document, ()


def check_schema(
    document: Any, file: str, *, allow_unknown: bool = False, warnings: list[Warning_] | None = None
) -> None:
    """Check a decoded schema (or an ``{"output": ...}`` wrapper) against the RunComfy dialect."""
    sink: list[Warning_] = [] if warnings is None else warnings
    if not isinstance(document, dict):
        raise SchemaError(file, "", f"a schema must be a JSON object, not {_json_type(document)}")
    schema, base = unwrap_output(document)
    for path, node in walk_schema(schema, base):
        _check_node(node, path, file, allow_unknown, sink)


def walk_schema(node: Any, path: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """Yield (path, subschema) for every subschema position, checking shapes as it goes."""
    yield path, node
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        kind = KEYWORDS.get(key)
        if kind == "schema":
            yield from walk_schema(value, (*path, key))
        elif kind == "schema_list" and isinstance(value, list):
            for index, item in enumerate(value):
                yield from walk_schema(item, (*path, key, index))
        elif kind == "schema_map" and isinstance(value, dict):
            for name, item in value.items():
                yield from walk_schema(item, (*path, key, name))


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _check_node(
    node: Any, path: tuple[str | int, ...], file: str, allow_unknown: bool, warnings: list[Warning_]
) -> None:
    if isinstance(node, bool):
        return
    if not isinstance(node, dict):
        raise SchemaError(
            file, pointer(*path), f"a subschema must be an object or a boolean, not {_json_type(node)}"
        )
    for key, value in node.items():
        if key in UNSUPPORTED:
            raise SchemaError(file, pointer(*path, key), UNSUPPORTED[key])
        kind = KEYWORDS.get(key)
        if kind is None:
            where = pointer(*path, key)
            if not allow_unknown:
                raise SchemaError(
                    file,
                    where,
                    f"unknown keyword {key!r}: the generator cannot enforce it "
                    "(pass --allow-unknown to let it through and record it)",
                )
            warnings.append(
                Warning_(file, where, f"unknown keyword {key!r} ignored (allowed by --allow-unknown)")
            )
            continue
        _check_value(kind, key, value, (*path, key), file, allow_unknown, warnings)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_value(
    kind: str,
    key: str,
    value: Any,
    path: tuple[str | int, ...],
    file: str,
    allow_unknown: bool,
    warnings: list[Warning_],
) -> None:
    def fail(reason: str) -> None:
        raise SchemaError(
            file, pointer(*path), f"{key}: {reason}, got {json.dumps(value, ensure_ascii=False)[:80]}"
        )

    if kind == "string" and not isinstance(value, str):
        fail("must be a string")
    elif kind == "boolean" and not isinstance(value, bool):
        fail("must be a boolean")
    elif kind == "number" and not _is_number(value):
        fail("must be a number")
    elif kind == "positive_number" and not (_is_number(value) and value > 0):
        fail("must be a number greater than 0")
    elif kind == "count" and not (_is_number(value) and float(value).is_integer() and value >= 0):
        fail("must be a non-negative integer")
    elif kind == "array" and not isinstance(value, list):
        fail("must be an array")
    elif kind in ("schema_list",) and not (isinstance(value, list) and value):
        fail("must be a non-empty array of schemas")
    elif kind == "schema_map" and not isinstance(value, dict):
        fail("must be an object of schemas")
    elif key == "patternProperties":
        for regex in value:
            _check_value("regex", f"{key} name", regex, (*path, regex), file, allow_unknown, warnings)
    elif kind == "string_set":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            fail("must be an array of strings")
        if len(set(value)) != len(value):
            fail("must not repeat a name")
    elif kind == "string_set_map":
        if not isinstance(value, dict):
            fail("must be an object of string arrays")
        for name, names in value.items():
            _check_value("string_set", f"{key}/{name}", names, (*path, name), file, allow_unknown, warnings)
    elif kind == "type":
        names = value if isinstance(value, list) else [value]
        if not names or not all(isinstance(n, str) and n in JSON_TYPES for n in names):
            fail(f"must be one of {', '.join(JSON_TYPES)} or a non-empty array of them")
        if len(set(names)) != len(names):
            fail("must not repeat a type")
    elif kind == "regex":
        if not isinstance(value, str):
            fail("must be a string")
        try:
            ecma_matcher(value)
        except PatternError as exc:
            fail(f"is not an ECMA-262 regular expression this generator can run ({exc})")
    elif kind == "validations":
        _check_validations(value, path, file, allow_unknown, warnings)


def _check_validations(
    value: Any, path: tuple[str | int, ...], file: str, allow_unknown: bool, warnings: list[Warning_]
) -> None:
    if not isinstance(value, list):
        raise SchemaError(file, pointer(*path), "validations: must be an array of rules")
    # Rules apply to top-level input properties and their array items; anywhere else (nested
    # objects, the root, outputs) they would go unenforced, so they are refused.
    node = path[:-1]
    if not (len(node) in (2, 3) and node[0] == "properties" and node[2:] in ((), ("items",))):
        raise SchemaError(
            file,
            pointer(*path),
            "custom validations are supported on top-level input properties and their array items only",
        )
    for index, rule in enumerate(value):
        where = (*path, index)
        if not isinstance(rule, dict):
            raise SchemaError(file, pointer(*where), "a validation rule must be an object")
        for key in rule:
            if key not in ("validation_rule", "validation_value", "validation_error"):
                raise SchemaError(file, pointer(*where, key), f"unknown validation rule member {key!r}")
        text = rule.get("validation_rule")
        if not isinstance(text, str):
            raise SchemaError(file, pointer(*where, "validation_rule"), "validation_rule: must be a string")
        number = rule.get("validation_value")
        if not _is_number(number):
            raise SchemaError(
                file,
                pointer(*where, "validation_value"),
                f"validation_value: must be a number, got {number!r}",
            )
        message = rule.get("validation_error", "")
        if not isinstance(message, str):
            raise SchemaError(file, pointer(*where, "validation_error"), "validation_error: must be a string")
        try:
            parse_rule(text, allow_unknown_metric=allow_unknown)
        except RuleSyntaxError as exc:
            raise SchemaError(
                file, pointer(*where, "validation_rule"), f"{exc} (pass --allow-unknown to let it through)"
            ) from None
        if allow_unknown:
            try:
                parse_rule(text)
            except RuleSyntaxError as exc:
                warnings.append(
                    Warning_(file, pointer(*where, "validation_rule"), f"{exc}; kept as data, not checked")
                )


def meta_schema() -> dict[str, Any]:
    """The dialect as a JSON Schema 2020-12 document (for documentation and cross-checks)."""
    kinds: dict[str, Any] = {
        "string": {"type": "string"},
        "regex": {"type": "string", "format": "regex"},
        "boolean": {"type": "boolean"},
        "number": {"type": "number"},
        "positive_number": {"type": "number", "exclusiveMinimum": 0},
        "count": {"type": "integer", "minimum": 0},
        "array": {"type": "array"},
        "any": True,
        "schema": {"$ref": "#"},
        "schema_list": {"type": "array", "minItems": 1, "items": {"$ref": "#"}},
        "schema_map": {"type": "object", "additionalProperties": {"$ref": "#"}},
        "string_set": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        "string_set_map": {"type": "object", "additionalProperties": {"$ref": "#/$defs/stringSet"}},
        "type": {
            "anyOf": [
                {"enum": list(JSON_TYPES)},
                {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"enum": list(JSON_TYPES)}},
            ]
        },
        "validations": {"type": "array", "items": {"$ref": "#/$defs/rule"}},
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://runcomfy-codegen.invalid/meta/runcomfy-schema",
        "title": "RunComfy model schema dialect",
        "type": ["object", "boolean"],
        "properties": {key: kinds[kind] for key, kind in KEYWORDS.items()},
        "additionalProperties": False,
        "$defs": {
            "stringSet": kinds["string_set"],
            "rule": {
                "type": "object",
                "required": ["validation_rule", "validation_value"],
                "properties": {
                    "validation_rule": {"type": "string"},
                    "validation_value": {"type": "number"},
                    "validation_error": {"type": "string"},
                },
                "additionalProperties": False,
            },
        },
    }
