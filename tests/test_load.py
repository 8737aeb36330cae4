"""Stage 1: reading and checking schemas. Every refusal names file, pointer and reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from runcomfy_codegen._errors import SchemaError
from runcomfy_codegen.load import check_schema, load_schema, meta_schema
from runcomfy_codegen.schema.loader import resolve


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "input.json"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "pointer", "reason"),
    [
        ("{", "", "invalid JSON at line 1"),
        ('{"type": "object", "type": "object"}', "", "duplicate key 'type'"),
        ('{"minimum": NaN}', "", "NaN is not valid JSON"),
        ("[]", "", "must be a JSON object"),
        ('{"properties": {"a": {"typo": 1}}}', "/properties/a/typo", "unknown keyword 'typo'"),
        ('{"properties": {"a": {"type": "str"}}}', "/properties/a/type", "must be one of"),
        ('{"properties": {"a": {"minLength": -1}}}', "/properties/a/minLength", "non-negative integer"),
        ('{"properties": {"a": {"pattern": "("}}}', "/properties/a/pattern", "regular expression"),
        ('{"properties": {"a/b": 3}}', "/properties/a~1b", "must be an object or a boolean"),
        ('{"properties": {"a": {"$id": "x"}}}', "/properties/a/$id", "not supported"),
        (
            '{"properties": {"u": {"type": "string", "validations": [{"validation_rule": "colour=", "validation_value": 1}]}}}',
            "/properties/u/validations/0/validation_rule",
            "unknown metric 'colour'",
        ),
        (
            '{"properties": {"u": {"validations": [{"validation_rule": "width_pixels~", "validation_value": 1}]}}}',
            "/properties/u/validations/0/validation_rule",
            "not a metric followed by",
        ),
        (
            '{"properties": {"u": {"validations": [{"validation_rule": "width_pixels<", "validation_value": "6000"}]}}}',
            "/properties/u/validations/0/validation_value",
            "must be a number",
        ),
    ],
)
def test_malformed_schemas_are_refused_with_file_pointer_and_reason(
    tmp_path: Path, text: str, pointer: str, reason: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SchemaError) as info:
        load_schema(path)
    assert info.value.file == str(path)
    assert info.value.pointer == pointer
    assert reason in info.value.reason
    assert f"{path}#{pointer}" in str(info.value)


def test_allow_unknown_lets_keywords_and_rules_through_and_records_them(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        json.dumps(
            {
                "properties": {
                    "a": {"type": "string", "ui-hint": "slider"},
                    "u": {"validations": [{"validation_rule": "colour=", "validation_value": 1}]},
                }
            }
        ),
    )
    loaded = load_schema(path, allow_unknown=True)
    messages = [w.message for w in loaded.warnings]
    assert any("unknown keyword 'ui-hint' is not enforced" in m for m in messages)
    assert any("unknown metric 'colour'" in m for m in messages)


def test_the_seed_schema_is_valid_against_the_published_meta_schema() -> None:
    root = Path(__file__).resolve().parent.parent / "schemas" / "bytedance/seedance-v1.5-pro/image-to-video"
    document = json.loads((root / "input.json").read_text(encoding="utf-8"))
    check_schema(document, "input.json")
    Draft202012Validator.check_schema(meta_schema())
    assert Draft202012Validator(meta_schema()).is_valid(document)
    assert not Draft202012Validator(meta_schema()).is_valid({"properties": {"a": {"typo": 1}}})


def test_local_refs_are_inlined_and_bad_refs_refused() -> None:
    schema: dict[str, Any] = {
        "$defs": {"size": {"type": "integer", "minimum": 1}},
        "properties": {
            "a": {"$ref": "#/$defs/size", "description": "kept"},
            "b": {"$ref": "#/$defs/size", "maximum": 3},
        },
    }
    inlined = resolve(schema, "input.json")
    assert inlined["properties"]["a"] == {"type": "integer", "minimum": 1, "description": "kept"}
    # disjoint keywords: the conjunction is the merged node, exactly
    assert inlined["properties"]["b"] == {"type": "integer", "minimum": 1, "maximum": 3}
    clash = resolve(
        {"$defs": {"s": {"maximum": 5}}, "properties": {"b": {"$ref": "#/$defs/s", "maximum": 3}}}, "f"
    )
    assert clash["properties"]["b"] == {"allOf": [{"maximum": 5}], "maximum": 3}
    with pytest.raises(SchemaError, match="does not resolve"):
        resolve({"properties": {"a": {"$ref": "#/$defs/nope"}}}, "input.json")
    with pytest.raises(SchemaError, match="recursive"):
        resolve(
            {"$defs": {"n": {"items": {"$ref": "#/$defs/n"}}}, "properties": {"a": {"$ref": "#/$defs/n"}}},
            "f",
        )
    with pytest.raises(SchemaError, match="same file"):
        resolve({"properties": {"a": {"$ref": "https://example.com/s.json"}}}, "f")


@pytest.mark.parametrize(
    ("schema", "output", "pointer"),
    [
        (
            {
                "properties": {
                    "o": {"type": "object", "properties": {"u": {"type": "string", "validations": []}}}
                }
            },
            None,
            "/properties/o/properties/u/validations",
        ),
        ({"validations": []}, None, "/validations"),
        (
            {"properties": {}},
            {"output": {"properties": {"video": {"type": "string", "validations": []}}}},
            "/output/properties/video/validations",
        ),
    ],
)
def test_rules_where_they_would_go_unenforced_are_refused(schema: Any, output: Any, pointer: str) -> None:
    from runcomfy_codegen.pipeline import render_schema

    with pytest.raises(SchemaError, match="top-level input properties") as info:
        render_schema("a/b", schema, output)
    assert info.value.pointer == pointer
