"""Hostile schemas: no title, description, enum value, default or property name breaks or injects code."""

from __future__ import annotations

import builtins
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runcomfy_codegen.cli import main

INJECT = "__import__('builtins').__setattr__('PWNED', 1)"
NASTY = [
    'a"b', "c'd", '"""', "'''", "\\", "\\n", "{{ x }}", "{% raw %}", "\n", "\r\n", "\x00", "\u2028", "\ud800",
    f'"); {INJECT} #', f'"""\n{INJECT}\n"""', "end with quote\"", "tab\there",
]  # fmt: skip

HOSTILE: dict[str, Any] = {
    "type": "object",
    "title": f'Evil """ title \\ {{{{ x }}}} {INJECT}',
    "description": 'line1\nline2 """ \'\'\' \\n \x00 \u2028 end"',
    "required": ["class", "from", "a-b"],
    "properties": {
        "class": {"type": "string", "title": '"""', "description": f'"""; {INJECT} #'},
        "from": {"type": "integer", "description": "ends with a backslash \\"},
        "model_config": {"type": "string"},
        "json": {"type": "boolean"},
        "schema": {"type": "number"},
        "copy": {"type": "string", "enum": NASTY},
        "a-b": {"type": "string", "default": "'''\"\"\"\\{{}}"},
        "a_b": {"type": "string"},
        "a.b": {"type": "string"},
        "a b": {"type": "string"},
        "1abc": {"type": "string"},
        "durée": {"type": "string"},
        "__init__": {"type": "string"},
        "__class__": {"type": "string"},
        "_private": {"type": "string"},
        "str": {"type": "string"},
        "int": {"type": "integer"},
        "Input": {"type": "string"},
        "MODEL_ID": {"type": "string"},
        "Field": {"type": "string"},
        "match": {"type": "string"},
        "None": {"type": "string"},
        "runcomfy_model_id": {"type": "string"},
        "": {"type": "string"},
        "nested": {
            "type": "object",
            "title": '"""',
            "properties": {"def": {"type": "string", "enum": NASTY}, "x\ny": {"type": "string"}},
        },
        "{{ x }}": {"type": "string", "default": "{% for %}", "description": "{{ x }} {% if %}"},
        INJECT: {"type": "string", "pattern": "^[\"']+$"},
    },
}


@pytest.fixture
def hostile_module(compile_schema: Any) -> Any:
    assert not hasattr(builtins, "PWNED")
    module = compile_schema(HOSTILE)
    assert not hasattr(builtins, "PWNED"), "schema text was executed"
    return module


def test_hostile_schema_generates_a_module_that_imports(hostile_module: Any) -> None:
    fields = hostile_module.Input.model_fields
    assert len(fields) == len(HOSTILE["properties"])
    assert fields["class_"].alias == "class"
    assert fields["from_"].alias == "from"
    assert fields["model_config_"].alias == "model_config"
    assert fields["json_"].alias == "json"
    assert fields["copy_"].alias == "copy"
    assert fields["class_"].description == f'"""; {INJECT} #'
    # "a-b" and "a_b" collide after normalisation: both kept, and "a_b" keeps its own name.
    assert fields["a_b"].alias is None
    assert fields["a_b_2"].alias == "a-b"


def test_hostile_payload_round_trips_by_original_names(hostile_module: Any) -> None:
    payload = {
        name: "v"
        for name, spec in HOSTILE["properties"].items()
        if spec["type"] == "string" and "enum" not in spec
    }
    payload.pop(INJECT)
    payload.update({"from": 1, "json": True, "schema": 1.5, "int": 3, "copy": "\ud800", INJECT: "'\"'"})
    payload["nested"] = {"def": '"""', "x\ny": "z"}
    model = hostile_module.Input.model_validate(payload)
    assert model.to_payload() == payload
    for value in NASTY:
        assert hostile_module.Input.model_validate({**payload, "copy": value}).to_payload()["copy"] == value
    by_alias = {f.alias or name: f for name, f in hostile_module.Input.model_fields.items()}
    assert by_alias["{{ x }}"].default == "{% for %}"
    assert by_alias["{{ x }}"].description == "{{ x }} {% if %}"
    assert by_alias["a-b"].is_required()  # required wins over default


def test_hostile_payload_by_python_names(hostile_module: Any) -> None:
    model = hostile_module.Input(class_="c", from_=1, a_b_2="x")
    assert model.to_payload() == {"class": "c", "from": 1, "a-b": "x"}


def test_a_payload_key_equal_to_a_python_name_is_an_extra_property(hostile_module: Any) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as info:  # "class" is required; "class_" is just an extra key
        hostile_module.Input.model_validate({"class_": "c", "from": 1, "a-b": "x"})
    assert info.value.errors()[0]["loc"] == ("class",)


def test_generated_package_passes_ruff_and_mypy_strict(tmp_path: Path) -> None:
    """The generated code, hostile model included, is clean under ruff and mypy --strict."""
    store = tmp_path / "schemas"
    root = Path(__file__).resolve().parent.parent
    shutil.copytree(root / "schemas", store)
    (store / "evil/model").mkdir(parents=True)
    (store / "evil/model/input.json").write_text(json.dumps(HOSTILE), encoding="utf-8")
    (store / "evil/model/output.json").write_text(json.dumps({"output": HOSTILE}), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["generate", "--schemas", str(store), "--out", str(out)]) == 0
    package = out / "runcomfy_models"
    ruff = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--config", str(root / "pyproject.toml"), str(package)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert ruff.returncode == 0, ruff.stdout + ruff.stderr
    mypy = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--python-version", "3.10", str(package)],
        capture_output=True, text=True, timeout=300, check=False, cwd=out,
    )  # fmt: skip
    assert mypy.returncode == 0, mypy.stdout + mypy.stderr
