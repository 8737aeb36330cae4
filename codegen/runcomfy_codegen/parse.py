"""Stage 2, *parse*: turn a checked schema into the IR (:mod:`runcomfy_codegen.ir`).

Each schema node becomes a :data:`~runcomfy_codegen.ir.TypeExpr`. Keywords pydantic states exactly
become Python types and ``Field`` constraints; every other keyword of the node is kept, verbatim, in
the node's ``check`` (checked by jsonschema at run time). Nothing is dropped: a keyword is either
expressed natively or checked.

The parser reads the loader's resolved view (:attr:`~runcomfy_codegen.schema.loader.LoadedSchema.resolved`):
``$ref`` already replaced, ``allOf`` merged where exact, vendor keywords gone.
"""

from __future__ import annotations

import builtins
import json
import keyword
import re
import unicodedata
from typing import Any, Literal

from runcomfy_codegen._errors import SchemaError, pointer
from runcomfy_codegen.ir import (
    Constrained,
    DictOf,
    FieldIR,
    ListOf,
    LiteralOf,
    LiteralValue,
    ModelIR,
    ModelRef,
    ModuleIR,
    Primitive,
    Scalar,
    TypeExpr,
    UnionOf,
)
from runcomfy_codegen.schema.dialect import CONSTRAINTS, is_annotation, json_types_of
from runcomfy_codegen.schema.loader import LoadedSchema

# Formats that mark a field as media (a URL whose content the custom rules may read).
MEDIA_FORMATS = frozenset(
    {"uri", "url", "iri", "image_uri", "video_uri", "audio_uri", "media_uri", "file_uri"}
)

# Public attributes of the generated classes' base (pydantic's BaseModel and RunComfyInput), listed
# here rather than read from dir() so the generator does not import pydantic (a cold `generate` is
# ~10% faster); tests/test_generate.py fails if pydantic grows a name this list lacks.
BASE_MODEL_NAMES = frozenset({
    "construct", "copy", "dict", "from_orm", "json", "model_computed_fields", "model_config",
    "model_construct", "model_copy", "model_dump", "model_dump_json", "model_extra", "model_fields",
    "model_fields_set", "model_json_schema", "model_parametrized_name", "model_post_init",
    "model_rebuild", "model_validate", "model_validate_json", "model_validate_strings", "parse_file",
    "parse_obj", "parse_raw", "schema", "schema_json", "update_forward_refs", "validate",
    "runcomfy_model_id", "runcomfy_output", "runcomfy_media_rules", "runcomfy_media_fields",
    "runcomfy_untyped", "to_payload",
})  # fmt: skip

# Names a generated field must not take: they would shadow something the class body or pydantic uses.
RESERVED_NAMES = BASE_MODEL_NAMES | {
    "str", "int", "float", "bool", "list", "dict", "Any", "Annotated", "ClassVar", "Field", "Final",
    "Literal", "JsonValue", "JsonInt", "JsonNumber", "MediaURL", "MediaInput", "IntChoice", "BoolChoice",
    "Omittable", "JsonSchemaCheck",
    "MediaRule", "RunComfyInput", "RunComfyOutput", "MODEL_ID", "MEDIA_RULES", "MEDIA_FIELDS",
    "Input", "Output", "model_validator", "classmethod", "runcomfy_check_schema", "runcomfy_schema_check",
    "RunComfyModel", "ConfigDict",
}  # fmt: skip

_TAKEN_NAMES = RESERVED_NAMES | frozenset(dir(builtins))
_NOT_IDENTIFIER = re.compile(r"[^0-9A-Za-z_]+")
_PAGE_LABEL = re.compile(r"^modelApiDoc_\w*$")


def clean_text(text: object) -> str | None:
    """A title or description worth printing: not empty, not an untranslated page label."""
    if not isinstance(text, str):
        return None
    stripped: str = text.strip()
    if not stripped or _PAGE_LABEL.match(stripped):
        return None
    return stripped


def python_name(json_name: str, taken: set[str], avoid: frozenset[str] = frozenset()) -> str:
    """A safe, unique Python identifier for a property name (``taken`` is updated).

    ``avoid`` holds the object's other JSON names: a renamed field never takes one of them, so a
    payload key always means one field.
    """
    name = json_name
    if not (name.isidentifier() and name.isascii() and not name.startswith("_")):
        name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
        name = _NOT_IDENTIFIER.sub("_", name).strip("_") or "field"
        if name[0].isdigit():
            name = "field_" + name
    if keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in RESERVED_NAMES:
        name += "_"
    candidate, n = name, 2
    while candidate in taken or (candidate != json_name and candidate in avoid):
        candidate, n = f"{name}_{n}", n + 1
    taken.add(candidate)
    return candidate


def class_name(prefix: str, hint: str, taken: set[str]) -> str:
    words = _NOT_IDENTIFIER.sub(" ", unicodedata.normalize("NFKD", hint).encode("ascii", "ignore").decode())
    base = prefix + "".join(w[:1].upper() + w[1:] for w in words.replace("_", " ").split())
    if not base or base[0].isdigit():
        base = "Model" + base
    if keyword.iskeyword(base) or keyword.issoftkeyword(base) or base in _TAKEN_NAMES:
        base += "Model"  # a class named Field, None or str would break the module
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}{n}", n + 1
    taken.add(candidate)
    return candidate


# --- schema -> IR ---------------------------------------------------------------------------------


def _is_literal_value(value: Any) -> bool:
    if isinstance(value, str):
        # pydantic-core keeps Literal strings as Rust strings, which cannot hold lone surrogates.
        return not any("\ud800" <= c <= "\udfff" for c in value)
    return value is None or isinstance(value, (bool, int))


def _jsonschema_valid(schema: Any, value: Any) -> bool:
    from runcomfy_codegen import carried

    carried.load()  # see runcomfy_codegen.carried
    from runcomfy_models._patterns import ecma_validator  # patterns as ECMA-262, bounded in time

    return bool(ecma_validator(schema).is_valid(value))


def _is_json_type(value: Any, name: str) -> bool:
    if name == "null":
        return value is None
    if name == "boolean":
        return isinstance(value, bool)
    if name == "string":
        return isinstance(value, str)
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return False  # literal values are never arrays or objects


def _accepts(node: dict[str, Any], keywords: dict[str, Any], value: Any, simple: bool) -> bool:
    """Does ``node`` accept the literal ``value``? Only type/enum/const are read by hand (fast path)."""
    if not simple:
        return _jsonschema_valid(node, value)
    types = keywords.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else types
        if not any(_is_json_type(value, n) for n in names):
            return False
    if "const" in keywords:
        const = keywords["const"]
        return bool(const == value and isinstance(const, bool) == isinstance(value, bool))
    return True


def _is_opaque(expr: TypeExpr) -> bool:
    """A type whose whole value jsonschema decides (``JsonValue`` with a check)."""
    return isinstance(expr, Constrained) and expr.check is not None and expr.inner == Primitive("JsonValue")


def _needs_models(expr: TypeExpr, value: Any) -> bool:
    """Does a default hold an object where the type has a generated class (so it must become one)?"""
    if isinstance(expr, Constrained):
        return _needs_models(expr.inner, value)
    if isinstance(expr, ModelRef):
        return isinstance(value, dict)
    if isinstance(expr, UnionOf):
        return any(_needs_models(m, value) for m in expr.members)
    if isinstance(expr, ListOf) and isinstance(value, list):
        return any(_needs_models(expr.item, v) for v in value)
    if isinstance(expr, DictOf) and isinstance(value, dict):
        return any(_needs_models(expr.value, v) for v in value.values())
    return False


def accepts_null(expr: TypeExpr) -> bool | None:
    """Does a type accept JSON null? None when only jsonschema can tell (a check is attached)."""
    if isinstance(expr, Primitive):
        return expr.name in ("None", "JsonValue")
    if isinstance(expr, LiteralOf):
        return None in expr.values
    if isinstance(expr, UnionOf):
        answers = [accepts_null(m) for m in expr.members]
        return True if True in answers else (None if None in answers else False)
    if isinstance(expr, Constrained):
        if expr.check is not None:
            return None
        return accepts_null(expr.inner)
    return False


_NUMERIC_BOUNDS = (
    ("minimum", "ge"),
    ("exclusiveMinimum", "gt"),
    ("maximum", "le"),
    ("exclusiveMaximum", "lt"),
)


def _with_property_names(leftovers: dict[str, Any], keywords: dict[str, Any]) -> dict[str, Any]:
    """Leftover keywords that count "other" properties need the declared ones named (as ``true``),
    or jsonschema would count them as additional."""
    if "properties" in keywords and {"additionalProperties", "unevaluatedProperties"} & leftovers.keys():
        return {"properties": dict.fromkeys(keywords["properties"], True), **leftovers}
    return leftovers


URL_FORMATS = MEDIA_FORMATS | {"uri-reference", "iri-reference"}


def as_scalar(expr: TypeExpr, name: Scalar) -> TypeExpr:
    """``expr`` with its plain ``str`` (alone, constrained, in a union or a list) spelled ``name``."""
    if expr == Primitive("str"):
        return Primitive(name)
    if isinstance(expr, Constrained):
        return Constrained(as_scalar(expr.inner, name), expr.constraints, expr.check)
    if isinstance(expr, UnionOf):
        return UnionOf(tuple(as_scalar(m, name) for m in expr.members))
    if isinstance(expr, ListOf):
        return ListOf(as_scalar(expr.item, name))
    return expr


def _constrained(expr: TypeExpr) -> bool:
    """Whether a string of ``expr`` carries keywords (``pattern``, ``minLength`` ...): such a media
    field stays a plain ``str`` (a URL only), since those keywords do not apply to a local path."""
    if isinstance(expr, Constrained):  # a list's own bounds (minItems) leave its items free
        return expr.check is not None or not isinstance(expr.inner, ListOf) or _constrained(expr.inner)
    if isinstance(expr, UnionOf):
        return any(_constrained(m) for m in expr.members)
    if isinstance(expr, ListOf):
        return _constrained(expr.item)
    return False


class _ModuleParser:
    def __init__(self, model_id: str, file: str, def_names: dict[int, str] | None = None) -> None:
        self.model_id = model_id
        self.file = file
        self.class_names: set[str] = {"Input", "Output"}
        self.nested: list[ModelIR] = []
        self.warnings: list[str] = []
        self.def_names = def_names or {}
        self.shared: dict[tuple[str, str], tuple[ModelIR, set[str]]] = {}
        """One class per ``$defs`` object: (definition name, its keywords as JSON) -> class."""
        self.media_urls = False
        """Strings with a URL ``format`` become ``MediaURL`` (set for the output schema)."""

    # A node's type -------------------------------------------------------------------------------
    def type_of(self, node: Any, path: tuple[str | int, ...], class_hint: str) -> TypeExpr:
        expr = self._type_of(node, path, class_hint)
        if self.media_urls and isinstance(node, dict) and node.get("format") in URL_FORMATS:
            expr = as_scalar(expr, "MediaURL")  # an output URL: a str that can download its file
        return expr

    def _type_of(self, node: Any, path: tuple[str | int, ...], class_hint: str) -> TypeExpr:
        if node is True or node == {}:
            return Primitive("JsonValue")
        if node is False:
            return Constrained(Primitive("JsonValue"), check=False)
        assert isinstance(node, dict)
        keywords = {k: v for k, v in node.items() if k in CONSTRAINTS}
        if not keywords:
            return Primitive("JsonValue")

        if "enum" in keywords or "const" in keywords:
            literal = self._literal(node, keywords)
            if literal is not None:
                return literal

        if len(keywords) == 1 and ("anyOf" in keywords or "oneOf" in keywords):
            union = self._union(keywords, path, class_hint)
            if union is not None:
                return union

        types = keywords.pop("type", None)
        if types is None:
            return Constrained(Primitive("JsonValue"), check=keywords)
        names = [types] if isinstance(types, str) else list(types)
        leftovers = dict(keywords)
        members: list[TypeExpr] = []
        used: set[str] = set()
        for name in names:
            member, consumed = self._native(name, keywords, path, class_hint)
            members.append(member)
            used |= consumed
        for key in used:
            leftovers.pop(key, None)
        result: TypeExpr = members[0] if len(members) == 1 else UnionOf(tuple(members))
        if leftovers:
            result = Constrained(result, check=_with_property_names(leftovers, keywords))
        return result

    def _union(
        self, keywords: dict[str, Any], path: tuple[str | int, ...], class_hint: str
    ) -> TypeExpr | None:
        """``anyOf`` (or a ``oneOf`` whose branches accept disjoint JSON types) of branches pydantic
        states exactly: a union, as exact as the branches (a union accepts what one member accepts).
        None when a branch would need jsonschema for its whole value (the node then keeps the check)."""
        key = "anyOf" if "anyOf" in keywords else "oneOf"
        branches = keywords[key]
        if key == "oneOf":
            seen: set[str] = set()
            for branch in branches:
                types = json_types_of(branch)
                if types is None or types & seen:
                    return None
                seen |= types
        mark, names, warnings = len(self.nested), set(self.class_names), len(self.warnings)
        members: list[TypeExpr] = []
        for index, branch in enumerate(branches):
            member = self.type_of(
                branch, (*path, key, index), class_hint if index == 0 else f"{class_hint} {index}"
            )
            if _is_opaque(member):
                dropped = {id(model) for model in self.nested[mark:]}
                for stale in [k for k, v in self.shared.items() if id(v[0]) in dropped]:
                    del self.shared[stale]
                del self.nested[mark:], self.warnings[warnings:]
                self.class_names.intersection_update(names)
                return None
            members.append(member)
        flat: list[TypeExpr] = []
        for member in members:
            for part in member.members if isinstance(member, UnionOf) else (member,):
                if part not in flat:
                    flat.append(part)
        return flat[0] if len(flat) == 1 else UnionOf(tuple(flat))

    def _literal(self, node: dict[str, Any], keywords: dict[str, Any]) -> TypeExpr | None:
        """``enum``/``const`` whose values fit ``Literal``: keep exactly the values the node accepts."""
        values = list(keywords["enum"]) if "enum" in keywords else [keywords["const"]]
        if not all(_is_literal_value(v) for v in values):
            return None
        # The value set is finite: evaluate every other keyword on it now, at generation time.
        simple = keywords.keys() <= {"enum", "const", "type"}
        accepted: list[LiteralValue] = []
        seen: set[tuple[type, LiteralValue]] = set()  # linear-time de-duplication
        for value in values:
            key = (type(value), value)
            if key in seen:
                continue
            seen.add(key)
            if _accepts(node, keywords, value, simple):
                accepted.append(value)
        if not accepted:
            return Constrained(Primitive("JsonValue"), check=False)
        has_bool = any(isinstance(v, bool) for v in accepted)
        has_int = any(isinstance(v, int) and not isinstance(v, bool) for v in accepted)
        if has_bool and has_int:
            return Constrained(Primitive("JsonValue"), check={"enum": accepted})
        return LiteralOf(tuple(accepted))

    def _native(
        self, name: str, keywords: dict[str, Any], path: tuple[str | int, ...], class_hint: str
    ) -> tuple[TypeExpr, set[str]]:
        """The pydantic type for one JSON type, and the keywords it states exactly."""
        constraints: list[tuple[str, Any]] = []
        used: set[str] = set()

        def take(keyword_name: str, constraint: str) -> None:
            if keyword_name in keywords:
                constraints.append((constraint, keywords[keyword_name]))
                used.add(keyword_name)

        inner: TypeExpr
        if name == "string":
            inner = Primitive("str")
            take("minLength", "min_length")
            take("maxLength", "max_length")
            take("pattern", "pattern")
        elif name in ("integer", "number"):
            inner = Primitive("int" if name == "integer" else "float")
            for keyword_name, constraint in _NUMERIC_BOUNDS:
                take(keyword_name, constraint)
            step = keywords.get("multipleOf")
            if name == "integer" and isinstance(step, int) and not isinstance(step, bool):
                take("multipleOf", "multiple_of")
        elif name == "boolean":
            inner = Primitive("bool")
        elif name == "null":
            inner = Primitive("None")
        elif name == "array":
            if "prefixItems" in keywords:
                item: TypeExpr = Primitive("JsonValue")  # prefixItems and items stay in the check
            elif "items" in keywords:
                item = self.type_of(keywords["items"], (*path, "items"), class_hint + " item")
                used.add("items")
            else:
                item = Primitive("JsonValue")
            inner = ListOf(item)
            take("minItems", "min_length")
            take("maxItems", "max_length")
        else:  # object
            inner, consumed = self._object(keywords, path, class_hint)
            used |= consumed
        if constraints:
            inner = Constrained(inner, tuple(constraints))
        return inner, used

    def _object(
        self, keywords: dict[str, Any], path: tuple[str | int, ...], class_hint: str
    ) -> tuple[TypeExpr, set[str]]:
        if "properties" not in keywords and "required" not in keywords:
            extra = keywords.get("additionalProperties", True)
            if "patternProperties" in keywords or "unevaluatedProperties" in keywords:
                return DictOf(Primitive("JsonValue")), set()
            value = self.type_of(extra, (*path, "additionalProperties"), class_hint + " value")
            return DictOf(value), {"additionalProperties"}
        properties = keywords.get("properties")
        key = None
        if properties and id(properties) in self.def_names:
            # a definition reached through $ref: one class, named after it, for every use alike
            definition = self.def_names[id(properties)]
            key = (definition, json.dumps(keywords, sort_keys=True, default=repr))
            known = self.shared.get(key)
            if known is not None:
                return ModelRef(known[0].class_name), known[1]
            class_hint, path = definition, ("$defs", definition)
        name = class_name("", class_hint, self.class_names)
        model, consumed = self.model(keywords, path, name)
        self.nested.append(model)
        if key is not None:
            self.shared[key] = (model, consumed)
        return ModelRef(model.class_name), consumed

    # A class for an object node ------------------------------------------------------------------
    def model(self, node: dict[str, Any], path: tuple[str | int, ...], name: str) -> tuple[ModelIR, set[str]]:
        properties: dict[str, Any] = node.get("properties", {})
        required: list[str] = list(node.get("required", []))
        used = {"properties", "required"}
        taken: set[str] = set(self.class_names)
        json_names = frozenset(properties) | frozenset(required)
        fields: list[FieldIR] = []
        for json_name, sub in properties.items():
            fields.append(
                self.field(
                    json_name,
                    sub,
                    (*path, "properties", json_name),
                    json_name in required,
                    taken,
                    name,
                    json_names,
                )
            )
        for json_name in required:
            if json_name not in properties:
                where = pointer(*path, "required")
                self.warnings.append(
                    f"{self.file}#{where}: required property {json_name!r} is not declared in 'properties'; "
                    "the client requires it as any JSON value"
                )
                fields.append(self.field(json_name, True, (*path, "required"), True, taken, name, json_names))
        extra: Literal["allow", "forbid"] = "allow"
        additional = node.get("additionalProperties", True)
        structural = {"patternProperties", "unevaluatedProperties"} & node.keys()
        if additional is False and not structural:
            extra = "forbid"
            used.add("additionalProperties")
        elif additional is True:
            used.add("additionalProperties")
        title = clean_text(node.get("title"))
        description = clean_text(node.get("description"))
        return ModelIR(name, pointer(*path), title, description, fields, extra), used

    def field(
        self,
        json_name: str,
        node: Any,
        path: tuple[str | int, ...],
        required: bool,
        taken: set[str],
        owner: str,
        json_names: frozenset[str] = frozenset(),
    ) -> FieldIR:
        field_type = self.type_of(node, path, owner + " " + json_name)
        node_dict = node if isinstance(node, dict) else {}
        has_default = "default" in node_dict and not required
        default = node_dict.get("default")
        default_models = has_default and _needs_models(field_type, default)
        if default_models and not _jsonschema_valid(node, default):
            # A default is an annotation and may be anything; one that the schema refuses cannot
            # become the nested model instance a client reads, so the field is left without one.
            self.warnings.append(
                f"{self.file}#{pointer(*path, 'default')}: the default does not satisfy the schema; "
                "the client leaves the field unset instead"
            )
            has_default = default_models = False
        null = accepts_null(field_type)
        if null is None:
            null = _jsonschema_valid(node, None)
        fmt = node_dict.get("format") if isinstance(node_dict.get("format"), str) else None
        return FieldIR(
            json_name=json_name,
            python_name=python_name(json_name, taken, json_names),
            type=field_type,
            required=required,
            has_default=has_default,
            default=default if has_default else None,
            title=clean_text(node_dict.get("title")),
            description=clean_text(node_dict.get("description")),
            format=fmt,
            omittable=not required and not has_default and not null,
            media=bool(node_dict.get("validations")) or fmt in MEDIA_FORMATS,
            default_models=default_models,
        )

    def root_model(self, schema: dict[str, Any], name: str, role: str) -> ModelIR:
        if schema.get("type", "object") != "object" and schema.get("type") != ["object"]:
            raise SchemaError(self.file, "/type", f"the {role} schema must describe an object (type: object)")
        model, used = self.model(schema, (), name)
        keywords = {k: v for k, v in schema.items() if not is_annotation(k)}
        leftovers = {k: v for k, v in keywords.items() if k not in used and k != "type"}
        if leftovers:
            model.check = _with_property_names(leftovers, keywords)
        return model


def parse_model(model_id: str, module: str, loaded_in: LoadedSchema, loaded_out: LoadedSchema) -> ModuleIR:
    """Build the IR of one model from its loaded input and output schemas."""
    input_schema, output_schema = loaded_in.resolved, loaded_out.resolved
    parser = _ModuleParser(model_id, loaded_in.path, loaded_in.def_names)
    output_parser = _ModuleParser(model_id, loaded_out.path, loaded_out.def_names)
    output_parser.class_names = parser.class_names
    output_parser.shared = parser.shared  # a definition used by both input and output: one class
    if not isinstance(output_schema, dict):
        raise SchemaError(loaded_out.path, "/output", "the output schema must be an object")
    output_parser.media_urls = True
    output_model = output_parser.root_model(output_schema, "Output", "output")
    input_model = parser.root_model(input_schema, "Input", "input")
    media = [f.json_name for f in input_model.fields if f.media]
    for f in input_model.fields:
        if f.media and not _constrained(f.type):  # a URL, or a local file (pathlib.Path) sent as a data: URI
            f.type = as_scalar(f.type, "MediaInput")
    return ModuleIR(
        model_id=model_id,
        module_name=module,
        input_file=loaded_in.path,
        output_file=loaded_out.path,
        input_model=input_model,
        output_model=output_model,
        nested_models=output_parser.nested + parser.nested,
        rules=loaded_in.rules,
        media_fields=media,
        warnings=[
            *(str(w) for w in (*loaded_in.warnings, *loaded_out.warnings)),
            *output_parser.warnings,
            *parser.warnings,
        ],
        input_schema_title=clean_text(input_schema.get("title")),
    )
