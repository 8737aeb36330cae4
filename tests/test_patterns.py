"""``pattern`` follows ECMA-262 (as JSON Schema specifies) and runs in linear time.

The official suite's optional ``ecmascript-regex.json`` is the oracle here, not jsonschema: where
jsonschema (Python's ``re``) differs from the spec, the generated models follow the spec.
Time bounds are generous "no hang" bounds; speed lives in benchmarks/.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from runcomfy_codegen._errors import CodegenError
from runcomfy_codegen.pipeline import render_schema
from runcomfy_models._types import FALLBACK_MAX_CHARS, ecma_search, translate
from tests.conftest import DATA, load_module_from_source

SUITE = DATA / "json-schema-test-suite" / "tests" / "draft2020-12" / "optional" / "ecmascript-regex.json"
NO_HANG = 10.0


def wrap(schema: Any) -> dict[str, Any]:
    return {"type": "object", "required": ["value"], "properties": {"value": schema}}


def build(schema: Any, name: str) -> Any:
    return load_module_from_source(
        render_schema("patterns/model", wrap(schema)), f"runcomfy_models.catalog._{name}"
    )


GROUPS = json.loads(SUITE.read_text(encoding="utf-8"))


@pytest.mark.parametrize("index", range(len(GROUPS)), ids=[g["description"][:60] for g in GROUPS])
def test_the_official_ecma_262_regex_tests(index: int) -> None:
    group = GROUPS[index]
    module = build(group["schema"], f"ecma_{index}")
    for test in group["tests"]:
        try:
            module.Input.model_validate({"value": test["data"]})
            accepted = True
        except ValidationError:
            accepted = False
        assert accepted == test["valid"], f"{group['description']} / {test['description']}: {test['data']!r}"


def test_where_jsonschema_differs_the_spec_wins() -> None:
    module = build({"type": "string", "pattern": "^abc$"}, "dollar")
    assert Draft202012Validator(wrap({"type": "string", "pattern": "^abc$"})).is_valid({"value": "abc\n"})
    with pytest.raises(ValidationError, match=r"string_pattern_mismatch|should match pattern"):
        module.Input.model_validate({"value": "abc\n"})
    module.Input.model_validate({"value": "abc"})


@pytest.mark.parametrize("pattern", ["^(a+)+$", "^(a|a)*$", "^(a|aa)+$", "^([a-z]+)*[0-9]$", r"^(\w+\s?)*$"])
def test_catastrophic_patterns_run_in_linear_time(pattern: str) -> None:
    module = build({"type": "string", "pattern": pattern}, "redos")
    checked = build({"type": "object", "patternProperties": {pattern: {"type": "integer"}}}, "redos_check")
    hostile = "a" * 50_000 + "!"
    start = time.monotonic()
    with pytest.raises(ValidationError):
        module.Input.model_validate({"value": hostile})
    checked.Input.model_validate({"value": {hostile: "not checked: the key does not match"}})
    assert time.monotonic() - start < NO_HANG


def test_a_pattern_that_needs_backtracking_runs_on_bounded_input() -> None:
    module = build(
        {"type": "string", "pattern": r"^(?!\s*$).+"}, "lookahead"
    )  # Rust's engine has no lookaround
    module.Input.model_validate({"value": "x" * FALLBACK_MAX_CHARS})
    with pytest.raises(ValidationError, match=r"string_pattern_mismatch|should match pattern"):
        module.Input.model_validate({"value": "   "})
    with pytest.raises(ValidationError, match="backtracking"):
        module.Input.model_validate({"value": "x" * (FALLBACK_MAX_CHARS + 1)})


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        (r"^\d$", "٣", False),
        (r"^.$", "\n", False),
        (r"^.$", "\u2028", False),
        (r"^[^]$", "\n", True),
        (r"^[]$", "", False),
        (r"\bcat\b", "a cat!", True),
        (r"^\u00e9$", "é", True),
        (r"^\u{1F600}$", "😀", True),
        (r"^\uD83D\uDE00$", "😀", True),
        (r"^[a\-z]$", "-", True),
        (r"^[\d-x]$", "-", True),
        (r"^[[]$", "[", True),
        (r"^a&&b$", "a&&b", True),
        (r"^[a&&b]$", "&", True),
        (r"^\/$", "/", True),
        (r"(?<year>\d{4})-\k<year>", "2020-2020", True),
        (r"^\cJ$", "\n", True),
        (r"a{", "a{", True),
    ],
)
def test_translation_details(pattern: str, text: str, expected: bool) -> None:
    assert ecma_search(pattern, text) is expected
    translate(pattern, rust=False)  # the fallback translation exists too


def test_a_pattern_neither_engine_runs_is_refused_at_generate() -> None:
    with pytest.raises(CodegenError, match="ECMA-262"):
        render_schema("patterns/bad", wrap({"type": "string", "pattern": "(unclosed"}))
