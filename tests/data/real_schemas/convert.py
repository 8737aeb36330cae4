"""Convert published model schemas (OpenAPI documents) into RunComfy's schema-store shape.

Standard library only. Run from the repository root::

    python tests/data/real_schemas/convert.py            # rewrite store/ from raw/ + sources.json
    python tests/data/real_schemas/convert.py --check    # exit 1 if store/ would change

Input: ``sources.json`` lists every model (``model_id``, ``repository``, ``path``, ``commit``,
``licence``, ``licence_file``, ``raw``); ``raw`` is the byte-exact OpenAPI document as published in
that repository (a Cog model's ``.cog/openapi_schema.json``: ``components.schemas.Input`` and
``components.schemas.Output``, OpenAPI 3.0/3.1).

Output: ``store/<model_id>/input.json`` and ``output.json``, written like ``runcomfy-codegen import``
writes (original key order, 2-space indent, UTF-8, final newline). What the converter does, and
nothing else:

1. **Input** is ``components.schemas.Input``, copied as published (titles, descriptions, defaults,
   ``x-order`` and every other vendor keyword kept).
2. **References.** Every ``"$ref": "#/components/schemas/NAME"`` reachable from the input is
   rewritten to ``"#/$defs/NAME"`` and the referenced component is copied into the input's root
   ``$defs`` (transitively), so the document stays self-contained and keeps its
   ``allOf: [{"$ref": ...}]`` enum shape. In the output every reference is inlined instead (RunComfy's
   output document is ``{"output": <schema>}``, whose root is not the schema).
3. **nullable** (OpenAPI 3.0's ``"nullable": true``, which JSON Schema 2020-12 does not know) becomes
   the JSON Schema that means the same, in the form pydantic v2 (what Cog builds these schemas with
   today) publishes for ``Optional[T]``: the node's validation keywords move into the first branch of
   ``{"anyOf": [<validation keywords>, {"type": "null"}], <annotations>}`` and its annotations
   (``title``, ``description``, ``default``, ``x-*``...) stay beside the ``anyOf``. So ``null`` is
   accepted exactly where the source allowed it, and bounds still apply to non-null values.
   ``"nullable": false`` is dropped (it means nothing).
4. **Output.** ``components.schemas.Output`` with references inlined. An object schema that has
   ``properties`` becomes the output object itself: ``{"output": <schema>}``. Anything else (a URI
   string, an array of URIs, an untyped array, a free-form object without ``properties``) is
   wrapped as the single required property ``output`` of an object, so a Replicate prediction's
   ``output`` value ``V`` reads as RunComfy's ``{"output": {"output": V}}``:
   ``{"output": {"type": "object", "properties": {"output": <schema>}, "required": ["output"]}}``.

No keyword is added, dropped or reinterpreted beyond these four rules.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
COMPONENTS = "#/components/schemas/"
# Keywords that constrain a value (everything else on a schema node is an annotation or vendor keyword).
VALIDATION = frozenset(
    {
        "type", "enum", "const", "allOf", "anyOf", "oneOf", "not", "$ref", "if", "then", "else",
        "properties", "additionalProperties", "patternProperties", "required", "propertyNames",
        "minProperties", "maxProperties", "dependentRequired", "dependentSchemas",
        "items", "prefixItems", "contains", "minContains", "maxContains", "minItems", "maxItems",
        "uniqueItems", "unevaluatedItems", "unevaluatedProperties",
        "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
        "minLength", "maxLength", "pattern", "format",
    }
)  # fmt: skip


class ConvertError(Exception):
    pass


def _component(document: dict[str, Any], ref: str) -> Any:
    if not ref.startswith(COMPONENTS):
        raise ConvertError(f"$ref {ref!r}: only '#/components/schemas/...' references are converted")
    name = ref[len(COMPONENTS) :]
    try:
        return document["components"]["schemas"][name]
    except KeyError:
        raise ConvertError(f"$ref {ref!r} does not resolve") from None


def _denull(node: Any) -> Any:
    """Rule 3: rewrite OpenAPI ``nullable`` into JSON Schema, bottom-up."""
    if isinstance(node, list):
        return [_denull(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _denull(value) for key, value in node.items()}
    nullable = node.pop("nullable", False)
    if nullable is not True:
        return node
    checks = {key: value for key, value in node.items() if key in VALIDATION}
    notes = {key: value for key, value in node.items() if key not in VALIDATION}
    return {"anyOf": [checks, {"type": "null"}], **notes}


def _rewrite_refs(node: Any, document: dict[str, Any], defs: dict[str, Any]) -> Any:
    """Rule 2 (input): ``#/components/schemas/X`` -> ``#/$defs/X``, collecting X into ``defs``."""
    if isinstance(node, list):
        return [_rewrite_refs(item, document, defs) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str):
            name = value[len(COMPONENTS) :]
            target = _component(document, value)
            if name not in defs:
                defs[name] = None  # reserve first: a cycle ends here
                defs[name] = _rewrite_refs(copy.deepcopy(target), document, defs)
            out[key] = f"#/$defs/{name}"
        else:
            out[key] = _rewrite_refs(value, document, defs)
    return out


def _inline_refs(node: Any, document: dict[str, Any], active: tuple[str, ...] = ()) -> Any:
    """Rule 2 (output): every reference replaced by (a copy of) its target."""
    if isinstance(node, list):
        return [_inline_refs(item, document, active) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        if ref in active:
            raise ConvertError(f"$ref {ref!r} is recursive")
        target = _inline_refs(copy.deepcopy(_component(document, ref)), document, (*active, ref))
        siblings = {
            key: _inline_refs(value, document, active) for key, value in node.items() if key != "$ref"
        }
        return {**target, **siblings} if siblings else target
    return {key: _inline_refs(value, document, active) for key, value in node.items()}


def convert_input(document: dict[str, Any]) -> dict[str, Any]:
    schema = copy.deepcopy(document["components"]["schemas"]["Input"])
    defs: dict[str, Any] = {}
    schema = _rewrite_refs(schema, document, defs)
    if defs:
        schema["$defs"] = {**schema.get("$defs", {}), **defs}
    converted: dict[str, Any] = _denull(schema)
    return converted


def convert_output(document: dict[str, Any]) -> dict[str, Any]:
    schema = _denull(_inline_refs(copy.deepcopy(document["components"]["schemas"]["Output"]), document))
    if schema.get("type") == "object" and isinstance(schema.get("properties"), dict) and schema["properties"]:
        return {"output": schema}
    return {"output": {"type": "object", "properties": {"output": schema}, "required": ["output"]}}


def dump(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def build(sources: list[dict[str, Any]], base: Path) -> dict[str, str]:
    """Relative path inside ``store/`` -> file text, for every model in ``sources``."""
    files: dict[str, str] = {}
    for entry in sources:
        raw = base / entry["raw"]
        try:
            document = json.loads(raw.read_text(encoding="utf-8"))
            files[f"{entry['model_id']}/input.json"] = dump(convert_input(document))
            files[f"{entry['model_id']}/output.json"] = dump(convert_output(document))
        except (OSError, ValueError, KeyError, ConvertError) as exc:
            raise ConvertError(f"{raw}: {exc}") from None
    return files


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, default=HERE, help="folder holding sources.json and raw/")
    parser.add_argument("--store", type=Path, default=None, help="output store (default BASE/store)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the store would change")
    args = parser.parse_args(argv)
    store = args.store or args.base / "store"
    try:
        sources = json.loads((args.base / "sources.json").read_text(encoding="utf-8"))
        files = build(sources, args.base)
    except (OSError, ValueError, ConvertError) as exc:
        print(f"convert: {exc}", file=sys.stderr)
        return 2
    existing = {p.relative_to(store).as_posix() for p in store.rglob("*.json")} if store.is_dir() else set()
    changed = sorted(
        name
        for name, text in files.items()
        if not (store / name).is_file() or (store / name).read_text(encoding="utf-8") != text
    )
    stale = sorted(existing - set(files))
    if args.check:
        for name in changed:
            print(f"would change: {name}")
        for name in stale:
            print(f"would remove: {name}")
        return 1 if changed or stale else 0
    for name in changed:
        _write_atomic(store / name, files[name])
    for name in stale:
        (store / name).unlink()
    print(f"{len(sources)} models, {len(changed)} files written, {len(stale)} removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
