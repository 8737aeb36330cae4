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
from runcomfy_codegen.load import check_schema, load_schema
from runcomfy_codegen.manifest import MANIFEST, build_manifest, extend_manifest, model_folders, schema_hash
from runcomfy_codegen.model_id import check_model_id, module_name
from runcomfy_codegen.parse import parse_model
from runcomfy_codegen.render import environment, render_module
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
}


@dataclass
class GenerateResult:
    files: dict[str, str] = field(default_factory=dict)
    """Relative posix path inside the package -> file text."""
    models: list[str] = field(default_factory=list)
    errors: list[CodegenError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    diff: TreeDiff | None = None


def discover(schemas: Path) -> list[tuple[str, Path]]:
    """(model id, folder) of every ``<model_id>/input.json`` in the store, sorted by model id."""
    if not schemas.is_dir():
        raise SchemaError(schemas, "", "the schema store is not a folder")
    return model_folders(schemas)


def _display(path: Path, schemas: Path) -> str:
    """Paths in messages and headers: relative to the store's parent, posix, machine-independent."""
    try:
        return path.relative_to(schemas.parent).as_posix()
    except ValueError:
        return path.as_posix()


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
    """The module source for one model from in-memory schemas (checked, parsed, rendered)."""
    check_model_id(model_id)
    if output_document is None:
        output_document = {"output": {"type": "object"}}
    check_schema(input_schema, input_file, allow_unknown=allow_unknown)
    check_schema(output_document, output_file, allow_unknown=allow_unknown)
    ir = parse_model(
        model_id,
        module_name(model_id),
        input_schema,
        output_document,
        input_file=input_file,
        output_file=output_file,
    )
    return render_module(ir)


@dataclass
class _Built:
    """One model's outcome, as a worker returns it."""

    model_id: str
    module: str
    text: str | None
    error: CodegenError | None
    warnings: list[str]
    schema_hash: str = ""


def _build_one(model_id: str, folder: Path, module: str, schemas: Path, allow_unknown: bool) -> _Built:
    try:
        input_file, output_file = folder / "input.json", folder / "output.json"
        shown_in, shown_out = _display(input_file, schemas), _display(output_file, schemas)
        loaded_in = load_schema(input_file, allow_unknown=allow_unknown, display=shown_in)
        if not output_file.exists():
            raise SchemaError(shown_out, "", "missing: every model folder needs input.json and output.json")
        loaded_out = load_schema(output_file, allow_unknown=allow_unknown, display=shown_out)
        ir = parse_model(
            model_id,
            module,
            loaded_in.document,
            loaded_out.document,
            input_file=shown_in,
            output_file=shown_out,
            warnings=[str(w) for w in (*loaded_in.warnings, *loaded_out.warnings)],
            may_have_refs=loaded_in.may_have_refs or loaded_out.may_have_refs,
        )
        digest = schema_hash(loaded_in.raw, loaded_out.raw)
        return _Built(model_id, module, render_module(ir), None, ir.warnings, digest)
    except CodegenError as exc:
        return _Built(model_id, module, None, exc, [])


def _build_chunk(
    work: list[tuple[str, Path, str]],
    schemas: Path,
    allow_unknown: bool,
    progress: Callable[[str], None] | None = None,
) -> list[_Built]:
    built = []
    for model_id, folder, module in work:
        built.append(_build_one(model_id, folder, module, schemas, allow_unknown))
        if progress is not None:
            progress(model_id)
    return built


PARALLEL_THRESHOLD = 200
"""Stores this large are built by one forked worker per core (rendering is CPU-bound)."""


def _build_all(
    work: list[tuple[str, Path, str]],
    schemas: Path,
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
        for model_id, folder, module in work:
            outcome = _build_one(model_id, folder, module, schemas, allow_unknown)
            built.append(outcome)
            if progress is not None:
                progress(model_id)
            if outcome.error is not None and not keep_going:
                break
        return built
    # One slice per core: the parent builds the first itself while forked workers build the rest.
    size = -(-len(work) // cores)
    slices = [work[i : i + size] for i in range(0, len(work), size)]
    with ProcessPoolExecutor(
        max_workers=len(slices) - 1, mp_context=multiprocessing.get_context("fork")
    ) as pool:
        futures = [pool.submit(_build_chunk, chunk, schemas, allow_unknown) for chunk in slices[1:]]
        built = _build_chunk(slices[0], schemas, allow_unknown, progress)  # the parent's share, live
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
    found = discover(schemas)
    selected = None
    if model_ids is not None:
        selected = set(model_ids)
        known = {m for m, _ in found}
        for model_id in sorted(selected - known):
            result.errors.append(
                SchemaError(schemas / model_id, "", f"no model {model_id!r} in the schema store")
            )
    modules: dict[str, str] = {}
    catalog: list[tuple[str, str]] = []
    work: list[tuple[str, Path, str]] = []
    for model_id, folder in found:
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
            work.append((model_id, folder, module))
    hashes: dict[str, str] = {}
    for outcome in _build_all(work, schemas, allow_unknown, keep_going, progress):
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
        result.warnings.extend(outcome.warnings)
    template = environment().get_template("catalog_init.py.j2")
    result.files["catalog/__init__.py"] = template.render(models=catalog)
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
