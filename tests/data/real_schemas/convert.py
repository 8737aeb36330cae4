"""Convert published model schemas (OpenAPI documents) into RunComfy's schema-store shape.

Standard library only. Run from the repository root::

    python tests/data/real_schemas/convert.py            # rewrite store/ from raw/ + sources.json
    python tests/data/real_schemas/convert.py --check    # exit 1 if store/ would change
    python tests/data/real_schemas/convert.py extract FULL.json OUT.json POINTER...   # see below

Input: ``sources.json`` lists every model (``model_id``, ``repository``, ``path``, ``commit``,
``licence``, ``licence_file``, ``raw`` and, optionally, ``input``/``output``: JSON pointers into
``raw``, by default ``#/components/schemas/Input`` and ``#/components/schemas/Output``, where a
Cog model's ``.cog/openapi_schema.json`` keeps them). ``raw`` is the document as published: byte
for byte, or, for a document too large to keep (OpenAI's 3.4 MB ``openapi.json``), an *excerpt*
made by ``extract``: the values at the given pointers plus every ``#/components/schemas/X`` they
reference (transitively), each copied unchanged to the same place in a document that otherwise
holds only ``openapi`` and ``info``.

Output: ``store/<model_id>/input.json`` and ``output.json``, written like ``runcomfy-codegen import``
writes (original key order, 2-space indent, UTF-8, final newline). What the converter does, and
nothing else:

1. **Input** is the schema at the ``input`` pointer, copied as published (titles, descriptions,
   defaults, examples, ``x-order`` and every other vendor keyword kept).
2. **References.** Every ``"$ref": "#/components/schemas/NAME"`` reachable from the input is
   rewritten to ``"#/$defs/NAME"`` and the referenced component is copied into the input's root
   ``$defs`` (transitively), so the document stays self-contained and keeps its published shape
   (e.g. Cog's ``allOf: [{"$ref": ...}]`` enums). In the output every reference is inlined instead
   (RunComfy's output document is ``{"output": <schema>}``, whose root is not the schema).
3. **nullable** (OpenAPI 3.0's ``"nullable": true``, which JSON Schema 2020-12 does not know; OpenAI's
   3.1 document still uses it with the 3.0 meaning) becomes the JSON Schema that means the same, in
   the form pydantic v2 (what Cog builds these schemas with today) publishes for ``Optional[T]``:
   the node's validation keywords move into the first branch of
   ``{"anyOf": [<validation keywords>, {"type": "null"}], <annotations>}`` and its annotations
   (``title``, ``description``, ``default``, ``example``, ``x-*``...) stay beside the ``anyOf``. So
   ``null`` is accepted exactly where the source allowed it, and bounds still apply to non-null
   values. ``"nullable": false`` is dropped (it means nothing).
4. **Output** is the schema at the ``output`` pointer with references inlined. An object schema that
   has ``properties`` becomes the output object itself: ``{"output": <schema>}``. Anything else (a
   URI string, an array of URIs, an untyped array, a free-form object without ``properties``, a
   ``oneOf`` of several response shapes, binary audio) is wrapped as the single required property
   ``output`` of an object, so a Replicate prediction's ``output`` value ``V`` reads as RunComfy's
   ``{"output": {"output": V}}``:
   ``{"output": {"type": "object", "properties": {"output": <schema>}, "required": ["output"]}}``.

5. **Published example outputs** (an entry's optional ``output_examples`` pointer, OpenAI's
   ``x-oaiMeta.examples`` of the operation) go to ``examples/<model_id>.json``: a list of
   ``{"title", "output"}``, each output being the example response as RunComfy's output object
   (``{"output": V}`` where rule 4 wraps the schema); responses that are not JSON (streaming) are
   skipped. Cog documents publish no examples.

No keyword is added, dropped or reinterpreted beyond these rules.
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
DEFAULT_INPUT = COMPONENTS + "Input"
DEFAULT_OUTPUT = COMPONENTS + "Output"
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


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def resolve(document: Any, pointer: str) -> Any:
    """The value at a ``#/...`` JSON pointer of ``document``."""
    if not pointer.startswith("#/"):
        raise ConvertError(f"{pointer!r}: only '#/...' pointers are converted")
    node = document
    for token in pointer[2:].split("/"):
        key: Any = _unescape(token)
        if isinstance(node, list) and key.isdigit():
            key = int(key)
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            raise ConvertError(f"{pointer!r} does not resolve") from None
    return node


def _component(document: dict[str, Any], ref: str) -> Any:
    if not ref.startswith(COMPONENTS):
        raise ConvertError(f"$ref {ref!r}: only '#/components/schemas/...' references are converted")
    return resolve(document, ref)


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


def convert_input(document: dict[str, Any], pointer: str = DEFAULT_INPUT) -> dict[str, Any]:
    schema = copy.deepcopy(resolve(document, pointer))
    defs: dict[str, Any] = {}
    schema = _rewrite_refs(schema, document, defs)
    if defs:
        schema["$defs"] = {**schema.get("$defs", {}), **defs}
    converted: dict[str, Any] = _denull(schema)
    return converted


def _output_schema(document: dict[str, Any], pointer: str) -> Any:
    return _denull(_inline_refs(copy.deepcopy(resolve(document, pointer)), document))


def _wraps(schema: Any) -> bool:
    """Rule 4: whether an output schema is wrapped as the property ``output``."""
    return not (
        isinstance(schema, dict)
        and schema.get("type") == "object"
        and isinstance(schema.get("properties"), dict)
        and schema["properties"]
    )


def convert_output(document: dict[str, Any], pointer: str = DEFAULT_OUTPUT) -> dict[str, Any]:
    schema = _output_schema(document, pointer)
    if not _wraps(schema):
        return {"output": schema}
    return {"output": {"type": "object", "properties": {"output": schema}, "required": ["output"]}}


def _referenced(node: Any, document: dict[str, Any], names: dict[str, None]) -> None:
    if isinstance(node, list):
        for item in node:
            _referenced(item, document, names)
    elif isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(COMPONENTS) and ref[len(COMPONENTS) :] not in names:
            names[ref[len(COMPONENTS) :]] = None
            _referenced(_component(document, ref), document, names)
        for value in node.values():
            _referenced(value, document, names)


def extract(document: dict[str, Any], pointers: list[str]) -> dict[str, Any]:
    """The excerpt of ``document`` that ``pointers`` need: each value at its pointer, and every
    component schema they reference (transitively), unchanged, in a document holding nothing else
    but ``openapi`` and ``info``."""
    excerpt: dict[str, Any] = {key: document[key] for key in ("openapi", "info") if key in document}
    names: dict[str, None] = {}
    for pointer in pointers:
        value = resolve(document, pointer)
        tokens = [_unescape(token) for token in pointer[2:].split("/")]
        node = excerpt
        for token in tokens[:-1]:
            node = node.setdefault(token, {})
        node[tokens[-1]] = value
        _referenced(value, document, names)
    schemas = excerpt.setdefault("components", {}).setdefault("schemas", {})
    for name in sorted(names):
        schemas[name] = document["components"]["schemas"][name]
    return excerpt


def dump(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def published_examples(document: dict[str, Any], pointer: str, wrapped: bool) -> list[dict[str, Any]]:
    """Rule 5: the example responses at ``pointer`` (OpenAI's ``x-oaiMeta.examples``: one
    ``{"request", "response"}`` or a list of them with a ``title``) whose ``response`` is JSON, each
    as RunComfy's output object (``{"output": V}`` where rule 4 wrapped the schema). Streaming
    (server-sent events) and missing responses are skipped."""
    found = resolve(document, pointer)
    entries = found if isinstance(found, list) else [found]
    examples = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("response"), str):
            continue
        try:
            value = json.loads(entry["response"])
        except ValueError:
            continue
        title = entry.get("title", f"example {index}")
        examples.append({"title": title, "output": {"output": value} if wrapped else value})
    return examples


def build(sources: list[dict[str, Any]], base: Path) -> dict[str, str]:
    """Path relative to ``base`` (``store/<id>/input.json``, ``store/<id>/output.json``,
    ``examples/<id>.json``) -> file text, for every model in ``sources``."""
    files: dict[str, str] = {}
    for entry in sources:
        raw = base / entry["raw"]
        model_id = entry["model_id"]
        try:
            document = json.loads(raw.read_text(encoding="utf-8"))
            inp, out = entry.get("input", DEFAULT_INPUT), entry.get("output", DEFAULT_OUTPUT)
            output = convert_output(document, out)
            files[f"store/{model_id}/input.json"] = dump(convert_input(document, inp))
            files[f"store/{model_id}/output.json"] = dump(output)
            if "output_examples" in entry:
                wrapped = _wraps(_output_schema(document, out))
                examples = published_examples(document, entry["output_examples"], wrapped)
                files[f"examples/{model_id}.json"] = dump(examples)
        except (OSError, ValueError, KeyError, ConvertError) as exc:
            raise ConvertError(f"{raw}: {exc}") from None
    return files


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def main_extract(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="convert.py extract", description=extract.__doc__)
    parser.add_argument("document", type=Path, help="the full OpenAPI document (JSON)")
    parser.add_argument("out", type=Path, help="where to write the excerpt")
    parser.add_argument("pointers", nargs="+", help="'#/...' pointers of the schemas to keep")
    args = parser.parse_args(argv)
    try:
        excerpt = extract(json.loads(args.document.read_text(encoding="utf-8")), args.pointers)
    except (OSError, ValueError, ConvertError) as exc:
        print(f"convert: {exc}", file=sys.stderr)
        return 2
    _write_atomic(args.out, dump(excerpt))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["extract"]:
        return main_extract(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--base", type=Path, default=HERE, help="folder of sources.json and raw/; receives store/ and examples/"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if store/ or examples/ would change")
    args = parser.parse_args(argv)
    try:
        sources = json.loads((args.base / "sources.json").read_text(encoding="utf-8"))
        files = build(sources, args.base)
    except (OSError, ValueError, ConvertError) as exc:
        print(f"convert: {exc}", file=sys.stderr)
        return 2
    existing = {
        p.relative_to(args.base).as_posix()
        for folder in ("store", "examples")
        if (args.base / folder).is_dir()
        for p in (args.base / folder).rglob("*.json")
    }
    changed = sorted(
        name
        for name, text in files.items()
        if not (args.base / name).is_file() or (args.base / name).read_text(encoding="utf-8") != text
    )
    stale = sorted(existing - set(files))
    if args.check:
        for name in changed:
            print(f"would change: {name}")
        for name in stale:
            print(f"would remove: {name}")
        return 1 if changed or stale else 0
    for name in changed:
        _write_atomic(args.base / name, files[name])
    for name in stale:
        (args.base / name).unlink()
    print(f"{len(sources)} models, {len(changed)} files written, {len(stale)} removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
