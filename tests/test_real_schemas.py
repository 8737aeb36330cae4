"""Differential test on real published model schemas (``tests/data/real_schemas``).

Each model of the corpus (31: 21 Cog models, the packaging Replicate hosts, and 10 OpenAI image,
audio and video endpoints; converted to RunComfy's shape by ``tests/data/real_schemas/convert.py``;
sources and licences in ``SOURCES.md``) is generated through the CLI (``runcomfy-codegen generate``,
default flags), imported, and compared with jsonschema (Draft 2020-12), the reference:

* **inputs**: payloads that hypothesis-jsonschema draws from ``input.json``, each followed by its
  mutations (a required key left out, each property set to ``null``, to values of every other JSON
  type, out of its range, outside its enum; the optional keys dropped; extra keys added) must be
  accepted or refused by ``Input.model_validate`` exactly as jsonschema decides; and an accepted
  payload's ``to_payload()`` must be valid and that same payload (JSON equality: nothing unset is
  sent, nothing given is dropped or changed);
* **outputs**: objects drawn from the ``output`` schema, with the same mutations, and the sources'
  published example responses (``examples/``), against ``Output.model_validate``;
* **the code**: the generated packages pass ruff and mypy --strict, and no vendor keyword or
  annotation becomes a ``JsonSchemaCheck`` keyword.

Bounded and deterministic: a fixed number of derandomized examples per model, no deadline, no
example database. Disagreements are collected and reported together (model, case, payload, both
verdicts), so a failure reads as a list of findings rather than one shrunk example.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import math
import subprocess
import sys
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ValidationError

from runcomfy_codegen import cli
from runcomfy_codegen.model_id import module_name
from tests.conftest import DATA, load_module_from_source

REAL = DATA / "real_schemas"
STORE = REAL / "store"
SOURCES: list[dict[str, Any]] = json.loads((REAL / "sources.json").read_text(encoding="utf-8"))
MODEL_IDS = [entry["model_id"] for entry in SOURCES]

INPUT_EXAMPLES = 20
OUTPUT_EXAMPLES = 6
# hypothesis-jsonschema needs ~1 s a value for this oneOf of three response shapes that share keys
# (a value must match exactly one), so fewer values are drawn there.
OUTPUT_EXAMPLES_FOR = {"openai/audio/transcriptions": 3}
FULLY_MUTATED = 8  # payloads per model whose every property is mutated (the rest: required-key cases)
MAX_REPORTED = 12

# Generator gaps still open, by model id: the reason names the gap. Each is a strict xfail, so a fix
# turns it into a failure until its entry is removed here. (Empty: the issue-11 gaps this corpus
# found, x-order refused, optional anyOf [T, null] made required, allOf[$ref] enums as JsonValue,
# are fixed.)
INPUT_GAPS: dict[str, str] = {}
OUTPUT_GAPS: dict[str, str] = {}
# F6 (a 'number' given an integer above 2**53 was sent as a float) is fixed by _types.JsonNumber.
SENT_GAPS: dict[str, str] = {}
# Models whose published schema carries a keyword that is neither JSON Schema nor an annotation
# (``x-*``, OpenAPI's ``example``...): the generator refuses it by default, by design (issue 11: other
# unknown keywords keep today's behaviour). Model id -> that keyword.
NOT_JSON_SCHEMA: dict[str, str] = {"openai/audio/transcriptions": "optional"}
GENERATE_FLAGS: list[str] = []  # the generator's defaults, as `runcomfy-codegen generate` runs

EXTRA_KEYS: tuple[tuple[str, Any], ...] = (("zz_extra", 1), ("class_", "x"), ("model_config", None))
ODD_VALUES: tuple[Any, ...] = (None, True, False, 0, -1, 1.5, 2**53 + 1, "", "5", "x", [], [1], {}, {"a": 1})


def _params(gaps: dict[str, str]) -> list[Any]:
    return [
        pytest.param(
            model_id,
            id=model_id,
            marks=[pytest.mark.xfail(strict=True, reason=gaps[model_id])] if model_id in gaps else [],
        )
        for model_id in MODEL_IDS
    ]


@dataclass
class Corpus:
    catalogs: dict[str, Path]
    """model id -> the generated catalog folder its module is read from."""
    refusals: dict[str, str] = field(default_factory=dict)
    modules: dict[str, Any] = field(default_factory=dict)
    input_runs: dict[str, tuple[int, list[Finding], list[Finding]]] = field(default_factory=dict)

    def module(self, model_id: str) -> Any:
        if model_id in self.refusals:
            pytest.fail(f"{model_id}: generate refused the schema: {self.refusals[model_id]}", pytrace=False)
        if model_id not in self.modules:
            name = module_name(model_id)
            path = self.catalogs[model_id] / f"{name}.py"
            assert path.is_file(), f"{model_id}: generate wrote no module {path.name}"
            self.modules[model_id] = load_module_from_source(
                path.read_text(encoding="utf-8"), f"runcomfy_models.catalog._real_{name}"
            )
        return self.modules[model_id]


def _generate(out: Path, *args: str) -> dict[str, str]:
    """Run ``runcomfy-codegen generate --keep-going ARGS`` into ``out``; model id -> refusal line."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = cli.main(["generate", "--schemas", str(STORE), "--out", str(out), "--keep-going", *args])
    refusals: dict[str, str] = {}
    for line in stderr.getvalue().splitlines():
        if not line.startswith("error:"):
            continue
        for model_id in MODEL_IDS:
            if f"/{model_id}/" in line:
                refusals.setdefault(model_id, line.strip())
    assert code == 0 or refusals, f"generate exited {code}:\n{stderr.getvalue()}"
    return refusals


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    """Every corpus model generated in one ``runcomfy-codegen generate --keep-going`` run with the
    generator's defaults; the few models that carry a keyword outside JSON Schema (``NOT_JSON_SCHEMA``)
    must be refused there, naming that keyword, and are then generated with ``--allow-unknown``."""
    out = tmp_path_factory.mktemp("real_corpus")
    refusals = _generate(out / "default", *GENERATE_FLAGS)
    catalogs = dict.fromkeys(MODEL_IDS, out / "default" / "runcomfy_models" / "catalog")
    for model_id, keyword in NOT_JSON_SCHEMA.items():
        line = refusals.pop(model_id, "")
        assert f"unknown keyword {keyword!r}" in line, (
            f"{model_id}: expected a refusal naming {keyword!r}, got {line!r}"
        )
    if NOT_JSON_SCHEMA:
        refusals.update(_generate(out / "allow", "--allow-unknown", *NOT_JSON_SCHEMA))
        catalogs.update(dict.fromkeys(NOT_JSON_SCHEMA, out / "allow" / "runcomfy_models" / "catalog"))
    yield Corpus(catalogs, refusals)
    for name in [n for n in sys.modules if n.startswith("runcomfy_models.catalog._real_")]:
        del sys.modules[name]


# --- schema helpers --------------------------------------------------------------------------------


def _load(model_id: str, name: str) -> Any:
    return json.loads((STORE / model_id / name).read_text(encoding="utf-8"))


def _resolve(node: Any, root: dict[str, Any]) -> dict[str, Any]:
    """The constraint-bearing view of a property schema: one ``$ref``/``allOf`` level followed, the
    non-null branch of ``anyOf: [X, null]`` taken (enough to pick mutations; jsonschema judges)."""
    if not isinstance(node, dict):
        return {}
    merged = dict(node)
    if isinstance(merged.get("$ref"), str) and merged["$ref"].startswith("#/$defs/"):
        merged = {**root.get("$defs", {}).get(merged["$ref"][len("#/$defs/") :], {}), **merged}
    for branch in merged.get("allOf", []):
        merged = {**_resolve(branch, root), **merged}
    for branch in merged.get("anyOf", []):
        if isinstance(branch, dict) and branch.get("type") != "null":
            merged = {**_resolve(branch, root), **merged}
    return merged


def _out_of_range(spec: dict[str, Any]) -> list[Any]:
    values: list[Any] = []
    for key in ("minimum", "exclusiveMinimum"):
        if isinstance(spec.get(key), (int, float)):
            values += [spec[key] - 1, spec[key] - 0.5]
    for key in ("maximum", "exclusiveMaximum"):
        if isinstance(spec.get(key), (int, float)):
            values += [spec[key] + 1, spec[key] + 0.5]
    if isinstance(spec.get("maxLength"), int):
        values.append("x" * (spec["maxLength"] + 1))
    if isinstance(spec.get("minItems"), int) and spec["minItems"] > 0:
        values.append([])
    return values


def _outside_enum(spec: dict[str, Any]) -> list[Any]:
    options = spec.get("enum")
    if not isinstance(options, list):
        return []
    values: list[Any] = ["not-an-option"]
    numbers = [o for o in options if isinstance(o, (int, float)) and not isinstance(o, bool)]
    if numbers:
        values += [max(numbers) + 1, True]
    if any(isinstance(o, str) for o in options):
        values += [str(options[0]).upper() + "_", 0]
    return values


def mutations(
    payload: dict[str, Any], schema: dict[str, Any], full: bool = True
) -> Iterator[tuple[str, Any]]:
    """(case, mutated payload) pairs around one valid payload (``full=False``: only the payload, its
    required keys alone and each required key left out)."""
    properties = schema.get("properties", {})
    required = [name for name in schema.get("required", []) if isinstance(name, str)]
    yield "as drawn", payload
    yield "required keys only", {k: v for k, v in payload.items() if k in required}
    for name in required:
        if name in payload:
            yield f"without required {name!r}", {k: v for k, v in payload.items() if k != name}
    if not full:
        return
    for name, spec in properties.items():
        resolved = _resolve(spec, schema)
        for value in (*ODD_VALUES, *_out_of_range(resolved), *_outside_enum(resolved)):
            yield f"{name}={value!r}", {**payload, name: value}
    for key, value in EXTRA_KEYS:
        yield f"extra {key!r}", {**payload, key: value}


# --- the differential check ------------------------------------------------------------------------


@dataclass
class Finding:
    case: str
    payload: Any
    jsonschema_valid: bool
    generated_valid: bool
    detail: str = ""

    def line(self) -> str:
        text = json.dumps(self.payload, ensure_ascii=True, default=repr)
        if len(text) > 300:
            text = text[:297] + "..."
        return (
            f"{self.case}: jsonschema {'accepts' if self.jsonschema_valid else 'refuses'}, "
            f"generated {'accepts' if self.generated_valid else 'refuses'}; payload {text}"
            + (f" ({self.detail})" if self.detail else "")
        )


def _generated_verdict(model: Any, value: Any) -> tuple[bool, Any, str]:
    try:
        return True, model.model_validate(value), ""
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        return False, None, f"{where}: {first.get('msg', '')}"[:160]


def differential(
    model: Any, schema: dict[str, Any], payloads: list[dict[str, Any]], roundtrip: Callable[[Any], Any] | None
) -> tuple[int, list[Finding], list[Finding]]:
    """(payloads checked, verdict disagreements, sent-payload findings): every payload and mutation
    judged by jsonschema and the generated model; with ``roundtrip``, an accepted payload's
    ``roundtrip(instance)`` must be valid and JSON-equal to the payload given."""
    reference = Draft202012Validator(schema)
    checked, findings, sent_findings, seen = 0, [], [], set()
    for index, payload in enumerate(payloads):
        for case, candidate in mutations(payload, schema, full=index < FULLY_MUTATED):
            key = json.dumps(candidate, sort_keys=True, default=repr)
            if key in seen:
                continue
            seen.add(key)
            checked += 1
            expected = reference.is_valid(candidate)
            actual, instance, detail = _generated_verdict(model, candidate)
            if expected != actual:
                findings.append(Finding(case, candidate, expected, actual, detail))
            elif actual and roundtrip is not None:
                sent = roundtrip(instance)
                if not reference.is_valid(sent):
                    sent_findings.append(
                        Finding(f"{case} -> sent", sent, False, True, "sent payload invalid")
                    )
                elif not _same_json(sent, candidate):
                    sent_findings.append(
                        Finding(f"{case} -> sent", sent, True, True, "differs from the payload given")
                    )
    return checked, findings, sent_findings


def _same_json(a: Any, b: Any) -> bool:
    """JSON equality: ``1`` equals ``1.0`` (JSON Schema's numbers), ``true`` never equals ``1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def draw(schema: dict[str, Any], count: int) -> list[Any]:
    """``count`` derandomized values from hypothesis-jsonschema (no deadline, no database)."""
    drawn: list[Any] = []
    strategy = from_schema(schema, custom_formats={"binary": st.text(max_size=8)})

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: Any) -> None:
        drawn.append(value)

    collect()
    return drawn


def _report(model_id: str, role: str, checked: int, findings: list[Finding]) -> str:
    lines = [f"{model_id} {role}: {len(findings)} disagreement(s) in {checked} payloads"]
    lines += [f"  {finding.line()}" for finding in findings[:MAX_REPORTED]]
    if len(findings) > MAX_REPORTED:
        lines.append(f"  ... and {len(findings) - MAX_REPORTED} more")
    return "\n".join(lines)


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    return True


def _input_run(model_id: str, corpus: Corpus) -> tuple[int, list[Finding], list[Finding]]:
    """The input differential of one model, run once and shared by the two input tests."""
    if model_id not in corpus.input_runs:
        module = corpus.module(model_id)
        schema = _load(model_id, "input.json")
        payloads = [p for p in draw(schema, INPUT_EXAMPLES) if isinstance(p, dict) and _finite(p)]
        assert payloads, f"{model_id}: hypothesis-jsonschema drew no payload"
        corpus.input_runs[model_id] = differential(module.Input, schema, payloads, lambda i: i.to_payload())
    return corpus.input_runs[model_id]


@pytest.mark.parametrize("model_id", _params(INPUT_GAPS))
def test_input_agrees_with_jsonschema(model_id: str, corpus: Corpus) -> None:
    checked, findings, _ = _input_run(model_id, corpus)
    if findings:
        pytest.fail(_report(model_id, "Input", checked, findings), pytrace=False)


@pytest.mark.parametrize("model_id", _params(SENT_GAPS))
def test_sent_payload_is_the_payload_given(model_id: str, corpus: Corpus) -> None:
    """An accepted payload is sent as given: ``to_payload()`` is valid and JSON-equal to it (nothing
    unset added, nothing given dropped or altered; ``1.0`` may become ``1``)."""
    checked, _, sent_findings = _input_run(model_id, corpus)
    if sent_findings:
        pytest.fail(_report(model_id, "Input.to_payload()", checked, sent_findings), pytrace=False)


@pytest.mark.parametrize("model_id", _params(OUTPUT_GAPS))
def test_output_agrees_with_jsonschema(model_id: str, corpus: Corpus) -> None:
    module = corpus.module(model_id)
    schema = _load(model_id, "output.json")["output"]
    outputs = [
        o
        for o in draw(schema, OUTPUT_EXAMPLES_FOR.get(model_id, OUTPUT_EXAMPLES))
        if isinstance(o, dict) and _finite(o)
    ]
    assert outputs, f"{model_id}: hypothesis-jsonschema drew no output"
    checked, findings, _ = differential(module.Output, schema, outputs, None)
    if findings:
        pytest.fail(_report(model_id, "Output", checked, findings), pytrace=False)


def test_store_is_the_converters_output() -> None:
    """``store/`` is exactly what ``convert.py`` makes of ``raw/`` (so the corpus is reproducible)."""
    spec = importlib.util.spec_from_file_location("_real_schemas_convert", REAL / "convert.py")
    assert spec is not None and spec.loader is not None
    convert = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(convert)
    with contextlib.redirect_stdout(io.StringIO()) as out:
        code = convert.main(["--check"])
    assert code == 0, out.getvalue()
    assert sorted(p.parent.relative_to(STORE).as_posix() for p in STORE.rglob("input.json")) == sorted(
        MODEL_IDS
    )


def test_the_harness_reports_a_lax_model() -> None:
    """The differential check itself: a lax hand-written model (``"5"`` for an integer, ``null`` for
    a non-nullable field) is caught, with both verdicts and the offending payload."""

    class Lax(BaseModel):
        count: int | None = None

    schema = {
        "type": "object",
        "properties": {"count": {"type": "integer", "minimum": 1}},
        "required": ["count"],
    }
    checked, findings, _ = differential(Lax, schema, [{"count": 3}], None)
    cases = {finding.case for finding in findings}
    assert {"without required 'count'", "count=None", "count='5'", "count=0"} <= cases, cases
    assert all(f.generated_valid and not f.jsonschema_valid for f in findings)
    assert checked > len(findings) > 0


ANNOTATIONS = frozenset(
    {"title", "description", "default", "examples", "example", "discriminator", "externalDocs", "xml"}
)


def _checks_of(annotation: Any, metadata: list[Any]) -> Iterator[Any]:
    stack = [*metadata, annotation]
    while stack:
        node = stack.pop()
        if type(node).__name__ == "JsonSchemaCheck":
            yield node
        stack.extend(getattr(node, "__metadata__", ()))
        stack.extend(
            a for a in typing.get_args(node) if not isinstance(a, (str, int, float, bool, type(None)))
        )


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_annotations_are_never_checked(model_id: str, corpus: Corpus) -> None:
    """Vendor keywords (``x-order``, ``x-oaiTypeLabel``...) and annotations never reach a
    ``JsonSchemaCheck`` as keywords of their own: whatever the generator cannot state natively is
    checked, nothing else."""
    module = corpus.module(model_id)
    classes = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, BaseModel)]
    for cls in classes:
        for name, info in cls.model_fields.items():
            for check in _checks_of(info.annotation, list(info.metadata)):
                keywords = set(check.schema) if isinstance(check.schema, dict) else set()
                wrong = {k for k in keywords if k.startswith("x-") or k in ANNOTATIONS}
                assert not wrong, f"{model_id} {cls.__name__}.{name}: JsonSchemaCheck of {sorted(wrong)}"


def test_generated_corpus_passes_ruff_and_mypy_strict(corpus: Corpus) -> None:
    """Every generated corpus package (the defaults' run, and the ``--allow-unknown`` one) is clean
    under the project's ruff configuration and mypy --strict (Python 3.10)."""
    root = Path(__file__).resolve().parent.parent
    for package in sorted({catalog.parent for catalog in corpus.catalogs.values()}):
        ruff = subprocess.run(
            [sys.executable, "-m", "ruff", "check", "--config", str(root / "pyproject.toml"), str(package)],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert ruff.returncode == 0, ruff.stdout + ruff.stderr
        mypy = subprocess.run(
            [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--python-version", "3.10", str(package)],
            capture_output=True, text=True, timeout=300, check=False, cwd=package.parent,
        )  # fmt: skip
        assert mypy.returncode == 0, mypy.stdout + mypy.stderr


EXAMPLES = REAL / "examples"
EXAMPLE_MODELS = [m for m in MODEL_IDS if (EXAMPLES / f"{m}.json").is_file()]


@pytest.mark.parametrize("model_id", EXAMPLE_MODELS)
def test_published_example_outputs_agree_with_jsonschema(model_id: str, corpus: Corpus) -> None:
    """The sources' own example responses (``examples/``, see ``convert.py`` rule 5) against
    ``Output``: the same verdict as jsonschema, each one (a published example need not be valid)."""
    module = corpus.module(model_id)
    reference = Draft202012Validator(_load(model_id, "output.json")["output"])
    examples = json.loads((EXAMPLES / f"{model_id}.json").read_text(encoding="utf-8"))
    findings = []
    for example in examples:
        expected = reference.is_valid(example["output"])
        actual, _, detail = _generated_verdict(module.Output, example["output"])
        if expected != actual:
            findings.append(
                Finding(f"example {example['title']!r}", example["output"], expected, actual, detail)
            )
    if findings:
        pytest.fail(_report(model_id, "Output (published examples)", len(examples), findings), pytrace=False)
