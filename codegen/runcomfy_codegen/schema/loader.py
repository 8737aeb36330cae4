"""Stage 1, *load*: decode a schema file strictly, check it against the dialect, resolve it.

One function, :func:`load_bytes`, turns a schema file's bytes into a :class:`LoadedSchema`; the CLI
(``generate``, ``check``, ``diff``, ``openapi``), ``import`` and the tests all go through it.

* **decode**: UTF-8 JSON with no duplicate keys, no NaN/Infinity and no number that overflows to
  infinity (``1e999``), nested at most :data:`MAX_JSON_DEPTH` levels;
* **check**: every keyword against :data:`~runcomfy_codegen.schema.dialect.KEYWORDS` (a keyword
  outside it stops generation, because silently dropping a constraint is how a client lies;
  ``allow_unknown=True`` lets it through with a warning saying that it is not enforced), every
  ``validations`` rule against the rule grammar, subschemas nested at most
  :data:`MAX_SCHEMA_DEPTH` levels;
* **resolve**: local ``$ref`` replaced by their targets, ``allOf`` merged where merging is exact,
  vendor and unknown keywords dropped: :attr:`LoadedSchema.resolved` is what the generator and
  ``diff`` see. Each target is resolved once and shared, so expansion costs linear memory; a
  schema whose expansion would exceed :data:`MAX_EXPANDED` subschemas is refused.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from runcomfy_codegen import carried
from runcomfy_codegen._errors import SchemaError, pointer
from runcomfy_codegen.ir import Rule
from runcomfy_codegen.schema.dialect import (
    INTERACTING,
    JSON_TYPES,
    KEYWORDS,
    SEES_SIBLINGS,
    UNKNOWN,
    UNSUPPORTED,
    VENDOR,
    is_annotation,
    kind_of,
    map_subschemas,
)
from runcomfy_codegen.schema.rules import METRICS, RuleSyntaxError, parse_rule
from runcomfy_codegen.schema.store import ModelFiles

carried.load()  # the runtime's pattern check without its package's __init__ (pydantic)
from runcomfy_models._patterns import PatternError, ecma_matcher  # noqa: E402

MAX_JSON_DEPTH = 100
"""Arrays and objects nested deeper than this are refused (generated literals must compile)."""
MAX_SCHEMA_DEPTH = 32
"""Subschemas nested deeper than this (before or after ``$ref`` resolution) are refused."""
MAX_EXPANDED = 50_000
"""A schema whose ``$ref`` expansion holds more subschemas than this is refused."""


@dataclass(frozen=True)
class Warning_:
    """Something the generator let through or changed; shown to the user and written into the module."""

    file: str
    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}#{self.pointer}: {self.message}"


@dataclass
class LoadedSchema:
    path: str
    """The file's display path (relative to the store's parent, posix), used in every message."""
    document: Any
    """The decoded file, as written (an output file keeps its ``{"output": ...}`` wrapper)."""
    resolved: Any = None
    """The schema as the generator sees it: unwrapped, ``$ref`` resolved, vendor keywords dropped."""
    warnings: list[Warning_] = field(default_factory=list)
    raw: bytes = b""
    """The file's bytes, as read (the manifest hashes them)."""
    rules: list[Rule] = field(default_factory=list)
    """The custom ``validations`` rules, parsed once, in document order (input schemas only)."""
    def_names: dict[int, str] = field(default_factory=dict)
    """``id`` of a shared ``properties`` object in :attr:`resolved` -> its ``$defs`` name."""
    depth: int = 0
    """How deeply the resolved schema nests JSON arrays and objects (at least; exact without ``$ref``)."""

    @property
    def schema(self) -> Any:
        """The schema inside the document (an output file's ``{"output": ...}`` wrapper removed)."""
        return unwrap_output(self.document)[0]


# --- decode -----------------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} overflows to infinity")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _json_depth(value: Any) -> int:
    """How deeply ``value`` nests arrays and objects (iterative: no recursion; a scalar is 0)."""
    if type(value) is list:
        for item in value:
            if isinstance(item, (dict, list)):
                break
        else:
            return 1  # the common case: an enum
    deepest = 0
    stack = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, dict):
            children: Any = current.values()
        elif isinstance(current, list):
            children = current
        else:
            continue
        deepest = max(deepest, depth)
        if depth > 4 * MAX_JSON_DEPTH:
            break  # deep enough to refuse; no need to measure further
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def parse_json(text: str, file: str) -> Any:
    """Decode JSON strictly: no NaN/Infinity or overflowing numbers, no duplicate keys. Errors name
    the file and position. (Depth is bounded by the schema check, which walks every value anyway.)"""
    try:
        value = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            object_pairs_hook=_no_duplicates,
        )
    except json.JSONDecodeError as exc:
        raise SchemaError(
            file, "", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise SchemaError(
            file, "", f"JSON nested deeper than {MAX_JSON_DEPTH} levels is not supported"
        ) from None
    except ValueError as exc:
        raise SchemaError(file, "", f"invalid JSON: {exc}") from None
    return value


def decode(raw: bytes, file: str) -> tuple[Any, str]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SchemaError(file, "", f"not UTF-8: {exc.reason} at byte {exc.start}") from None
    return parse_json(text, file), text


# --- load ---------------------------------------------------------------------------------------------


def load_bytes(raw: bytes, display: str, *, allow_unknown: bool = False) -> LoadedSchema:
    """Decode, check and resolve one schema file's bytes. Raises :class:`SchemaError` naming file,
    pointer and reason. An ``output.json`` holds RunComfy's wrapper ``{"output": {...}}``; the schema
    inside is checked and resolved."""
    document, text = decode(raw, display)
    loaded = LoadedSchema(display, document, raw=raw)
    extra, loaded.depth = _check(document, display, allow_unknown, loaded.warnings, loaded.rules)
    schema = loaded.schema
    if extra or "$ref" in text or "allOf" in text or "\\u" in text:
        loaded.resolved = resolve(schema, display, names=loaded.def_names)
        if "$ref" in text or "\\u" in text:  # references can nest deeper than the file does
            loaded.depth = _json_depth(loaded.resolved)
    else:
        loaded.resolved = schema
    return loaded


def load_schema(path: Path, *, allow_unknown: bool = False, display: str | None = None) -> LoadedSchema:
    """Read one schema file from disk and load it (see :func:`load_bytes`)."""
    name = display or str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SchemaError(name, "", f"cannot read file: {exc.strerror or exc}") from None
    return load_bytes(raw, name, allow_unknown=allow_unknown)


def load_document(document: Any, display: str, *, allow_unknown: bool = False) -> LoadedSchema:
    """Load an in-memory document exactly as the same JSON in a file would be loaded."""
    try:
        raw = json.dumps(document, allow_nan=False).encode("ascii")  # escapes keep lone surrogates
    except (TypeError, ValueError) as exc:
        raise SchemaError(display, "", f"not a JSON document: {exc}") from None
    except RecursionError:
        raise SchemaError(
            display, "", f"JSON nested deeper than {MAX_JSON_DEPTH} levels is not supported"
        ) from None
    return load_bytes(raw, display, allow_unknown=allow_unknown)


def unwrap_output(document: Any) -> tuple[Any, tuple[str, ...]]:
    """The schema inside RunComfy's ``{"output": {...}}`` wrapper, and its path."""
    if isinstance(document, dict) and set(document) == {"output"}:
        return document["output"], ("output",)
    return document, ()


# --- check --------------------------------------------------------------------------------------------


def check_schema(
    document: Any, file: str, *, allow_unknown: bool = False, warnings: list[Warning_] | None = None
) -> bool:
    """Check a decoded schema (or an ``{"output": ...}`` wrapper) against the RunComfy dialect.
    Returns True when it holds vendor or unknown keywords (which resolution then drops)."""
    return _check(document, file, allow_unknown, [] if warnings is None else warnings, [])[0]


def _check(
    document: Any, file: str, allow_unknown: bool, sink: list[Warning_], rules: list[Rule]
) -> tuple[bool, int]:
    """(vendor or unknown keywords seen?, JSON depth of the document); ``rules`` receives the
    custom rules, parsed, in document order. One pass over every node, without recursion."""
    if not isinstance(document, dict):
        raise SchemaError(file, "", f"a schema must be a JSON object, not {_json_type(document)}")
    schema, base = unwrap_output(document)
    extra, deepest = False, 0
    stack: list[tuple[tuple[str | int, ...], Any, int]] = [(base, schema, 0)]
    while stack:
        path, node, depth = stack.pop()
        if depth > MAX_SCHEMA_DEPTH:
            raise SchemaError(
                file,
                pointer(*path),
                f"subschemas nested deeper than {MAX_SCHEMA_DEPTH} levels are not supported",
            )
        node_extra, node_depth, children = _check_node(
            node, path, file, allow_unknown, sink, depth == 0, rules
        )
        extra |= node_extra
        deepest = max(deepest, len(path) + max(node_depth, 3))  # fixed shapes: up to 3
        if deepest > MAX_JSON_DEPTH:
            raise SchemaError(
                file, pointer(*path), f"JSON nested deeper than {MAX_JSON_DEPTH} levels is not supported"
            )
        for rel, child in reversed(children):
            stack.append(((*path, *rel), child, depth + 1))
    return extra, deepest


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _check_node(
    node: Any,
    path: tuple[str | int, ...],
    file: str,
    allow_unknown: bool,
    warnings: list[Warning_],
    root: bool,
    rules: list[Rule] | None = None,
) -> tuple[bool, int, list[tuple[tuple[str | int, ...], Any]]]:
    """(vendor or unknown keywords here?, JSON depth of the node counting its non-schema values,
    its subschemas)."""
    if isinstance(node, bool):
        return False, 0, []
    if not isinstance(node, dict):
        raise SchemaError(
            file, pointer(*path), f"a subschema must be an object or a boolean, not {_json_type(node)}"
        )
    extra, depth = False, 1
    children: list[tuple[tuple[str | int, ...], Any]] = []
    for key, value in node.items():
        kind = KEYWORDS.get(key)
        # the common shapes first, inline; anything else (and every error) through _check_value
        if kind == "string" and type(value) is str:
            continue
        if kind == "schema":
            children.append(((key,), value))
            continue
        if kind == "schema_map" and type(value) is dict and key != "patternProperties":
            children.extend(((key, name), child) for name, child in value.items())
            continue
        if kind == "schema_list" and type(value) is list and value:
            children.extend(((key, index), child) for index, child in enumerate(value))
            continue
        if kind == "type" and type(value) is str and value in JSON_TYPES:
            continue
        if kind == "count" and type(value) is int and value >= 0:
            continue
        if kind is None:
            kind = kind_of(key, root=root)
        if kind in _FREE_KINDS and isinstance(value, (dict, list)):
            depth = max(depth, 1 + _json_depth(value))
        if kind == "any" or (kind == "array" and type(value) is list):
            continue
        if kind == VENDOR:
            if key == "$id" and not isinstance(value, str):
                raise SchemaError(file, pointer(*path, key), "$id: must be a string")
            extra = True
            continue
        if key in UNSUPPORTED:
            raise SchemaError(file, pointer(*path, key), UNSUPPORTED[key])
        if kind == UNKNOWN:
            where = pointer(*path, key)
            if not allow_unknown:
                raise SchemaError(
                    file,
                    where,
                    f"unknown keyword {key!r}: the generator cannot enforce it "
                    "(pass --allow-unknown to let it through, not enforced)",
                )
            warnings.append(
                Warning_(
                    file,
                    where,
                    f"unknown keyword {key!r} is not enforced: the client accepts values whatever it says "
                    "(allowed by --allow-unknown)",
                )
            )
            extra = True
            continue
        parsed = _check_value(kind, key, value, (*path, key), file, allow_unknown, warnings)
        if key == "patternProperties":
            children.extend(((key, name), child) for name, child in value.items())
        if parsed and rules is not None:
            # the check allowed rules only at properties/<name> and properties/<name>/items
            name, each_item = str(path[1]), len(path) == 3 or node.get("type") == "array"
            rules.extend(
                Rule(name, metric, op, number, message, each_item) for metric, op, number, message in parsed
            )
    return extra, depth, children


# Kinds whose values may nest freely (the others have a fixed shape the check enforces: at most 2).
_FREE_KINDS = frozenset({"any", "array", VENDOR, UNKNOWN})


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_value(
    kind: str,
    key: str,
    value: Any,
    path: tuple[str | int, ...],
    file: str,
    allow_unknown: bool,
    warnings: list[Warning_],
) -> list[tuple[str, str, int | float, str]] | None:
    """Check one keyword's value; for ``validations``, return its rules parsed."""

    def fail(reason: str) -> None:
        raise SchemaError(
            file, pointer(*path), f"{key}: {reason}, got {json.dumps(value, ensure_ascii=False)[:80]}"
        )

    if kind == "string" and not isinstance(value, str):
        fail("must be a string")
    elif kind == "boolean" and not isinstance(value, bool):
        fail("must be a boolean")
    elif kind == "number" and not _is_number(value):
        fail("must be a number")
    elif kind == "positive_number" and not (_is_number(value) and value > 0):
        fail("must be a number greater than 0")
    elif kind == "count" and not (_is_number(value) and float(value).is_integer() and value >= 0):
        fail("must be a non-negative integer")
    elif kind == "array" and not isinstance(value, list):
        fail("must be an array")
    elif kind in ("schema_list",) and not (isinstance(value, list) and value):
        fail("must be a non-empty array of schemas")
    elif kind == "schema_map" and not isinstance(value, dict):
        fail("must be an object of schemas")
    elif key == "patternProperties":
        for regex in value:
            _check_value("regex", f"{key} name", regex, (*path, regex), file, allow_unknown, warnings)
    elif kind == "string_set":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            fail("must be an array of strings")
        if len(set(value)) != len(value):
            fail("must not repeat a name")
    elif kind == "string_set_map":
        if not isinstance(value, dict):
            fail("must be an object of string arrays")
        for name, names in value.items():
            _check_value("string_set", f"{key}/{name}", names, (*path, name), file, allow_unknown, warnings)
    elif kind == "type":
        names = value if isinstance(value, list) else [value]
        if not names or not all(isinstance(n, str) and n in JSON_TYPES for n in names):
            fail(f"must be one of {', '.join(JSON_TYPES)} or a non-empty array of them")
        if len(set(names)) != len(names):
            fail("must not repeat a type")
    elif kind == "regex":
        if not isinstance(value, str):
            fail("must be a string")
        try:
            ecma_matcher(value)
        except PatternError as exc:
            fail(f"is not an ECMA-262 regular expression this generator can run ({exc})")
    elif kind == "validations":
        return _check_validations(value, path, file, allow_unknown, warnings)
    return None


def _check_validations(
    value: Any, path: tuple[str | int, ...], file: str, allow_unknown: bool, warnings: list[Warning_]
) -> list[tuple[str, str, int | float, str]]:
    """Check a ``validations`` array; its rules, parsed: (metric, operator, value, message)."""
    parsed: list[tuple[str, str, int | float, str]] = []
    if not isinstance(value, list):
        raise SchemaError(file, pointer(*path), "validations: must be an array of rules")
    # Rules apply to top-level input properties and their array items; anywhere else (nested
    # objects, the root, outputs) they would go unenforced, so they are refused.
    node = path[:-1]
    if not (len(node) in (2, 3) and node[0] == "properties" and node[2:] in ((), ("items",))):
        raise SchemaError(
            file,
            pointer(*path),
            "custom validations are supported on top-level input properties and their array items only",
        )
    for index, rule in enumerate(value):
        where = (*path, index)
        if not isinstance(rule, dict):
            raise SchemaError(file, pointer(*where), "a validation rule must be an object")
        for key in rule:
            if key not in ("validation_rule", "validation_value", "validation_error"):
                raise SchemaError(file, pointer(*where, key), f"unknown validation rule member {key!r}")
        text = rule.get("validation_rule")
        if not isinstance(text, str):
            raise SchemaError(file, pointer(*where, "validation_rule"), "validation_rule: must be a string")
        number = rule.get("validation_value")
        if not _is_number(number):
            raise SchemaError(
                file,
                pointer(*where, "validation_value"),
                f"validation_value: must be a number, got {number!r}",
            )
        message = rule.get("validation_error", "")
        if not isinstance(message, str):
            raise SchemaError(file, pointer(*where, "validation_error"), "validation_error: must be a string")
        try:
            metric, op = parse_rule(text, allow_unknown_metric=allow_unknown)
        except RuleSyntaxError as exc:
            raise SchemaError(
                file, pointer(*where, "validation_rule"), f"{exc} (pass --allow-unknown to let it through)"
            ) from None
        if allow_unknown and metric not in METRICS:
            warnings.append(
                Warning_(
                    file,
                    pointer(*where, "validation_rule"),
                    f"validation rule {text!r}: unknown metric {metric!r}; kept as data, not checked",
                )
            )
        parsed.append((metric, op, rule["validation_value"], message))
    return parsed


# --- resolve ----------------------------------------------------------------------------------------


def _resolve_pointer(root: Any, ref: str, file: str, where: str) -> Any:
    if not ref.startswith("#"):
        raise SchemaError(
            file, where, f"$ref {ref!r}: only references into the same file ('#/...') are supported"
        )
    fragment = unquote(ref[1:])
    if fragment and not fragment.startswith("/"):
        raise SchemaError(file, where, f"$ref {ref!r}: anchors are not supported, use a JSON pointer")
    node = root
    for token in fragment.split("/")[1:] if fragment else []:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise SchemaError(file, where, f"$ref {ref!r} does not resolve (no {token!r})")
    return node


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def merge_all_of(node: dict[str, Any]) -> dict[str, Any]:
    """``node`` with its ``allOf`` merged into it when that changes nothing accepted, else ``node``.

    Exact when no constraint keyword appears twice with different values, no group of keywords that
    read each other (``properties``/``additionalProperties``, ``items``/``prefixItems`` ...) is split
    between two parts, and nothing uses ``unevaluated*``. Annotations of the outer node win (an
    ``allOf: [{"$ref": ...}]`` with ``default`` and ``description`` beside it reads as the target with
    that default and description).
    """
    members = node["allOf"]
    rest = {k: v for k, v in node.items() if k != "allOf"}
    pieces = [rest]
    for member in members:
        if member is True or member == {}:
            continue
        if not isinstance(member, dict):
            return node
        pieces.append(member)
    seen: dict[str, Any] = {}
    for piece in pieces:
        for key, value in piece.items():
            if is_annotation(key):
                continue
            if key in SEES_SIBLINGS or (key in seen and not _same(seen[key], value)):
                return node
            seen[key] = value
    for group in INTERACTING:
        if sum(1 for piece in pieces if group & piece.keys()) > 1:
            return node
    merged: dict[str, Any] = {}
    for piece in reversed(pieces[1:]):
        merged.update(piece)
    merged.update(rest)
    return merged


def resolve(schema: Any, file: str, *, keep_vendor: bool = False, names: dict[int, str] | None = None) -> Any:
    """The generator's view of a checked schema (see the module docstring). ``keep_vendor`` keeps
    vendor extension and OpenAPI annotation keywords (for ``openapi``). ``names`` receives, for each
    object definition a ``$ref`` reaches in ``$defs``, the ``id`` of its resolved ``properties`` ->
    the definition's name (one shared class per definition, named after it)."""
    cache: dict[str, tuple[Any, int, int]] = {}

    def too_deep(path: tuple[str | int, ...]) -> SchemaError:
        return SchemaError(
            file,
            pointer(*path),
            f"subschemas nested deeper than {MAX_SCHEMA_DEPTH} levels (after $ref resolution) are not supported",
        )

    def walk(
        node: Any, path: tuple[str | int, ...], active: tuple[str, ...], depth: int
    ) -> tuple[Any, int, int]:
        """(resolved node, height, expanded size)."""
        if depth > MAX_SCHEMA_DEPTH:
            raise too_deep(path)
        if not isinstance(node, dict):
            return node, 0, 1
        height, size = 0, 1

        def sub(rel: tuple[str | int, ...], child: Any) -> Any:
            nonlocal height, size
            resolved, child_height, child_size = walk(child, (*path, *rel), active, depth + 1)
            height, size = max(height, child_height + 1), size + child_size
            return resolved

        kept = {
            key: value
            for key, value in node.items()
            if (key in KEYWORDS and key not in ("$defs", "definitions", "$ref"))
            or (keep_vendor and kind_of(key, root=depth == 0) == VENDOR)
        }
        out = map_subschemas(kept, sub)
        if "$ref" in node:
            ref = node["$ref"]
            where = pointer(*path, "$ref")
            if ref in active:
                raise SchemaError(
                    file, where, f"$ref {ref!r} is recursive; recursive schemas are not supported"
                )
            cached = cache.get(ref)
            if cached is None:
                target = _resolve_pointer(schema, ref, file, where)
                cached = cache[ref] = walk(target, (*path, "$ref"), (*active, ref), depth + 1)
                tokens = ref.split("/")
                shared = cached[0].get("properties") if isinstance(cached[0], dict) else None
                if (
                    names is not None
                    and len(tokens) == 3
                    and tokens[1] in ("$defs", "definitions")
                    and shared
                ):
                    names.setdefault(id(shared), unquote(tokens[2]).replace("~1", "/").replace("~0", "~"))
            resolved, target_height, target_size = cached
            if depth + 1 + target_height > MAX_SCHEMA_DEPTH:
                raise too_deep(path)
            height, size = max(height, target_height + 1), size + target_size
            out["allOf"] = [resolved, *out.get("allOf", [])]
        if size > MAX_EXPANDED:
            raise SchemaError(
                file,
                pointer(*path),
                f"$ref expansion exceeds {MAX_EXPANDED} subschemas; not supported (reference fewer copies)",
            )
        if "allOf" in out:
            out = merge_all_of(out)
        return out, height, size

    return walk(schema, (), (), 0)[0]


# --- a model: both files ----------------------------------------------------------------------------


@dataclass
class LoadedModel:
    model_id: str
    input: LoadedSchema
    output: LoadedSchema


def load_model(files: ModelFiles, *, allow_unknown: bool = False, require_output: bool = True) -> LoadedModel:
    """Load both schema files of one store model. Without ``output.json`` the model is refused, or
    with ``require_output=False`` (``diff``) given an empty output schema."""
    loaded_in = load_bytes(files.read_input(), files.input_display, allow_unknown=allow_unknown)
    raw_out = files.read_output()
    if raw_out is None:
        if require_output:
            raise SchemaError(
                files.output_display, "", "missing: every model folder needs input.json and output.json"
            )
        raw_out = b'{"output": {}}'
    loaded_out = load_bytes(raw_out, files.output_display, allow_unknown=allow_unknown)
    return LoadedModel(files.model_id, loaded_in, loaded_out)
