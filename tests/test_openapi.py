"""``openapi``: a valid OpenAPI 3.1 document, from which openapi-python-client makes an importable client."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from runcomfy_codegen.cli import main
from tests.conftest import SEED_ID


@pytest.fixture
def document(capsys: pytest.CaptureFixture[str]) -> dict:  # type: ignore[type-arg]
    assert main(["openapi"]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_the_document_is_valid_openapi_3_1(document: dict) -> None:  # type: ignore[type-arg]
    validate(document)
    assert document["openapi"] == "3.1.0"
    submit = document["paths"][f"/v1/models/{SEED_ID}"]["post"]
    assert submit["x-runcomfy-model-id"] == SEED_ID
    schema = document["components"]["schemas"]["BytedanceSeedanceV15ProImageToVideoInput"]
    rules = schema["properties"]["first_frame_image_url"]["x-runcomfy-validations"]
    assert rules[0] == {"validation_rule": "width_pixels<", "validation_value": 6000,
                        "validation_error": "La largeur et la hauteur de l'image ne doivent pas dépasser 6000 pixels."}  # fmt: skip
    assert "validations" not in json.dumps(schema).replace("x-runcomfy-validations", "")
    assert set(document["paths"]) >= {
        "/v1/requests/{request_id}/status", "/v1/requests/{request_id}/result", "/v1/requests/{request_id}/cancel"
    }  # fmt: skip
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_model_ids_with_spaces_are_percent_encoded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "schemas"
    shutil.copytree(Path(__file__).parent.parent / "schemas", store)
    shutil.copytree(store / SEED_ID, store / "minimax/Hailuo Video 01 Live")
    assert main(["openapi", "--schemas", str(store)]) == 0
    document = json.loads(capsys.readouterr().out)
    validate(document)
    assert "/v1/models/minimax/Hailuo%20Video%2001%20Live" in document["paths"]


def test_openapi_python_client_generates_an_importable_client(document: dict, tmp_path: Path) -> None:  # type: ignore[type-arg]
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(document), encoding="utf-8")
    config = tmp_path / "config.yml"
    config.write_text("post_hooks: []\npackage_name_override: runcomfy_openapi_client\n", encoding="utf-8")
    tool = Path(sys.executable).parent / "openapi-python-client"
    result = subprocess.run(
        [str(tool), "generate", "--path", str(spec), "--config", str(config), "--meta", "none"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    code = (
        "import importlib, pkgutil, runcomfy_openapi_client as c\n"
        "names = [m.name for m in pkgutil.walk_packages(c.__path__, 'runcomfy_openapi_client.')]\n"
        "[importlib.import_module(n) for n in names]\n"
        "from runcomfy_openapi_client.models import BytedanceSeedanceV15ProImageToVideoInput as I\n"
        "print(I.from_dict({'prompt': 'x', 'first_frame_image_url': 'u'}).to_dict())\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, run.stderr
    assert "'prompt': 'x'" in run.stdout


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_every_ref_resolves_inside_the_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "schemas" / "acme" / "refs"
    folder.mkdir(parents=True)
    schema = {
        "type": "object",
        "$id": "https://example.com/acme/refs",
        "$defs": {
            "ratio": {"type": "string", "enum": ["16:9", "1:1"]},
            "pos": {"type": "integer", "minimum": 0},
        },
        "properties": {
            "aspect": {"allOf": [{"$ref": "#/$defs/ratio"}], "default": "16:9", "x-order": 1},
            "n": {"anyOf": [{"$ref": "#/$defs/pos"}, {"type": "null"}]},
            "size": {"$ref": "#/properties/n"},
        },
    }
    (folder / "input.json").write_text(json.dumps(schema), encoding="utf-8")
    (folder / "output.json").write_text(json.dumps({"output": {"type": "object"}}), encoding="utf-8")
    assert main(["openapi", "--schemas", str(tmp_path / "schemas")]) == 0
    document = json.loads(capsys.readouterr().out)
    validate(document)
    for ref in _refs(document):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.split("/")[-1] in document["components"]["schemas"]
    component = document["components"]["schemas"]["AcmeRefsInput"]
    assert component["properties"]["aspect"]["enum"] == ["16:9", "1:1"]
    assert component["properties"]["aspect"]["x-order"] == 1  # vendor annotations kept as metadata
    assert "$defs" not in component
