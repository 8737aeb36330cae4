"""Differential test at scale: generated ``Input`` classes vs jsonschema on RunComfy-style synthetic
models (``benchmarks/make_schemas.py``), with payloads built from each schema and then mutated."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from pydantic import ValidationError

from runcomfy_codegen.pipeline import render_schema
from tests.conftest import MAKE_SCHEMAS, load_module_from_source

ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    1.0,
    2.5,
    2**31,
    "",
    "x",
    "5",
    [],
    ["a"],
    [1],
    {},
    {"a": 1},
]


def _valid_value(spec: dict[str, Any], rng: random.Random) -> Any:
    if "enum" in spec:
        return rng.choice(spec["enum"])
    kind = spec.get("type")
    if kind == "integer":
        return rng.randint(int(spec.get("minimum", 0)), int(spec.get("maximum", 100)))
    if kind == "number":
        return rng.uniform(spec.get("minimum", 0), spec.get("maximum", 10))
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "array":
        return [
            f"https://example.invalid/{i}.png"
            for i in range(rng.randint(spec.get("minItems", 0), spec.get("maxItems", 3)))
        ]
    return "text " * rng.randint(0, 3)


def test_generated_inputs_agree_with_jsonschema_on_synthetic_models(tmp_path: Path) -> None:
    store = tmp_path / "schemas"
    subprocess.run(
        [sys.executable, str(MAKE_SCHEMAS), str(store), "-n", "25", "--seed", "3"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    rng = random.Random(11)
    checked = accepted_count = 0
    disagreements = []
    for index, input_file in enumerate(sorted(store.rglob("input.json"))):
        schema = json.loads(input_file.read_text(encoding="utf-8"))
        module = load_module_from_source(
            render_schema("synthetic/model", schema), f"runcomfy_models.catalog._syn_{index}"
        )
        reference = Draft202012Validator(schema)
        properties = schema["properties"]
        for _ in range(120):
            required = set(schema.get("required", [])) if rng.random() < 0.9 else set()
            payload = {
                name: _valid_value(spec, rng)
                for name, spec in properties.items()
                if name in required or rng.random() < 0.6
            }
            if rng.random() < 0.5:  # mutate one field to an odd value
                payload[rng.choice(list(properties))] = rng.choice(ODD_VALUES)
            expected = reference.is_valid(payload)
            try:
                module.Input.model_validate(payload)
                accepted = True
            except ValidationError:
                accepted = False
            checked += 1
            accepted_count += accepted
            if accepted != expected:
                disagreements.append((input_file.parent.name, payload, expected))
    assert checked == 25 * 120
    assert 0.2 < accepted_count / checked < 0.8, accepted_count  # both answers are exercised
    assert disagreements == []
