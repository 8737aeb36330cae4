"""One model's build: load its schema files, parse them into the IR, render its module and its part
of the typed stub. ``generate`` runs it in-process, in forked pool workers for large stores
(:mod:`runcomfy_codegen.pipeline`), or in the warm renderer (:mod:`runcomfy_codegen.render_worker`).

The loader, the parser and the templates (jinja2 with them) are imported on first use: this module
is imported by every ``generate``, most of which render one model or none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from runcomfy_codegen._errors import CodegenError, SchemaError

if TYPE_CHECKING:
    from runcomfy_codegen.schema.loader import LoadedSchema
    from runcomfy_codegen.schema.store import ModelFiles

DEEP = 40
"""Schemas nested deeper than this (JSON levels, after ``$ref`` resolution) get their module compiled."""


def compiles_if_deep(text: str, *loaded: LoadedSchema) -> None:
    """A module that would not compile is never reported as built. Depth is what can break it (the
    loader bounds it, see :mod:`.schema.loader`); a module from a deep schema is compiled to make sure,
    the rest skip the cost."""
    deep = next((s for s in loaded if s.depth > DEEP), None)
    if deep is None:
        return
    try:
        compile(text, "<generated>", "exec", dont_inherit=True)
    except (SyntaxError, RecursionError, MemoryError, ValueError) as exc:
        reason = getattr(exc, "msg", None) or type(exc).__name__
        raise SchemaError(
            deep.path, "", f"nested too deeply: the generated module would not compile ({reason})"
        ) from None


class Built(NamedTuple):
    """One model's outcome, as a worker returns it."""

    model_id: str
    module: str
    text: str | None
    error: CodegenError | None
    warnings: list[str]
    stub: str = ""
    """The model's part of ``catalog/_typed.pyi`` (see :mod:`runcomfy_codegen.typed_stub`)."""


def build_one(files: ModelFiles, module: str, allow_unknown: bool) -> Built:
    from runcomfy_codegen.parse import parse_model
    from runcomfy_codegen.render import render_module
    from runcomfy_codegen.schema.loader import load_model
    from runcomfy_codegen.typed_stub import render_stub

    try:
        loaded = load_model(files, allow_unknown=allow_unknown)
        ir = parse_model(files.model_id, module, loaded.input, loaded.output)
        text = render_module(ir)
        compiles_if_deep(text, loaded.input, loaded.output)
        return Built(files.model_id, module, text, None, ir.warnings, render_stub(ir))
    except CodegenError as exc:
        return Built(files.model_id, module, None, exc, [])


def build_chunk(
    work: list[tuple[ModelFiles, str]],
    allow_unknown: bool,
    progress: Callable[[str], None] | None = None,
    *,
    stop_at_error: bool = False,
) -> list[Built]:
    """Build each model of ``work`` in turn (up to the first refusal with ``stop_at_error``)."""
    built = []
    for files, module in work:
        outcome = build_one(files, module, allow_unknown)
        built.append(outcome)
        if progress is not None:
            progress(files.model_id)
        if stop_at_error and outcome.error is not None:
            break
    return built


def preload() -> None:
    """Import everything a build needs and compile the templates, ahead of the first model: in the
    warm renderer while its parent stats the tree, and before forking pool workers (they inherit
    it all instead of each importing it again)."""
    from runcomfy_codegen.parse import parse_model  # noqa: F401
    from runcomfy_codegen.render import environment
    from runcomfy_codegen.schema.loader import load_model  # noqa: F401
    from runcomfy_codegen.typed_stub import render_stub  # noqa: F401

    environment().get_template("model.py.j2")
