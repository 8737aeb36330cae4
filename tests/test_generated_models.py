"""The generated package: the seed model's classes, JSON Schema semantics, the registry."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

import runcomfy_models
from tests.conftest import ROOT, SEED_ID

SEED_PAYLOAD = {
    "prompt": "A gentle breeze blows softly.",
    "first_frame_image_url": "https://playgrounds-storage-public.runcomfy.net/tools/7272/media-files/input-1-1.png",
}


@pytest.fixture(scope="module")
def seed() -> Any:
    return runcomfy_models.get(SEED_ID)


def test_registry_is_lazy_and_complete() -> None:
    import subprocess
    import sys

    code = (
        "import sys, runcomfy_models as m; "
        "assert not any(k.startswith('runcomfy_models.catalog.') for k in sys.modules), 'eager'; "
        "print(m.models()); m.get(m.models()[0]); "
        "assert any(k.startswith('runcomfy_models.catalog.') for k in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert SEED_ID in result.stdout
    with pytest.raises(KeyError, match="did you mean"):
        runcomfy_models.get("bytedance/seedance-v1.5-pro/image-to-vide")


def test_seed_example_payload_is_accepted_and_round_trips(seed: Any) -> None:
    model = seed.Input.model_validate(SEED_PAYLOAD)
    assert seed.MODEL_ID == SEED_ID
    assert model.to_payload() == SEED_PAYLOAD  # defaults are not sent: the service applies its own
    assert model.model_dump(mode="json", by_alias=True, exclude_unset=True) == SEED_PAYLOAD
    assert model.resolution == "480p" and model.duration == 5 and model.camera_fixed is True


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"resolution": "4k"}, "resolution"),
        ({"duration": 3}, "duration"),
        ({"duration": "5"}, "duration"),
        ({"duration": True}, "duration"),
        ({"duration": 5.5}, "duration"),
        ({"generate_audio": "true"}, "generate_audio"),
        ({"generate_audio": 1}, "generate_audio"),
        ({"prompt": 5}, "prompt"),
        ({"ratio": None}, "ratio"),
    ],
)
def test_seed_rejects_what_the_schema_rejects(seed: Any, change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        seed.Input.model_validate({**SEED_PAYLOAD, **change})
    assert info.value.errors()[0]["loc"][0] == field


def test_required_wins_over_default(seed: Any) -> None:
    for missing in ("prompt", "first_frame_image_url"):
        payload = {k: v for k, v in SEED_PAYLOAD.items() if k != missing}
        with pytest.raises(ValidationError) as info:
            seed.Input.model_validate(payload)
        assert info.value.errors()[0]["loc"] == (missing,)
        assert info.value.errors()[0]["type"] == "missing"


def test_integral_float_is_an_integer_as_in_json_schema(seed: Any) -> None:
    assert seed.Input.model_validate({**SEED_PAYLOAD, "duration": 6.0}).duration == 6


def test_media_rules_are_data_on_the_class(seed: Any) -> None:
    rules = seed.Input.runcomfy_media_rules
    assert [(r.metric, r.operator, r.value) for r in rules] == [
        ("width_pixels", "<", 6000),
        ("height_pixels", "<", 6000),
        ("width_pixels", ">", 300),
        ("height_pixels", ">", 300),
        ("width/height", ">", 0.4),
        ("width/height", "<", 2.5),
        ("file_size_mb", "<", 30),
    ]
    assert rules[0].message == "La largeur et la hauteur de l'image ne doivent pas dépasser 6000 pixels."
    assert seed.MEDIA_FIELDS == ("first_frame_image_url",)
    assert seed.Input.runcomfy_output is seed.Output


def test_output_parses_the_object_under_output_and_tolerates_extra_fields(seed: Any) -> None:
    out = seed.Output.model_validate({"video": "https://x/v.mp4", "seed_used": 7})
    assert out.video == "https://x/v.mp4"
    assert out.model_extra == {"seed_used": 7}
    with pytest.raises(ValidationError):
        seed.Output.model_validate({"videos": "https://x/v.mp4"})


def _random_value(rng: random.Random) -> Any:
    return rng.choice(
        [None, True, False, 0, 1, 5, 5.0, 5.5, -3, 2**40, "", "480p", "720p", "4k", "adaptive", "16:9", "x" * 3,
         [], ["a"], {}, {"a": 1}, 4, 12, 13, 1.0, "5"]
    )  # fmt: skip


def test_seed_input_agrees_with_jsonschema_on_random_payloads(seed: Any) -> None:
    """Differential fuzz: 3,000 deterministic random payloads, generated class vs jsonschema."""
    schema = json.loads((ROOT / "schemas" / SEED_ID / "input.json").read_text(encoding="utf-8"))
    reference = Draft202012Validator(schema)
    rng = random.Random(1234)
    names = [*schema["properties"], "extra_field"]
    disagreements = []
    for _ in range(3000):
        payload = {name: _random_value(rng) for name in names if rng.random() < 0.6}
        expected = reference.is_valid(payload)
        try:
            seed.Input.model_validate(payload)
            accepted = True
        except ValidationError:
            accepted = False
        if accepted != expected:
            disagreements.append(payload)
    assert disagreements == []


# --- real shapes: vendor keywords, optional + nullable, object defaults, native types -------------

VENDOR_SCHEMA: dict[str, Any] = {
    "$id": "https://example.com/models/acme/vendor",
    "type": "object",
    "required": ["prompt"],
    "x-order-properties": ["prompt", "steps"],
    "discriminator": {"propertyName": "kind"},
    "externalDocs": {"url": "https://example.com/docs"},
    "properties": {
        "prompt": {"type": "string", "x-order": 0, "example": "a cat", "xml": {"name": "p"}},
        "steps": {"type": "integer", "x-order": 1, "x-cog-file-input": False, "minimum": 1},
    },
}


def test_vendor_and_openapi_annotation_keywords_are_accepted_and_never_checked(compile_schema: Any) -> None:
    from runcomfy_codegen.pipeline import render_schema

    source = render_schema("acme/vendor", VENDOR_SCHEMA)
    assert "JsonSchemaCheck" not in source and "x-order" not in source
    module = compile_schema(VENDOR_SCHEMA)
    assert module.Input.model_validate({"prompt": "p", "steps": 2}).to_payload() == {
        "prompt": "p",
        "steps": 2,
    }
    with pytest.raises(ValidationError):
        module.Input.model_validate({"prompt": "p", "steps": 0})


def test_other_unknown_keywords_are_refused_or_not_enforced_with_a_truthful_warning(
    compile_schema: Any,
) -> None:
    from runcomfy_codegen._errors import SchemaError
    from runcomfy_codegen.pipeline import render_schema

    schema = {"type": "object", "properties": {"a": {"type": "string", "widget": "slider"}}}
    with pytest.raises(SchemaError, match="unknown keyword 'widget'"):
        render_schema("acme/u", schema)
    source = render_schema("acme/u", schema, allow_unknown=True)
    assert "JsonSchemaCheck" not in source
    assert "unknown keyword 'widget' is not enforced" in source  # the warning written into the module


NULLABLE_SHAPES: list[Any] = [
    {"type": ["integer", "null"]},
    {"anyOf": [{"type": "string", "maxLength": 3}, {"type": "null"}]},
    {"oneOf": [{"type": "null"}, {"type": "number", "minimum": 0}]},
    {"enum": ["a", "b", None]},
    {},
    {"type": "integer"},  # optional, null refused
    {"anyOf": [{"type": "object", "properties": {"x": {"type": "integer"}}}, {"type": "null"}]},
]
VALUES = [None, 1, -1, 2.5, "a", "abcd", True, {"x": 1}, {"x": "1"}, [], {}]


@pytest.mark.parametrize("shape", NULLABLE_SHAPES, ids=[json.dumps(s) for s in NULLABLE_SHAPES])
@pytest.mark.parametrize("where", ["input", "nested input", "output"])
def test_an_optional_property_may_be_left_out_and_takes_null_exactly_when_allowed(
    compile_schema: Any, shape: Any, where: str
) -> None:
    obj: dict[str, Any] = {"type": "object", "properties": {"f": shape}}
    if where == "nested input":
        obj = {"type": "object", "required": ["o"], "properties": {"o": obj}}
    input_schema = obj if where != "output" else {"type": "object"}
    output = {"output": obj} if where == "output" else None
    module = compile_schema(input_schema, output)
    cls = module.Output if where == "output" else module.Input
    reference = Draft202012Validator(obj)
    wrap = (lambda p: {"o": p}) if where == "nested input" else (lambda p: p)
    for payload in [{}, *({"f": v} for v in VALUES)]:
        expected = reference.is_valid(wrap(payload))
        try:
            built = cls.model_validate(wrap(payload))
            accepted = True
        except ValidationError:
            accepted = False
        assert accepted == expected, (payload, expected)
        if accepted and where == "input":
            assert built.to_payload() == payload  # left out: not sent; null: sent as null


def test_object_defaults_are_model_instances_and_the_module_passes_mypy_strict(tmp_path: Any) -> None:
    import subprocess
    import sys

    from runcomfy_codegen.pipeline import render_schema
    from tests.conftest import load_module_from_source

    schema = {
        "type": "object",
        "$defs": {
            "voice": {"type": "object", "properties": {"speed": {"type": "number"}, "id": {"type": "string"}}}
        },
        "properties": {
            "voice_setting": {"$ref": "#/$defs/voice", "default": {"speed": 1.0, "id": "v1"}},
            "voices": {"type": "array", "items": {"$ref": "#/$defs/voice"}, "default": [{"speed": 2}]},
            "maybe": {"anyOf": [{"$ref": "#/$defs/voice"}, {"type": "null"}], "default": {"id": "m"}},
            "bad": {"$ref": "#/$defs/voice", "default": {"speed": "fast"}},  # refused by its own schema
        },
    }
    source = render_schema("acme/defaults", schema)
    module = load_module_from_source(source, "runcomfy_models.catalog._defaults")
    value = module.Input()
    assert value.voice_setting.speed == 1.0 and value.voice_setting.id == "v1"
    assert value.voices[0].speed == 2 and value.maybe.id == "m"
    assert value.bad is None and "the default does not satisfy the schema" in source
    assert value.to_payload() == {}  # defaults are not sent
    assert module.Input().voice_setting is not value.voice_setting  # a fresh instance each time
    path = tmp_path / "defaults_module.py"
    path.write_text(source, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(path)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout


def test_real_shapes_get_native_types(compile_schema: Any) -> None:
    from runcomfy_codegen.pipeline import render_schema

    schema = {
        "type": "object",
        "$defs": {
            "aspect_ratio": {"type": "string", "enum": ["16:9", "1:1"], "title": "AspectRatio"},
            "box": {"type": "object", "required": ["w"], "properties": {"w": {"type": "integer"}}},
        },
        "properties": {
            "aspect": {
                "allOf": [{"$ref": "#/$defs/aspect_ratio"}],
                "default": "16:9",
                "description": "ratio",
            },
            "seed": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None},
            "box": {"$ref": "#/$defs/box"},
            "kind": {"const": "video"},
            "n": {"type": ["number", "string"]},
            "shape": {"oneOf": [{"$ref": "#/$defs/box"}, {"type": "string", "enum": ["square"]}]},
        },
    }
    source = render_schema("acme/shapes", schema)
    assert "JsonSchemaCheck" not in source and "JsonValue" not in source
    assert (
        'aspect: Literal["16:9", "1:1"] = Field(default="16:9", title="AspectRatio", description="ratio")'
        in source
    )
    assert "seed: JsonInt | None = Field(default=None)" in source
    assert (
        "class Box(RunComfyModel):" in source and source.count("class Box") == 1
    )  # one class per $defs object
    assert "box: Omittable[Box]" in source
    assert 'kind: Omittable[Literal["video"]]' in source
    assert "n: Omittable[JsonNumber | str]" in source
    assert 'shape: Omittable[Box | Literal["square"]]' in source
    module = compile_schema(schema)
    ok = module.Input.model_validate({"aspect": "1:1", "seed": None, "box": {"w": 1}, "shape": {"w": 2}})
    assert ok.aspect == "1:1" and ok.box.w == 1
    for bad in ({"aspect": "4:3"}, {"box": {}}, {"kind": "image"}, {"shape": "round"}, {"seed": 1.5}):
        with pytest.raises(ValidationError):
            module.Input.model_validate(bad)


def test_a_oneof_whose_branches_overlap_stays_exact_through_jsonschema(compile_schema: Any) -> None:
    schema = {
        "type": "object",
        "properties": {"v": {"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 2}]}},
    }
    module = compile_schema(schema)
    module.Input.model_validate({"v": 1})
    module.Input.model_validate({"v": 2.5})
    with pytest.raises(ValidationError):
        module.Input.model_validate({"v": 3})  # both branches match: oneOf refuses
