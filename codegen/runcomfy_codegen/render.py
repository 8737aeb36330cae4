"""Stage 3, *render*: print the IR through the Jinja templates in ``templates/``.

This module turns IR values into the small strings templates print (an annotation, a ``Field(...)``
call, a docstring); the templates only loop over them. Every value that came from a schema reaches
the output through :func:`py_literal`, :func:`docstring` or :func:`comment`, never raw, so no title,
description, enum value, default or property name can break or inject code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from runcomfy_codegen.ir import (
    Constrained,
    DictOf,
    FieldIR,
    ListOf,
    LiteralOf,
    ModelIR,
    ModelRef,
    ModuleIR,
    Primitive,
    TypeExpr,
    UnionOf,
)
from runcomfy_codegen.literals import py_literal

TEMPLATES = Path(__file__).parent / "templates"

_PRIMITIVES = {
    "str": "str",
    "int": "JsonInt",
    "float": "JsonNumber",
    "bool": "bool",
    "None": "None",
    "JsonValue": "JsonValue",
    "MediaURL": "MediaURL",
    "MediaInput": "MediaInput",
}
_IMPORT_FROM = {
    "Annotated": "typing",
    "Any": "typing",
    "ClassVar": "typing",
    "Final": "typing",
    "Literal": "typing",
    "ConfigDict": "pydantic",
    "Field": "pydantic",
    "JsonValue": "pydantic",
    "model_validator": "pydantic",
    "RunComfyInput": "runcomfy_models._base",
    "RunComfyModel": "runcomfy_models._base",
    "RunComfyOutput": "runcomfy_models._base",
    "MediaRule": "runcomfy_models._rules",
    "BoolChoice": "runcomfy_models._types",
    "IntChoice": "runcomfy_models._types",
    "JsonInt": "runcomfy_models._types",
    "JsonNumber": "runcomfy_models._types",
    "MediaURL": "runcomfy_models._download",
    "MediaInput": "runcomfy_models._files",
    "JsonSchemaCheck": "runcomfy_models._types",
    "Omittable": "runcomfy_models._types",
}


# --- safe spelling of schema values ---------------------------------------------------------------


# Characters that must not appear raw in generated source: control characters (Cc) but tab and
# newline, line/paragraph separators (Zl, Zp) and lone surrogates (Cs).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def _escape_match(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _escape_unsafe(text: str) -> str:
    return _UNSAFE.sub(_escape_match, text)


def docstring(text: str, indent: str = "") -> str:
    """A triple-quoted docstring for ``text``: backslashes, quotes and control characters escaped."""
    body = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    body = _escape_unsafe(body).replace("\t", "    ")
    lines = [line.rstrip() for line in body.split("\n")]
    if lines[-1].endswith('"'):
        lines[-1] = lines[-1][:-1] + '\\"'
    if len(lines) == 1:
        return f'{indent}"""{lines[0]}"""'
    rest = "\n".join(f"{indent}{line}" if line else "" for line in lines[1:])
    return f'{indent}"""{lines[0]}\n{rest}\n{indent}"""'


def comment(text: str) -> str:
    """Text safe inside a ``#`` comment: one line, control characters escaped."""
    return _escape_unsafe(text.replace("\n", " ").replace("\t", " "))


# --- IR -> strings ----------------------------------------------------------------------------------


@dataclass
class _Imports:
    names: set[str] = field(default_factory=set)

    def use(self, name: str) -> str:
        self.names.add(name)
        return name

    def render(self) -> str:
        groups: dict[str, list[str]] = {}
        for name in self.names:
            groups.setdefault(_IMPORT_FROM[name], []).append(name)
        sections = [
            [m for m in groups if m == "typing"],
            [m for m in groups if m == "pydantic"],
            [m for m in groups if m.startswith("runcomfy_models")],
        ]
        blocks = []
        for modules in sections:
            lines = [
                f"from {module} import {', '.join(sorted(groups[module], key=lambda n: (n.lower(), n)))}"
                for module in sorted(modules)
            ]
            if lines:
                blocks.append("\n".join(lines))
        return "\n\n".join(blocks)


def annotation(expr: TypeExpr, imports: _Imports) -> str:
    if isinstance(expr, Primitive):
        name = _PRIMITIVES[expr.name]
        return imports.use(name) if name in _IMPORT_FROM else name
    if isinstance(expr, LiteralOf):
        text = f"{imports.use('Literal')}[{', '.join(py_literal(v) for v in expr.values)}]"
        if any(isinstance(v, bool) for v in expr.values):
            return f"{imports.use('BoolChoice')}[{text}]"
        if any(isinstance(v, int) for v in expr.values):
            return f"{imports.use('IntChoice')}[{text}]"
        return text
    if isinstance(expr, ListOf):
        return f"list[{annotation(expr.item, imports)}]"
    if isinstance(expr, DictOf):
        return f"dict[str, {annotation(expr.value, imports)}]"
    if isinstance(expr, ModelRef):
        return expr.class_name
    if isinstance(expr, UnionOf):
        members: list[str] = []
        for member in expr.members:
            text = annotation(member, imports)
            if text not in members:
                members.append(text)
        return " | ".join(members)
    metadata = []
    if expr.constraints:
        metadata.append(f"{imports.use('Field')}({_kwargs(expr.constraints)})")
    if expr.check is not None:
        metadata.append(f"{imports.use('JsonSchemaCheck')}({py_literal(expr.check)})")
    return f"{imports.use('Annotated')}[{annotation(expr.inner, imports)}, {', '.join(metadata)}]"


LINE_LENGTH = 110


class _Code(str):
    """Python source the renderer built from IR values (each through :func:`py_literal`)."""


def _value(value: Any) -> str:
    return value if isinstance(value, _Code) else py_literal(value)


def _kwargs(pairs: Any) -> str:
    return ", ".join(f"{key}={_value(value)}" for key, value in pairs)


def _model_default(expr: TypeExpr, value: Any) -> str:
    """A default whose objects sit where generated classes are, built as instances of them."""
    if isinstance(expr, Constrained):
        return _model_default(expr.inner, value)
    if isinstance(expr, ModelRef) and isinstance(value, dict):
        return f"{expr.class_name}.model_validate({py_literal(value)})"
    if isinstance(expr, UnionOf):
        for member in expr.members:
            if _fits(member, value):
                return _model_default(member, value)
    if isinstance(expr, ListOf) and isinstance(value, list):
        return "[" + ", ".join(_model_default(expr.item, v) for v in value) + "]"
    if isinstance(expr, DictOf) and isinstance(value, dict):
        items = (f"{py_literal(k)}: {_model_default(expr.value, v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    return py_literal(value)


def _fits(expr: TypeExpr, value: Any) -> bool:
    if isinstance(expr, Constrained):
        return _fits(expr.inner, value)
    if isinstance(value, dict):
        return isinstance(expr, (ModelRef, DictOf))
    if isinstance(value, list):
        return isinstance(expr, ListOf)
    return False


def call(name: str, pairs: list[tuple[str, Any]], *, indent: str, prefix_width: int) -> str:
    """``name(k=v, ...)`` on one line when it fits, else one argument a line (as ruff format does)."""
    parts = [f"{key}={_value(value)}" for key, value in pairs]
    flat = f"{name}({', '.join(parts)})"
    if prefix_width + len(flat) <= LINE_LENGTH or not pairs:
        return flat
    inner = "".join(f"{indent}    {part},\n" for part in parts)
    return f"{name}(\n{inner}{indent})"


@dataclass
class FieldView:
    name: str
    annotation: str
    value: str | None


@dataclass
class ClassView:
    name: str
    base: str
    docstring: str
    config: str | None
    class_vars: list[str]
    fields: list[FieldView]
    check: str | None


def _field_view(f: FieldIR, imports: _Imports) -> FieldView:
    expr = f.type
    args: list[tuple[str, Any]] = []
    if f.default_models:
        args.append(("default_factory", _Code(f"lambda: {_model_default(f.type, f.default)}")))
    elif f.has_default:
        args.append(("default", f.default))
    elif not f.required:
        args.append(("default", None))  # left out: not sent (null is refused unless the type allows it)
    if f.alias is not None:
        args.append(("alias", f.alias))
    if f.title is not None:
        args.append(("title", f.title))
    if f.description is not None:
        args.append(("description", f.description))
    # Constraints of the field's own type read best in its Field(...) call.
    if isinstance(expr, Constrained) and expr.check is None:
        args.extend(expr.constraints)
        expr = expr.inner
    if f.format is not None:
        args.append(("json_schema_extra", {"format": f.format}))
    text = annotation(expr, imports)
    if f.omittable:
        text = f"{imports.use('Omittable')}[{text}]"
    width = 4 + len(f.python_name) + 2 + len(text) + 3
    value = call(imports.use("Field"), args, indent="    ", prefix_width=width) if args else None
    return FieldView(f.python_name, text, value)


def _class_docstring(model: ModelIR, fallback: str) -> str:
    parts = [p for p in (model.title, model.description) if p]
    text = "\n\n".join(parts) if parts else fallback
    if parts and fallback not in text:
        text = f"{fallback}\n\n{text}"
    return docstring(text, "    ")


def _class_view(
    model: ModelIR,
    base: str,
    fallback_doc: str,
    class_vars: list[str],
    imports: _Imports,
    base_args: str = "",
) -> ClassView:
    config = None
    if model.extra == "forbid":
        config = f'model_config = {imports.use("ConfigDict")}(extra="forbid")'
    check = None
    if model.check is not None:
        imports.use("model_validator")
        imports.use("Any")
        imports.use("ClassVar")
        check = f"{imports.use('JsonSchemaCheck')}({py_literal(model.check)})"
    return ClassView(
        name=model.class_name,
        base=imports.use(base) + base_args,
        docstring=_class_docstring(model, fallback_doc),
        config=config,
        class_vars=class_vars,
        fields=[_field_view(f, imports) for f in model.fields],
        check=check,
    )


_OPTIONS: dict[str, Any] = {
    "undefined": jinja2.StrictUndefined,
    "autoescape": False,
    "keep_trailing_newline": True,
    "trim_blocks": True,
    "lstrip_blocks": True,
}
"""How the templates are compiled: strict about undefined names, no autoescape (not HTML)."""


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Jinja's cache of compiled templates, in the user's own folder of the system's temporary
    directory (Jinja checks it is private): compiling the module template takes longer than
    rendering a model with it. Jinja keys an entry by the template's path and source; the file
    name adds Jinja's version and the options above, which shape the compiled code too. None
    where Jinja finds no safe folder."""
    import hashlib

    shape = repr((jinja2.__version__, sorted((k, repr(v)) for k, v in _OPTIONS.items())))
    tag = hashlib.sha256(shape.encode()).hexdigest()[:16]
    try:
        return jinja2.FileSystemBytecodeCache(pattern=f"__runcomfy_codegen_{tag}_%s.cache")
    except (RuntimeError, OSError):
        return None


@cache
def environment() -> jinja2.Environment:
    """The Jinja environment, built once (see :data:`_OPTIONS`)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        bytecode_cache=_bytecode_cache(),
        **_OPTIONS,
    )
    env.filters["py"] = py_literal
    env.filters["comment"] = comment
    return env


def render_module(module: ModuleIR) -> str:
    imports = _Imports()
    imports.use("Final")
    nested = [
        _class_view(m, "RunComfyModel", f"The ``{m.json_pointer}`` object.", [], imports)
        for m in module.nested_models
    ]
    output = _class_view(
        module.output_model, "RunComfyOutput", "The ``output`` object of a finished request.", [], imports
    )
    imports.use("ClassVar")
    imports.use("MediaRule")
    class_vars = [
        "runcomfy_model_id: ClassVar[str] = MODEL_ID",
        "runcomfy_output: ClassVar[type[RunComfyOutput]] = Output",
        "runcomfy_media_rules: ClassVar[tuple[MediaRule, ...]] = MEDIA_RULES",
        "runcomfy_media_fields: ClassVar[tuple[str, ...]] = MEDIA_FIELDS",
    ]
    imports.use("RunComfyOutput")
    input_ = _class_view(
        module.input_model,
        "RunComfyInput",
        f"Request body of ``{module.model_id}``.",
        class_vars,
        imports,
        base_args=f"[{module.output_model.class_name}]",
    )
    rules = [
        call(
            "MediaRule",
            [
                ("field", r.field),
                ("metric", r.metric),
                ("operator", r.operator),
                ("value", r.value),
                ("message", r.message),
                *([("each_item", True)] if r.each_item else []),
            ],
            indent="    ",
            prefix_width=5,
        )
        for r in module.rules
    ]
    summary = f"RunComfy model ``{module.model_id}``: typed ``Input`` and ``Output``."
    if module.input_schema_title:
        summary += f"\n\n{module.input_schema_title}"
    template = environment().get_template("model.py.j2")
    return template.render(
        module=module,
        module_docstring=docstring(summary),
        imports=imports.render(),
        nested=nested,
        output=output,
        input=input_,
        rules=rules,
        media_fields=module.media_fields,
        warnings=[comment(w) for w in module.warnings],
    )
