"""Fidelity: generated ``Input`` classes agree with jsonschema on the official JSON Schema test suite.

Every group of each keyword file is wrapped as property ``value`` of an object input schema, twice:
once required, once optional (not in ``required``, so the generated field must also accept the
payload that leaves it out, and take ``null`` exactly when the group's schema does). For every test
datum, ``Input.model_validate({"value": data})`` must accept exactly when jsonschema's Draft 2020-12
validator accepts the same payload against the same wrapped schema; the optional wrapping adds the
empty payload ``{}``. A group the generator refuses (with a reason) is counted, never silently
skipped.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from pydantic import ValidationError

from runcomfy_codegen._errors import CodegenError
from runcomfy_codegen.pipeline import render_schema
from runcomfy_models._patterns import ecma_validator
from tests.conftest import DATA, load_module_from_source

SUITE = DATA / "json-schema-test-suite" / "tests" / "draft2020-12"
KEYWORD_FILES = [
    "type",
    "enum",
    "const",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "items",
    "prefixItems",
    "contains",
    "minContains",
    "maxContains",
    "minItems",
    "maxItems",
    "uniqueItems",
    "required",
    "properties",
    "additionalProperties",
    "patternProperties",
    "propertyNames",
    "dependentRequired",
    "minProperties",
    "maxProperties",
    "default",
    "anyOf",
    "oneOf",
    "allOf",
    "not",
    "if-then-else",
    "boolean_schema",
]

# jsonschema, with patterns matched as ECMA-262 (as JSON Schema specifies) rather than by Python's re:
# the two differ on `$` before a final newline, \d/\w on non-ASCII, \p{...} (see runtime/_patterns.py).
REFERENCE = ecma_validator

# Filled by the tests, printed at the end of the session (see conftest's terminal summary hook).
REPORT: dict[str, Counter[str]] = {}
REFUSALS: dict[str, list[str]] = {}


def wrap(schema: Any, required: bool = True) -> dict[str, Any]:
    wrapped: dict[str, Any] = {"type": "object", "properties": {"value": schema}}
    if isinstance(schema, dict) and "$defs" in schema:
        wrapped["$defs"] = schema["$defs"]  # so the group's "#/$defs/..." references still resolve
    if required:
        wrapped["required"] = ["value"]
    return wrapped


@pytest.mark.parametrize("wrapping", ["required", "optional"])
@pytest.mark.parametrize("name", KEYWORD_FILES)
def test_generated_models_agree_with_jsonschema(name: str, wrapping: str) -> None:
    groups = json.loads((SUITE / f"{name}.json").read_text(encoding="utf-8"))
    counts: Counter[str] = Counter()
    disagreements = []
    label = name if wrapping == "required" else f"{name} (optional)"
    for index, group in enumerate(groups):
        wrapped = wrap(group["schema"], required=wrapping == "required")
        try:
            source = render_schema("conformance/model", wrapped)
        except CodegenError as exc:
            counts["refused"] += len(group["tests"])
            REFUSALS.setdefault(label, []).append(f"{group['description']}: {exc}")
            continue
        module = load_module_from_source(
            source, f"runcomfy_models.catalog._conformance_{name.replace('-', '_')}_{wrapping}_{index}"
        )
        reference = REFERENCE(wrapped)
        cases = [(t["description"], {"value": t["data"]}, t["valid"]) for t in group["tests"]]
        if wrapping == "optional":
            cases.append(("value left out", {}, True))
        for description, payload, valid in cases:
            expected = reference.is_valid(payload)
            assert expected == valid, "the reference validator disagrees with the suite itself"
            try:
                module.Input.model_validate(payload)
                accepted = True
            except ValidationError:
                accepted = False
            if accepted == expected:
                counts["agreed"] += 1
            else:
                counts["disagreed"] += 1
                disagreements.append(
                    f"{group['description']} / {description}: payload={payload!r} "
                    f"jsonschema={'valid' if expected else 'invalid'} generated={'valid' if accepted else 'invalid'}"
                )
    REPORT[label] = counts
    assert not disagreements, "\n".join(disagreements)
