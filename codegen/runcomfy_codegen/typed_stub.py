"""``catalog/_typed.pyi``: the static types of ``runcomfy_models.get(model_id)``.

``get`` returns a module at run time; for a type checker this stub gives it one overload per catalog
id, returning ``ModelModule[<that model's Input>, <its Output>]``, so ``get("...").Input(durration=7)``
is a type error and ``client.run(get("...").Input(...))`` returns the model's own ``Output``.

Why one stub rather than ``TYPE_CHECKING`` imports of every model module: mypy pays roughly 10 ms per
module it reads, so overloads importing 1,000 modules made a one-line script take 12 s to check
(2.6 s with one model). The stub states each model's ``Input``, ``Output`` and nested classes again,
types only (no defaults, rules, titles), as classes nested in one class per model:
``runcomfy_models.catalog._typed.<module>.Output``. Its classes are the *types* of what ``get``
returns (same fields, same Python names); importing the module by name gives the module's own classes.
mypy's pairwise overload-overlap check (quadratic in the number of overloads) is switched off for
this file by ``# mypy: ignore-errors``: the overloads take distinct ``Literal`` strings by construction.

Each model's classes sit between ``# model: <id>`` lines, so ``generate MODEL_ID`` (which renders only
the models asked for) keeps the other models' classes from the stub on disk.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from runcomfy_codegen.literals import py_literal
from runcomfy_codegen.write import HEADER

if TYPE_CHECKING:
    from runcomfy_codegen.ir import FieldIR, ModelIR, ModuleIR, TypeExpr

STUB = "catalog/_typed.pyi"
_MARK = "# model: "
_STUB_PRIMITIVES = {
    "str": "str",
    "int": "int",
    "float": "float",
    "bool": "bool",
    "None": "None",
    "JsonValue": "JsonValue",
    "MediaURL": "MediaURL",
    "MediaInput": "MediaInput",
}


def _type(expr: TypeExpr, ns: str) -> str:
    # The IR is imported here, not with the module: writing the stub of a few models (an incremental
    # generate) needs only its text (assemble, replace_parts).
    from runcomfy_codegen.ir import Constrained, DictOf, ListOf, LiteralOf, ModelRef, Primitive, UnionOf

    if isinstance(expr, Primitive):
        return _STUB_PRIMITIVES[expr.name]
    if isinstance(expr, LiteralOf):
        return f"Literal[{', '.join(py_literal(v) for v in expr.values)}]"
    if isinstance(expr, ListOf):
        return f"list[{_type(expr.item, ns)}]"
    if isinstance(expr, DictOf):
        return f"dict[str, {_type(expr.value, ns)}]"
    if isinstance(expr, ModelRef):
        return f"{ns}.{expr.class_name}"
    if isinstance(expr, UnionOf):
        members: list[str] = []
        for member in expr.members:
            text = _type(member, ns)
            if text not in members:
                members.append(text)
        return " | ".join(members)
    assert isinstance(expr, Constrained)
    return _type(expr.inner, ns)


def _field(f: FieldIR, ns: str) -> str:
    text = _type(f.type, ns)
    if f.omittable:
        text += " | None"
    required = f.required and not f.has_default
    return f"        {f.python_name}: {text}" + ("" if required else " = ...")


def _class(model: ModelIR, base: str, ns: str) -> list[str]:
    lines = [f"    class {model.class_name}({base}):"]
    lines += [_field(f, ns) for f in model.fields] or ["        ..."]
    return lines


def render_stub(module: ModuleIR) -> str:
    """One model's part of the stub: its classes, nested in a class named after its module."""
    ns = module.module_name
    lines = [
        f"{_MARK}{module.model_id}",
        f"class {ns}:",
        f"    MODEL_ID: Final = {py_literal(module.model_id)}",
    ]
    for nested in module.nested_models:
        lines += _class(nested, "RunComfyModel", ns)
    lines += _class(module.output_model, "RunComfyOutput", ns)
    lines += _class(module.input_model, f"RunComfyInput[{ns}.{module.output_model.class_name}]", ns)
    return "\n".join(lines) + "\n"


_PREAMBLE = f'''{HEADER}. Do not edit: run `runcomfy-codegen generate`.
# mypy: ignore-errors
# ruff: noqa
"""Static types of ``runcomfy_models.get(model_id)``: one overload per catalog id (see the package's
``_registry.ModelModule``). Types only, for type checkers; never imported at run time."""

from types import ModuleType
from typing import Final, Literal, overload

from pydantic import JsonValue

from runcomfy_models._base import RunComfyInput, RunComfyModel, RunComfyOutput
from runcomfy_models._files import MediaInput
from runcomfy_models._download import MediaURL
from runcomfy_models._registry import ModelModule

'''


def assemble(catalog: list[tuple[str, str]], parts: dict[str, str]) -> str:
    """The whole stub: ``parts`` maps model ids to :func:`render_stub` text (a model without one is
    typed by the ``str`` fallback overload only)."""
    out = [_PREAMBLE]
    typed = [(model_id, module) for model_id, module in catalog if model_id in parts]
    out += [parts[model_id] for model_id, _ in typed]
    out.append("")
    for model_id, module in typed:
        out.append("@overload")
        out.append(
            f"def get(model_id: Literal[{py_literal(model_id)}]) -> ModelModule[{module}.Input, {module}.Output]: ..."
        )
    out.append("@overload")
    out.append("def get(model_id: str) -> ModuleType: ...")
    return "\n".join(out) + "\n"


def parts_of(text: str) -> dict[str, str]:
    """The per-model parts of a stub written by :func:`assemble`."""
    parts: dict[str, str] = {}
    body = text.split("\n@overload\n", 1)[0]
    for chunk in re.split(rf"(?m)^(?={re.escape(_MARK)})", body):
        if chunk.startswith(_MARK):
            model_id = chunk[len(_MARK) : chunk.index("\n")]
            parts[model_id] = chunk.rstrip("\n") + "\n"
    return parts


def part_span(text: str, model_id: str) -> tuple[int, int] | None:
    """Where ``model_id``'s part sits in the stub ``text`` (from :func:`assemble`): ``text[start:end]``
    is the part; None when the stub has none."""
    mark = f"\n{_MARK}{model_id}\n"
    found = text.find(mark)
    if found == -1:
        return None
    start = found + 1
    end = text.find(f"\n{_MARK}", start + len(mark) - 1)  # the next part
    if end == -1:
        end = text.find("\n\n@overload\n", start)  # the last part: the overloads follow
    return None if end == -1 else (start, end)


def replace_parts(text: str, parts: dict[str, str]) -> str | None:
    """The stub ``text`` with the parts of ``parts``' models replaced, as :func:`assemble` would write
    it; None when the stub has no part for one of them."""
    spans = []
    for model_id, part in parts.items():
        span = part_span(text, model_id)
        if span is None:
            return None
        spans.append((span, part))
    for (start, end), part in sorted(spans, reverse=True):  # from the end: earlier offsets hold
        text = f"{text[:start]}{part}{text[end:]}"
    return text


def keep_others(files: dict[str, str], catalog: list[tuple[str, str]], package: Path) -> None:
    """For a subset build: put the other catalog models' parts, from the stub on disk, back into
    ``files[STUB]`` (the caller records its new hash in the manifest)."""
    try:
        old = parts_of((package / STUB).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        old = {}
    new = parts_of(files[STUB])
    merged = {model_id: new.get(model_id) or old.get(model_id, "") for model_id, _ in catalog}
    files[STUB] = assemble(catalog, {k: v for k, v in merged.items() if v})
