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
from runcomfy_models._patterns import (
    FALLBACK_TIMEOUT,
    PatternTimeoutError,
    ecma_search,
    ecma_validator,
    translate,
)
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


def test_a_pattern_that_needs_backtracking_runs_on_any_length() -> None:
    module = build(
        {"type": "string", "pattern": r"^(?!\s*$).+"}, "lookahead"
    )  # Rust's engine has no lookaround
    module.Input.model_validate({"value": "x" * 100_000})
    with pytest.raises(ValidationError, match=r"string_pattern_mismatch|should match pattern"):
        module.Input.model_validate({"value": "   "})


CATASTROPHIC_BACKTRACKING = [r"^(?!x)(a|a)*$", r"^(\w+)\1*(a|a)*$"]  # regex's own optimiser cannot save these


@pytest.mark.parametrize("pattern", CATASTROPHIC_BACKTRACKING)
def test_a_backtracking_pattern_is_bounded_in_time(pattern: str) -> None:
    module = build({"type": "string", "pattern": pattern}, "redos_fallback")
    hostile = "a" * 30 + "!"
    start = time.monotonic()
    with pytest.raises(ValidationError) as caught:
        module.Input.model_validate({"value": hostile})
    assert time.monotonic() - start < NO_HANG
    error = caught.value.errors()[0]
    assert error["type"] == "string_pattern_timeout" and error["loc"] == ("value",)
    assert repr(pattern) in error["msg"] and f"{FALLBACK_TIMEOUT} s" in error["msg"]
    with pytest.raises(PatternTimeoutError):
        ecma_search(pattern, hostile)
    assert ecma_search(pattern, "aaa") is True and ecma_search(pattern, "!") is False


@pytest.mark.parametrize("pattern", CATASTROPHIC_BACKTRACKING)
def test_the_jsonschema_path_uses_the_same_bounded_matcher(pattern: str) -> None:
    hostile = "a" * 30 + "!"
    schemas = [
        {"pattern": pattern},
        {"patternProperties": {pattern: {"type": "integer"}}},
        {"patternProperties": {pattern: True}, "additionalProperties": False},
        {"allOf": [{"patternProperties": {pattern: True}}], "unevaluatedProperties": False},
    ]
    instances = [hostile, {hostile: 1}, {hostile: 1}, {hostile: 1}]
    start = time.monotonic()
    for schema, instance in zip(schemas, instances, strict=True):
        errors = list(ecma_validator(schema).iter_errors(instance))
        assert any("bound of" in e.message for e in errors), errors
    assert time.monotonic() - start < NO_HANG
    module = build({"type": "string", "not": {"pattern": "^b"}, "pattern": pattern}, "redos_fallback_check")
    with pytest.raises(ValidationError, match="bound of"):
        module.Input.model_validate({"value": hostile})


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


def test_a_default_is_checked_at_generate_with_the_bounded_matcher() -> None:
    pattern = CATASTROPHIC_BACKTRACKING[0]
    start = time.monotonic()
    source = render_schema(
        "patterns/default", wrap({"type": "string", "pattern": pattern, "default": "a" * 30 + "!"})
    )
    assert time.monotonic() - start < NO_HANG
    assert "a" * 30 + "!" not in source.split("class Input", 1)[1].split("value:", 1)[1].split("\n")[0]


def test_a_slow_submit_does_not_hold_the_mock_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each request has its own thread, no lock is held while validating, and the bounded matcher
    (the regex package) releases the GIL: another client's request is answered meanwhile."""
    import threading

    import httpx

    import runcomfy_models
    from runcomfy_codegen.mock import MockServer

    slow = build(
        {"type": "array", "items": {"type": "string", "pattern": CATASTROPHIC_BACKTRACKING[0]}}, "slow_submit"
    )
    real_get = runcomfy_models.get
    monkeypatch.setattr(runcomfy_models, "get", lambda m: slow if m == "acme/slow" else real_get(m))
    finished: list[str] = []
    with MockServer() as server:
        headers = {"Authorization": f"Bearer {server.token}"}

        def submit() -> None:
            body = {"value": ["a" * 30 + "!"] * 4}  # four matches, each cut at FALLBACK_TIMEOUT
            reply = httpx.post(
                f"{server.base_url}/v1/models/acme/slow", json=body, headers=headers, timeout=NO_HANG * 4
            )
            assert reply.status_code == 422 and "bound of" in reply.text
            finished.append("submit")

        thread = threading.Thread(target=submit)
        start = time.monotonic()
        thread.start()
        while server.count("POST", "acme/slow") == 0 and time.monotonic() - start < NO_HANG:
            time.sleep(0.01)
        media = httpx.get(f"{server.base_url}/media/x.png", timeout=NO_HANG)
        assert media.status_code == 200 and media.content.startswith(b"\x89PNG")
        finished.append("media")
        thread.join(NO_HANG * 4)
    assert finished == ["media", "submit"]


def test_the_reported_case_ends_at_once() -> None:
    """``^(?!x)(a+)+$`` on ``"a"*30+"!"`` took 42 s with Python's ``re``; regex's optimiser ends it."""
    module = build({"type": "string", "pattern": "^(?!x)(a+)+$"}, "reported")
    start = time.monotonic()
    with pytest.raises(ValidationError, match=r"string_pattern_mismatch|should match pattern|bound of"):
        module.Input.model_validate({"value": "a" * 30 + "!"})
    assert time.monotonic() - start < NO_HANG
    module.Input.model_validate({"value": "a" * 30})
