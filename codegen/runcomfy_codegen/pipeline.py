"""The pipeline: schema store -> (load, parse, render) -> file set -> write or compare.

``build_package`` does everything in memory and returns the complete file set of the package, so
``generate`` writes only after every model has been loaded, parsed and rendered (a refused schema
leaves the disk as it was), and ``check`` compares without writing anything.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runcomfy_codegen._errors import CodegenError, ModelIdError, SchemaError
from runcomfy_codegen.lock import exit_with_parent, output_lock
from runcomfy_codegen.manifest import MANIFEST, build_manifest, extend_manifest, schema_hash
from runcomfy_codegen.model_id import check_model_id, module_name
from runcomfy_codegen.parse import parse_model
from runcomfy_codegen.render import environment, render_module
from runcomfy_codegen.schema import store
from runcomfy_codegen.schema.loader import LoadedSchema, load_document, load_model
from runcomfy_codegen.schema.store import ModelFiles
from runcomfy_codegen.typed_stub import STUB, assemble, keep_others, render_stub
from runcomfy_codegen.write import HEADER, TreeDiff, compare_tree, write_tree

PACKAGE = "runcomfy_models"
RUNTIME = Path(__file__).parent / "runtime"
# runtime source file -> path inside the generated package
RUNTIME_FILES = {
    "package_init.py": "__init__.py",
    "_base.py": "_base.py",
    "_registry.py": "_registry.py",
    "_rules.py": "_rules.py",
    "_types.py": "_types.py",
    "_urls.py": "_urls.py",
    "_exceptions.py": "_exceptions.py",
    "_models.py": "_models.py",
    "_base_client.py": "_base_client.py",
    "_client.py": "_client.py",
    "_containers.py": "_containers.py",
    "_media.py": "_media.py",
    "_batch.py": "_batch.py",
    "_download.py": "_download.py",
    "_files.py": "_files.py",
}


@dataclass
class GenerateResult:
    files: dict[str, str] = field(default_factory=dict)
    """Relative posix path inside the package -> file text."""
    models: list[str] = field(default_factory=list)
    errors: list[CodegenError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    diff: TreeDiff | None = None
    catalog: list[tuple[str, str]] = field(default_factory=list)
    """(model id, module name) of every model of the package."""


def discover(schemas: Path) -> list[tuple[str, Path]]:
    """(model id, folder) of every model in the store, sorted by model id (see :mod:`.schema.store`)."""
    return [(m.model_id, m.folder) for m in store.discover(schemas) if m.folder is not None]


def _runtime_file(name: str) -> str:
    text = (RUNTIME / name).read_text(encoding="utf-8")
    return f"{HEADER} from runtime/{name}. Do not edit.\n{text}"


def render_schema(
    model_id: str,
    input_schema: Any,
    output_document: Any = None,
    *,
    allow_unknown: bool = False,
    input_file: str = "input.json",
    output_file: str = "output.json",
) -> str:
    """The module source for one model from in-memory schemas, built exactly as ``generate`` builds
    a store's model: the documents go through the same loader (as the JSON bytes they stand for)."""
    check_model_id(model_id)
    if output_document is None:
        output_document = {"output": {"type": "object"}}
    loaded_in = load_document(input_schema, input_file, allow_unknown=allow_unknown)
    loaded_out = load_document(output_document, output_file, allow_unknown=allow_unknown)
    text = render_module(parse_model(model_id, module_name(model_id), loaded_in, loaded_out))
    _compiles_if_deep(text, loaded_in, loaded_out)
    return text


DEEP = 40
"""Schemas nested deeper than this (JSON levels, after ``$ref`` resolution) get their module compiled."""


def _compiles_if_deep(text: str, *loaded: LoadedSchema) -> None:
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


@dataclass
class _Built:
    """One model's outcome, as a worker returns it."""

    model_id: str
    module: str
    text: str | None
    error: CodegenError | None
    warnings: list[str]
    schema_hash: str = ""
    stub: str = ""
    """The model's part of ``catalog/_typed.pyi`` (see :mod:`runcomfy_codegen.typed_stub`)."""


def _build_one(files: ModelFiles, module: str, allow_unknown: bool) -> _Built:
    try:
        loaded = load_model(files, allow_unknown=allow_unknown)
        ir = parse_model(files.model_id, module, loaded.input, loaded.output)
        digest = schema_hash(loaded.input.raw, loaded.output.raw)
        text = render_module(ir)
        _compiles_if_deep(text, loaded.input, loaded.output)
        return _Built(files.model_id, module, text, None, ir.warnings, digest, render_stub(ir))
    except CodegenError as exc:
        return _Built(files.model_id, module, None, exc, [])


def _build_chunk(
    work: list[tuple[ModelFiles, str]],
    allow_unknown: bool,
    progress: Callable[[str], None] | None = None,
) -> list[_Built]:
    built = []
    for files, module in work:
        built.append(_build_one(files, module, allow_unknown))
        if progress is not None:
            progress(files.model_id)
    return built


PARALLEL_THRESHOLD = 200
"""Stores this large are built by one forked worker per core (rendering is CPU-bound)."""


def _build_all(
    work: list[tuple[ModelFiles, str]],
    allow_unknown: bool,
    keep_going: bool,
    progress: Callable[[str], None] | None,
) -> list[_Built]:
    """Build every model; in parallel (fork, one worker per core) for large stores on POSIX."""
    cores = min(os.cpu_count() or 1, 8)
    if (
        len(work) < max(PARALLEL_THRESHOLD, 2)
        or cores < 2
        or "fork" not in multiprocessing.get_all_start_methods()
    ):
        built = []
        for files, module in work:
            outcome = _build_one(files, module, allow_unknown)
            built.append(outcome)
            if progress is not None:
                progress(files.model_id)
            if outcome.error is not None and not keep_going:
                break
        return built
    # One slice per core: the parent builds the first itself while forked workers build the rest.
    size = -(-len(work) // cores)
    slices = [work[i : i + size] for i in range(0, len(work), size)]
    with ProcessPoolExecutor(
        max_workers=len(slices) - 1,
        mp_context=multiprocessing.get_context("fork"),
        initializer=exit_with_parent,
        initargs=(os.getpid(),),
    ) as pool:
        futures = [pool.submit(_build_chunk, chunk, allow_unknown) for chunk in slices[1:]]
        built = _build_chunk(slices[0], allow_unknown, progress)  # the parent's share, live
        for future in futures:
            done = future.result()
            built.extend(done)
            if progress is not None:
                for outcome in done:
                    progress(outcome.model_id)
    if not keep_going:  # same answer as the sequential build: stop at the first refusal
        first = next((i for i, b in enumerate(built) if b.error is not None), None)
        if first is not None:
            built = built[: first + 1]
    return built


def build_package(
    schemas: Path,
    model_ids: Iterable[str] | None = None,
    *,
    allow_unknown: bool = False,
    keep_going: bool = False,
    progress: Callable[[str], None] | None = None,
) -> GenerateResult:
    """Load, parse and render every model of the store (or only ``model_ids``) in memory."""
    result = GenerateResult()
    found = store.discover(schemas)
    selected = None
    if model_ids is not None:
        selected = set(model_ids)
        known = {m.model_id for m in found}
        for model_id in sorted(selected - known):
            result.errors.append(
                SchemaError(schemas / model_id, "", f"no model {model_id!r} in the schema store")
            )
    modules: dict[str, str] = {}
    catalog: list[tuple[str, str]] = []
    work: list[tuple[ModelFiles, str]] = []
    for files in found:
        model_id = files.model_id
        try:
            check_model_id(model_id)
            module = module_name(model_id)
            if module in modules:
                raise ModelIdError(
                    f"model ids {modules[module]!r} and {model_id!r} both map to module {module!r}; rename one folder"
                )
        except CodegenError as exc:
            result.errors.append(exc)
            if not keep_going:
                return result
            continue
        modules[module] = model_id
        catalog.append((model_id, module))
        if selected is None or model_id in selected:
            work.append((files, module))
    hashes: dict[str, str] = {}
    stubs: dict[str, str] = {}
    for outcome in _build_all(work, allow_unknown, keep_going, progress):
        if outcome.error is not None:
            result.errors.append(outcome.error)
            catalog.remove((outcome.model_id, outcome.module))
            if not keep_going:
                return result
            continue
        assert outcome.text is not None
        result.files[f"catalog/{outcome.module}.py"] = outcome.text
        result.models.append(outcome.model_id)
        hashes[outcome.model_id] = outcome.schema_hash
        stubs[outcome.model_id] = outcome.stub
        result.warnings.extend(outcome.warnings)
    template = environment().get_template("catalog_init.py.j2")
    result.files["catalog/__init__.py"] = template.render(models=catalog)
    result.files[STUB] = assemble(catalog, stubs)
    result.catalog = catalog
    for source, target in RUNTIME_FILES.items():
        result.files[target] = _runtime_file(source)
    result.files["py.typed"] = ""
    if not result.errors:
        result.files[MANIFEST] = build_manifest(result.files, hashes)
    return result


def generate(
    schemas: Path,
    out: Path,
    model_ids: Iterable[str] | None = None,
    *,
    allow_unknown: bool = False,
    keep_going: bool = False,
    progress: Callable[[str], None] | None = None,
) -> GenerateResult:
    """Build the package and write it to ``out/runcomfy_models``; nothing is written on error
    unless ``keep_going`` (then refused models are left out and the rest is written)."""
    wanted = None if model_ids is None else list(model_ids)
    result = build_package(
        schemas, wanted, allow_unknown=allow_unknown, keep_going=keep_going, progress=progress
    )
    if result.errors and not keep_going:
        return result
    # Writing a subset must not remove the modules of the models that were not asked for, and its
    # manifest must still describe the whole package.
    with output_lock(out, PACKAGE):  # one writer at a time per output folder
        if wanted is not None and STUB in result.files:
            keep_others(result.files, result.catalog, out / PACKAGE, set(result.models))
        if wanted is not None and MANIFEST in result.files:
            result.files[MANIFEST] = extend_manifest(result.files[MANIFEST], out / PACKAGE)
        result.diff = write_tree(out / PACKAGE, result.files, prune=wanted is None)
    return result


def check(schemas: Path, out: Path, *, allow_unknown: bool = False) -> GenerateResult:
    """Would ``generate`` change anything under ``out``? ``result.diff`` lists what differs.

    This always renders everything; ``runcomfy-codegen check`` first tries the manifest's hashes
    (:func:`runcomfy_codegen.manifest.is_up_to_date`) and calls this only when they differ.
    """
    result = build_package(schemas, allow_unknown=allow_unknown)
    if not result.errors:
        result.diff = compare_tree(out / PACKAGE, result.files)
    return result
