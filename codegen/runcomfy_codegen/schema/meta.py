"""The dialect as a JSON Schema 2020-12 meta-schema (documentation and a cross-check in the tests)."""

from __future__ import annotations

from typing import Any

from runcomfy_codegen.schema.dialect import JSON_TYPES, KEYWORDS


def meta_schema() -> dict[str, Any]:
    """The dialect as a JSON Schema 2020-12 document (vendor ``x-`` keywords allowed as annotations)."""
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
    openapi = {"discriminator": True, "externalDocs": True, "xml": True, "example": True}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://runcomfy-codegen.invalid/meta/runcomfy-schema",
        "title": "RunComfy model schema dialect",
        "type": ["object", "boolean"],
        "properties": {**{key: kinds[kind] for key, kind in KEYWORDS.items()}, **openapi},
        "patternProperties": {"^x-": True},
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
