"""Benchmark on the real-schema corpus (``tests/data/real_schemas/store``: 21 Cog models, 10 OpenAI
image/audio/video endpoints).

    python benchmarks/real_corpus.py                   # generator defaults, as `generate` runs
    python benchmarks/real_corpus.py --allow-unknown   # let refused keywords through (as warnings)
    python benchmarks/real_corpus.py --json            # also print the figures as one JSON object

Every model is generated through the CLI (``runcomfy-codegen generate --keep-going``) into a
temporary folder and imported; a model the defaults refuse (a keyword outside JSON Schema) is
reported as such and measured as generated with ``--allow-unknown``. Two figures, both reported and never asserted:

(a) **Native share**: of every field of every generated class (``Input``, ``Output`` and their
    nested classes), the share typed natively, i.e. whose annotation holds no ``JsonValue`` and
    whose metadata holds no ``JsonSchemaCheck`` (goal >= 95%). The rest are listed by reason: the
    keywords left in the ``JsonSchemaCheck`` (e.g. ``x-order``, ``allOf``), or ``JsonValue`` alone.
    Read from the imported classes, so it does not depend on the generator's internals.
(b) **model_validate cost**: ``Input.model_validate(minimal valid payload)`` (required keys only,
    the simplest valid values, checked with jsonschema) against a strict pydantic model of the same
    shape built here from the schema as one would write it by hand (``str``/``int``/``float``/
    ``bool``/``list[...]``/``Literal[...]``/``X | None``, bounds as ``Field`` constraints, the
    schema's defaults), in the same process and run. Best of 3 timeit repeats each; the ratio is
    generated / hand-written, and the summary is the median ratio over models (goal <= 2x).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import sys
import tempfile
import timeit
import types
from collections import Counter
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union, get_args, get_origin

from jsonschema import Draft202012Validator
from pydantic import BaseModel, ConfigDict, Field, create_model

from runcomfy_codegen import cli
from runcomfy_codegen.model_id import module_name

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT / "tests" / "data" / "real_schemas"
STORE = REAL / "store"


# --- (a) native share ------------------------------------------------------------------------------


def _is_json_value(node: Any) -> bool:
    return getattr(node, "__name__", None) == "JsonValue" or repr(node).endswith("JsonValue")


def _top_level(annotation: Any) -> list[Any]:
    """The field's own types: ``Annotated`` and ``X | None`` unwrapped (a ``JsonValue`` *inside* a
    ``list``/``dict`` is what ``items: {}`` or a free-form object means, so it is native)."""
    out, stack = [], [annotation]
    while stack:
        node = stack.pop()
        if getattr(node, "__metadata__", None) is not None:
            stack.append(get_args(node)[0])
        elif get_origin(node) in (Union, types.UnionType):
            stack.extend(a for a in get_args(node) if a is not type(None))
        else:
            out.append(node)
    return out


def _checks(annotation: Any, metadata: list[Any]) -> tuple[bool, list[Any]]:
    """(typed as a bare JsonValue, every JsonSchemaCheck in the annotation and metadata)."""
    found: list[Any] = [m for m in metadata if type(m).__name__ == "JsonSchemaCheck"]
    stack = [annotation]
    while stack:
        node = stack.pop()
        if type(node).__name__ == "JsonSchemaCheck":
            found.append(node)
        stack.extend(getattr(node, "__metadata__", ()))
        stack.extend(
            a for a in get_args(node) if a is not None and not isinstance(a, (str, int, float, bool))
        )
    return any(_is_json_value(t) for t in _top_level(annotation)), found


def _classes(module: types.ModuleType) -> list[type[BaseModel]]:
    return [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == module.__name__
    ]


def native_share(module: types.ModuleType) -> tuple[int, int, Counter[str]]:
    total = native = 0
    reasons: Counter[str] = Counter()
    for cls in _classes(module):
        for info in cls.model_fields.values():
            total += 1
            json_value, checks = _checks(info.annotation, list(info.metadata))
            if not json_value and not checks:
                native += 1
                continue
            keywords = sorted({k for c in checks if isinstance(c.schema, dict) for k in c.schema})
            reason = "JsonSchemaCheck(" + ", ".join(keywords) + ")" if keywords else "JsonValue"
            if json_value and keywords:
                reason = "JsonValue + " + reason
            reasons[reason] += 1
    return total, native, reasons


# --- (b) hand-written baseline ---------------------------------------------------------------------


def _resolve(node: Any, root: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(node, dict):
        return {}
    merged = dict(node)
    if isinstance(merged.get("$ref"), str):
        merged = {**root.get("$defs", {}).get(merged.pop("$ref").rsplit("/", 1)[-1], {}), **merged}
    for branch in merged.pop("allOf", []):
        merged = {**_resolve(branch, root), **merged}
    return merged


def _py_type(spec: dict[str, Any], root: dict[str, Any]) -> Any:
    spec = _resolve(spec, root)
    if "anyOf" in spec:
        branches = [_resolve(b, root) for b in spec["anyOf"]]
        others = [b for b in branches if b.get("type") != "null"]
        inner = _py_type(others[0], root) if len(others) == 1 else Any
        return Optional[inner] if len(others) < len(branches) else inner  # noqa: UP045
    if "enum" in spec:
        values = [v for v in spec["enum"] if v is not None]
        kind: Any = Literal[tuple(values)] if values else Any
        return Optional[kind] if None in spec["enum"] else kind  # noqa: UP045
    kinds = spec.get("type")
    names = kinds if isinstance(kinds, list) else [kinds]
    nullable = "null" in names
    names = [n for n in names if n != "null"]
    simple = {"string": str, "integer": int, "number": float, "boolean": bool}
    if len(names) != 1:
        base: Any = Any
    elif names[0] in simple:
        base = simple[names[0]]
        bounds: dict[str, Any] = {
            "ge": spec.get("minimum"),
            "le": spec.get("maximum"),
            "gt": spec.get("exclusiveMinimum"),
            "lt": spec.get("exclusiveMaximum"),
            "min_length": spec.get("minLength"),
            "max_length": spec.get("maxLength"),
        }
        bounds = {k: v for k, v in bounds.items() if v is not None}
        if bounds:
            base = Annotated[base, Field(**bounds)]
    elif names[0] == "array":
        item: Any = _py_type(spec.get("items", {}), root) if spec.get("items") else Any
        base = list[item]
    elif names[0] == "object":
        base = dict[str, Any]
    else:
        base = Any
    return Optional[base] if nullable else base  # noqa: UP045


def handwritten(schema: dict[str, Any]) -> type[BaseModel]:
    """A strict pydantic model of the input schema's shape, as written by hand."""
    required = set(schema.get("required", []))
    fields: dict[str, Any] = {}
    for name, spec in schema.get("properties", {}).items():
        kind = _py_type(spec, schema)
        if name in required:
            fields[name] = (kind, Field(alias=name))
        else:
            default = _resolve(spec, schema).get("default", spec.get("default"))
            fields[name] = (Union[kind, None], Field(default=default, alias=name))  # noqa: UP007
    extra: Literal["forbid", "allow"] = "forbid" if schema.get("additionalProperties") is False else "allow"
    config = ConfigDict(strict=True, extra=extra, populate_by_name=True)
    return create_model(
        "HandWritten", __config__=config, **{f"f_{i}": v for i, v in enumerate(fields.values())}
    )


def minimal_payload(schema: dict[str, Any]) -> dict[str, Any]:
    """Required keys only, each with the simplest valid value."""
    payload: dict[str, Any] = {}
    for name in schema.get("required", []):
        spec = _resolve(schema.get("properties", {}).get(name, {}), schema)
        payload[name] = _simplest(spec, schema)
    if Draft202012Validator(schema).is_valid(payload):
        return payload
    # A shape the simple rules miss: the smallest payload hypothesis-jsonschema shrinks to (required
    # keys only, simplest values), deterministic.
    from hypothesis import HealthCheck, find, settings
    from hypothesis_jsonschema import from_schema

    found = find(
        from_schema(schema),
        lambda _: True,
        settings=settings(database=None, derandomize=True, suppress_health_check=list(HealthCheck)),
    )
    if not isinstance(found, dict) or not Draft202012Validator(schema).is_valid(found):
        raise ValueError(f"no minimal payload for the schema: {found!r}")
    return found


def _simplest(spec: dict[str, Any], root: dict[str, Any]) -> Any:
    alternatives = [] if "type" in spec or "properties" in spec else spec.get("anyOf", spec.get("oneOf", []))
    for branch in alternatives:
        resolved = _resolve(branch, root)
        if resolved.get("type") != "null":
            return _simplest({**resolved, **{k: v for k, v in spec.items() if k == "default"}}, root)
    if "enum" in spec:
        return spec["enum"][0]
    if "default" in spec:
        return spec["default"]
    kind = spec.get("type")
    kind = next((k for k in kind if k != "null"), None) if isinstance(kind, list) else kind
    if kind == "string":
        return "https://example.com/input.png" if spec.get("format") == "uri" else "a"
    if kind == "integer":
        return int(spec.get("minimum", 1))
    if kind == "number":
        return float(spec.get("minimum", 1.0))
    if kind == "boolean":
        return False
    if kind == "array":
        item = _resolve(spec.get("items", {}), root)
        return [_simplest(item, root) for _ in range(int(spec.get("minItems", 1)))]
    if kind == "object" or "properties" in spec:
        names = list(spec.get("required", []))
        for branch in spec.get("anyOf", spec.get("oneOf", []))[:1]:  # e.g. "one of image_url or file_id"
            names += [n for n in branch.get("required", []) if n not in names]
        properties = spec.get("properties", {})
        return {n: _simplest(_resolve(properties.get(n, {}), root), root) for n in names}
    return None


def best_seconds(call: Any) -> float:
    timer = timeit.Timer(call)
    loops, _ = timer.autorange()
    return min(timer.repeat(repeat=3, number=loops)) / loops


# --- driver ----------------------------------------------------------------------------------------


def _load(path: Path, name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), module.__dict__)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--allow-unknown", action="store_true", help="pass --allow-unknown to generate")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args(argv)
    sources = json.loads((REAL / "sources.json").read_text(encoding="utf-8"))
    rows, ratios, all_reasons = [], [], Counter[str]()
    total_fields = total_native = 0
    refused: list[str] = []
    refused_minimal: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        flags = ["--allow-unknown"] if args.allow_unknown else []
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            cli.main(["generate", "--schemas", str(STORE), "--out", tmp, "--keep-going", *flags])
        catalog = Path(tmp) / "runcomfy_models" / "catalog"
        missing = [
            e["model_id"] for e in sources if not (catalog / f"{module_name(e['model_id'])}.py").is_file()
        ]
        retry = Path(tmp) / "allow"
        if (
            missing and not args.allow_unknown
        ):  # refused by default: measured as generated with --allow-unknown
            with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
                cli.main(
                    [
                        "generate",
                        "--schemas",
                        str(STORE),
                        "--out",
                        str(retry),
                        "--keep-going",
                        "--allow-unknown",
                        *missing,
                    ]
                )
        for entry in sources:
            model_id = entry["model_id"]
            path = catalog / f"{module_name(model_id)}.py"
            shown = f"`{model_id}`"
            if not path.is_file():
                refused.append(model_id)
                path = retry / "runcomfy_models" / "catalog" / f"{module_name(model_id)}.py"
                shown += " (refused by default; --allow-unknown)"
                if not path.is_file():
                    rows.append(f"| `{model_id}` | refused | | | | | |")
                    continue
            module = _load(path, f"runcomfy_models.catalog._bench_{module_name(model_id)}")
            fields, native, reasons = native_share(module)
            total_fields += fields
            total_native += native
            all_reasons.update(reasons)
            schema = json.loads((STORE / model_id / "input.json").read_text(encoding="utf-8"))
            payload = minimal_payload(schema)
            baseline = handwritten(schema)
            baseline.model_validate(payload)
            try:
                module.Input.model_validate(payload)
            except ValueError as exc:
                first = str(exc).splitlines()[1:2]
                rows.append(
                    f"| `{model_id}` | {fields} | {native} | refuses the minimal payload ({first[0] if first else exc}) | | | |"
                )
                refused_minimal.append(model_id)
                continue
            ours = best_seconds(lambda m=module, p=payload: m.Input.model_validate(p))
            base = best_seconds(lambda b=baseline, p=payload: b.model_validate(p))
            ratios.append(ours / base)
            rows.append(
                f"| {shown} | {fields} | {native} | {ours * 1e6:.1f} | {base * 1e6:.1f} | "
                f"{ours / base:.2f}x | {', '.join(f'{r} ×{n}' for r, n in sorted(reasons.items())) or '-'} |"
            )
        error_lines = [line for line in err.getvalue().splitlines() if line.startswith("error:")]
    share = total_native / total_fields if total_fields else 0.0
    median = statistics.median(ratios) if ratios else float("nan")
    print(
        f"## Real-schema corpus ({len(sources)} models{', --allow-unknown' if args.allow_unknown else ''})\n"
    )
    print("| model | fields | native | ours µs | hand-written µs | ratio | not native (reason ×count) |")
    print("|---|---:|---:|---:|---:|---:|---|")
    print("\n".join(rows))
    print()
    print(
        f"* generated with the defaults: {len(sources) - len(refused)} of {len(sources)} models"
        + (
            f" (refused: {', '.join(refused)}; first reason: {error_lines[0]})"
            if refused and error_lines
            else ""
        )
    )
    print(f"* native share: {total_native}/{total_fields} = {share:.1%} (goal >= 95%)")
    for reason, count in all_reasons.most_common():
        print(f"  * {count} field(s): {reason}")
    if refused_minimal:
        print(
            f"* {len(refused_minimal)} model(s) refuse their minimal valid payload: {', '.join(refused_minimal)}"
        )
    print(
        f"* model_validate(minimal payload): median ratio {median:.2f}x over {len(ratios)} models (goal <= 2x)"
    )
    if args.json:
        print(
            json.dumps(
                {
                    "models": len(sources),
                    "refused": refused,
                    "refused_minimal_payload": refused_minimal,
                    "fields": total_fields,
                    "native": total_native,
                    "native_share": share,
                    "reasons": dict(all_reasons),
                    "median_ratio": median,
                    "ratios": ratios,
                }
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
