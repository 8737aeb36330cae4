"""The RunComfy schema dialect: which keywords exist, what each one means, and where subschemas are.

The dialect is JSON Schema 2020-12 plus RunComfy's ``validations`` array of custom media rules.
:data:`KEYWORDS` is its meta-schema as a table (keyword -> kind of value); :func:`kind_of` answers
for every key, including the annotation families that are not in the table:

* vendor extensions (``x-...``), OpenAPI's annotation keywords (``discriminator``,
  ``externalDocs``, ``xml``, ``example``) and a root ``$id``: accepted as annotations, never
  enforced, never emitted into a check (:data:`VENDOR`);
* everything else outside the table is *unknown*: refused, or with ``--allow-unknown`` let
  through, not enforced (jsonschema ignores an unknown keyword too, so nothing is lost).

Where subschemas sit is said once, by the kinds in :data:`KEYWORDS` (``schema``, ``schema_list``,
``schema_map``); :func:`map_subschemas` iterates them (``$ref`` resolution, ``openapi``), and the
loader's check walk, which every file goes through and so is kept lean, reads the same kinds inline.
"""

from __future__ import annotations

from typing import Any

# keyword -> kind of value (checked by the loader).
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

# Keywords that never constrain a value (the parser reads some of them: title, default, format ...).
ANNOTATIONS = frozenset(
    {
        "$schema", "$comment", "$defs", "definitions", "title", "description", "default", "deprecated",
        "readOnly", "writeOnly", "examples", "format", "contentEncoding", "contentMediaType",
        "contentSchema", "validations",
    }
)  # fmt: skip

# OpenAPI Schema Object keywords that annotate only.
OPENAPI_ANNOTATIONS = frozenset({"discriminator", "externalDocs", "xml", "example"})

VENDOR = "vendor"
"""The kind of a vendor extension, an OpenAPI annotation or a root ``$id``: metadata only."""
UNKNOWN = "unknown"

JSON_TYPES = ("array", "boolean", "integer", "null", "number", "object", "string")

# Keywords whose meaning depends on other keywords of the same node (merging two nodes that split
# such a group between them would change what they accept).
INTERACTING = (
    frozenset({"properties", "patternProperties", "additionalProperties"}),
    frozenset({"prefixItems", "items"}),
    frozenset({"contains", "minContains", "maxContains"}),
    frozenset({"if", "then", "else"}),
)
SEES_SIBLINGS = frozenset({"unevaluatedProperties", "unevaluatedItems"})


def kind_of(key: str, *, root: bool = False) -> str:
    """The kind of a keyword's value, :data:`VENDOR` for metadata-only keys, else :data:`UNKNOWN`."""
    kind = KEYWORDS.get(key)
    if kind is not None:
        return kind
    if key.startswith("x-") or key in OPENAPI_ANNOTATIONS or (root and key == "$id"):
        return VENDOR
    return UNKNOWN


CONSTRAINTS = frozenset(KEYWORDS) - ANNOTATIONS
"""Keywords that narrow the set of accepted values."""


def is_annotation(key: str) -> bool:
    """Does this keyword leave the set of accepted values unchanged (annotation, vendor, unknown)?"""
    return key in ANNOTATIONS or key not in KEYWORDS


def map_subschemas(node: dict[str, Any], function: Any) -> dict[str, Any]:
    """A copy of ``node`` whose subschemas are replaced by ``function(relative_path, subschema)``;
    other values are shared, not copied."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        kind = KEYWORDS.get(key)
        if kind == "schema":
            out[key] = function((key,), value)
        elif kind == "schema_list" and isinstance(value, list):
            out[key] = [function((key, i), v) for i, v in enumerate(value)]
        elif kind == "schema_map" and isinstance(value, dict):
            out[key] = {k: function((key, k), v) for k, v in value.items()}
        else:
            out[key] = value
    return out


def json_types_of(node: Any) -> frozenset[str] | None:
    """The JSON types a subschema can accept, when its ``type``/``enum``/``const`` say; else None."""
    if node is False:
        return frozenset()
    if not isinstance(node, dict):
        return None
    found: frozenset[str] | None = None
    if "type" in node:
        names = node["type"]
        found = frozenset([names] if isinstance(names, str) else names)
        if "number" in found:
            found |= {"integer"}
    values = (
        node["enum"] if isinstance(node.get("enum"), list) else [node["const"]] if "const" in node else None
    )
    if values is not None:
        of_values = frozenset(json_type_of_value(v) for v in values)
        found = of_values if found is None else found & of_values
    return found


def json_type_of_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
