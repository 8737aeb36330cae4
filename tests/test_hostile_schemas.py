"""Hostile schemas (issue 12, schema side): each is refused with one line naming the file, or
generates a module that compiles; never a traceback, never exit 0 for a module that cannot import.

Bounded in size and time: the largest case is an enum of 100,000 values.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from runcomfy_codegen import build
from runcomfy_codegen._errors import ModelIdError, SchemaError
from runcomfy_codegen.cli import main
from runcomfy_codegen.model_id import check_model_id
from runcomfy_codegen.pipeline import render_schema
from runcomfy_codegen.schema.loader import (
    MAX_EXPANDED,
    MAX_JSON_DEPTH,
    MAX_SCHEMA_DEPTH,
    load_bytes,
    parse_json,
)

OUTPUT = {"output": {"type": "object"}}


def store_with(root: Path, input_text: str, model_id: str = "acme/m") -> Path:
    folder = root / "schemas" / model_id
    folder.mkdir(parents=True)
    (folder / "input.json").write_text(input_text, encoding="utf-8")
    (folder / "output.json").write_text(json.dumps(OUTPUT), encoding="utf-8")
    return root / "schemas"


def generate(root: Path, schemas: Path) -> int:
    return main(["generate", "--schemas", str(schemas), "--out", str(root / "out")])


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("number", ["1e999", "-1e999", "1E400"])
def test_numbers_that_overflow_to_infinity_are_refused_at_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], number: str
) -> None:
    text = '{"type": "object", "properties": {"n": {"type": "number", "maximum": ' + number + "}}}"
    schemas = store_with(tmp_path, text)
    assert generate(tmp_path, schemas) == 2
    err = one_line_error(capsys)
    assert "input.json" in err and "overflows to infinity" in err
    assert not (tmp_path / "out").exists()
    assert main(["openapi", "--schemas", str(schemas)]) == 2
    assert "Infinity" not in capsys.readouterr().out


def test_numbers_that_overflow_to_infinity_are_refused_at_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "schema.json"
    source.write_text('{"type": "object", "properties": {"n": {"default": 1e999}}}', encoding="utf-8")
    code = main(["import", str(source), "--model-id", "acme/inf", "--schemas", str(tmp_path / "schemas")])
    assert code == 2
    assert "overflows to infinity" in one_line_error(capsys)
    assert not (tmp_path / "schemas").exists()


def test_ref_expansion_is_bounded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # each definition references the one below ten times: 10**6 copies once expanded (a 2 KB file)
    defs: dict[str, Any] = {"d0": {"type": "string"}}
    for level in range(1, 7):
        defs[f"d{level}"] = {
            "type": "object",
            "properties": {f"p{i}": {"$ref": f"#/$defs/d{level - 1}"} for i in range(10)},
        }
    schema = {"type": "object", "$defs": defs, "properties": {"bomb": {"$ref": "#/$defs/d6"}}}
    assert len(json.dumps(schema)) < 4000
    with pytest.raises(SchemaError, match=f"expansion exceeds {MAX_EXPANDED} subschemas"):
        render_schema("acme/bomb", schema)
    schemas = store_with(tmp_path, json.dumps(schema))
    assert generate(tmp_path, schemas) == 2
    assert "expansion exceeds" in one_line_error(capsys)


_WRAPPERS = {
    "allOf": ('{"allOf": [', ', {"minLength": 0}]}'),  # not mergeable: keeps its nesting
    "items": ('{"type": "array", "items": ', "}"),
    "properties": ('{"type": "object", "properties": {"a": ', "}}"),
}


def _nested_text(kind: str, depth: int) -> str:
    """The schema as text (json.dumps itself would recurse too deep for the largest cases)."""
    before, after = _WRAPPERS[kind]
    node = before * depth + '{"type": "string"}' + after * depth
    return '{"type": "object", "properties": {"deep": ' + node + "}}"


def _nested(kind: str, depth: int) -> Any:
    return json.loads(_nested_text(kind, depth))


@pytest.mark.parametrize("kind", ["allOf", "items", "properties"])
@pytest.mark.parametrize("depth", [40, 100, 500, 5000])
def test_deep_nesting_is_refused_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, depth: int
) -> None:
    schemas = store_with(tmp_path, _nested_text(kind, depth))
    assert generate(tmp_path, schemas) == 2
    err = one_line_error(capsys)
    assert "nested deeper than" in err and "input.json" in err
    assert main(["check", "--schemas", str(schemas), "--out", str(tmp_path / "out")]) == 2
    assert main(["diff", str(schemas), str(schemas)]) == 2


@pytest.mark.parametrize("kind", ["allOf", "items", "properties"])
def test_nesting_at_the_bound_generates_a_module_that_compiles(kind: str) -> None:
    source = render_schema("acme/deep", _nested(kind, MAX_SCHEMA_DEPTH - 2))
    compile(source, "<deep>", "exec")


def test_json_nesting_is_bounded_and_values_at_the_bound_compile() -> None:
    deep: Any = 1
    for _ in range(MAX_JSON_DEPTH - 6):
        deep = [deep]
    source = render_schema("acme/deepdefault", {"type": "object", "properties": {"d": {"default": deep}}})
    compile(source, "<deep>", "exec")
    with pytest.raises(SchemaError, match="nested deeper than"):
        parse_json("[" * 5000 + "]" * 5000, "f.json")
    too_deep = "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)
    with pytest.raises(SchemaError, match="nested deeper than") as info:
        load_bytes(b'{"properties": {"d": {"default": ' + too_deep.encode() + b"}}}", "f.json")
    assert info.value.pointer == "/properties/d"


def test_huge_enums_are_deduplicated_in_linear_time() -> None:
    # 100,000 values with repeats: quadratic de-duplication took minutes; linear takes well under one
    values = [f"v{i % 50_000}" for i in range(100_000)]
    source = render_schema("acme/enum", {"type": "object", "properties": {"e": {"enum": values}}})
    assert source.count('"v49999"') == 1 and source.count('"v0"') == 1


def test_symlinks_in_the_store_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outside = tmp_path / "outside.json"
    outside.write_text('{"type": "object", "properties": {"secret": {"type": "string"}}}', encoding="utf-8")
    schemas = store_with(tmp_path, "{}")
    linked = schemas / "acme" / "m" / "input.json"
    linked.unlink()
    os.symlink(outside, linked)
    assert generate(tmp_path, schemas) == 2
    assert "symbolic link" in one_line_error(capsys)
    linked.unlink()
    linked.write_text('{"type": "object"}', encoding="utf-8")
    os.symlink(schemas / "acme" / "m", schemas / "acme" / "alias")  # a linked model folder
    assert generate(tmp_path, schemas) == 2
    err = one_line_error(capsys)
    assert "acme/alias" in err and "symbolic link" in err


@pytest.mark.parametrize(
    "model_id", ["acme/CON", "acme/nul.txt", "com1/x", "acme/Lpt9", "acme/model.", "acme/aux .json", "a/PRN"]
)
def test_windows_reserved_ids_and_trailing_dots_are_refused(model_id: str) -> None:
    with pytest.raises(ModelIdError):
        check_model_id(model_id)


@pytest.mark.parametrize("model_id", ["acme/console", "acme/nul-model", "acme/v1.5", "acme/com10"])
def test_ids_that_only_resemble_reserved_names_are_fine(model_id: str) -> None:
    assert check_model_id(model_id) == model_id


def test_a_module_that_would_not_compile_is_refused_not_reported_as_built() -> None:
    from runcomfy_codegen.schema.loader import load_document

    loaded = load_document(_nested("properties", 30), "input.json")  # deep enough to be compiled
    build.compiles_if_deep("x: int = 1\n", loaded)
    with pytest.raises(SchemaError, match="would not compile") as info:
        build.compiles_if_deep("x = " + "(" * 300 + ")" * 300 + "\n", loaded)
    assert info.value.file == "input.json"


def test_an_unreadable_schema_file_is_refused_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schemas = store_with(tmp_path, "{}")
    output = schemas / "acme" / "m" / "output.json"
    output.unlink()
    output.mkdir()  # a folder where a file should be
    assert generate(tmp_path, schemas) == 2
    err = one_line_error(capsys)
    assert "acme/m/output.json" in err and "not a regular file" in err


@pytest.mark.parametrize("model_id", ["acme/" + "a" * 101, "/".join(["abcdefghij" * 2] * 10)])
def test_ids_whose_names_would_exceed_filesystem_limits_are_refused(model_id: str) -> None:
    with pytest.raises(ModelIdError, match="longer than"):
        check_model_id(model_id)


@pytest.mark.parametrize(
    "name", ["Field", "None", "1st", "", "str", "Literal", "class", "Input", "Omittable", "Ünï cödé"]
)
def test_hostile_definition_names_give_safe_class_names(name: str) -> None:
    schema = {
        "type": "object",
        "$defs": {name: {"type": "object", "properties": {"a": {"type": "integer"}}}},
        "properties": {
            "x": {"$ref": "#/$defs/" + name.replace("~", "~0").replace("/", "~1")},
            "y": {"type": "string"},
        },
    }
    source = render_schema("acme/defs", schema)
    from tests.conftest import load_module_from_source

    module = load_module_from_source(source, "runcomfy_models.catalog._defs_" + str(abs(hash(name))))
    assert module.Input.model_validate({"x": {"a": 1}, "y": "s"}).x.a == 1
