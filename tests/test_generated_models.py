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
