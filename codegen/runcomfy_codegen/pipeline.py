"""The pipeline: schema store -> (load, parse, render) -> file set -> write or compare.

``build_package`` does everything in memory and returns the complete file set of the package, so
``generate`` writes only after every model has been loaded, parsed and rendered (a refused schema
leaves the disk as it was), and ``check`` compares without writing anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runcomfy_codegen._errors import CodegenError, ModelIdError, SchemaError
from runcomfy_codegen.load import check_schema, load_schema
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
    found = []
    for input_file in schemas.rglob("input.json"):
        folder = input_file.parent
        model_id = folder.relative_to(schemas).as_posix()
        found.append((model_id, folder))
    return sorted(found)


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
    if model_ids is not None:
        wanted = list(model_ids)
        known = {m for m, _ in found}
        for model_id in wanted:
            if model_id not in known:
                result.errors.append(
                    SchemaError(schemas / model_id, "", f"no model {model_id!r} in the schema store")
                )
        selected = set(wanted)
    else:
        selected = None
    modules: dict[str, str] = {}
    catalog: list[tuple[str, str]] = []
    for model_id, folder in found:
        try:
            check_model_id(model_id)
            module = module_name(model_id)
            if module in modules:
                raise ModelIdError(
                    f"model ids {modules[module]!r} and {model_id!r} both map to module {module!r}; rename one folder"
                )
            modules[module] = model_id
            catalog.append((model_id, module))
            if selected is not None and model_id not in selected:
                continue
            input_file, output_file = folder / "input.json", folder / "output.json"
            shown_in, shown_out = _display(input_file, schemas), _display(output_file, schemas)
            loaded_in = load_schema(input_file, allow_unknown=allow_unknown, display=shown_in)
            if not output_file.exists():
                raise SchemaError(
                    shown_out, "", "missing: every model folder needs input.json and output.json"
                )
            loaded_out = load_schema(output_file, allow_unknown=allow_unknown, display=shown_out)
            ir = parse_model(
                model_id,
                module,
                loaded_in.document,
                loaded_out.document,
                input_file=shown_in,
                output_file=shown_out,
                warnings=[str(w) for w in (*loaded_in.warnings, *loaded_out.warnings)],
            )
            result.files[f"catalog/{module}.py"] = render_module(ir)
            result.models.append(model_id)
            result.warnings.extend(ir.warnings)
        except CodegenError as exc:
            result.errors.append(exc)
            catalog = [entry for entry in catalog if entry[0] != model_id]
            if not keep_going:
                return result
        finally:
            if progress is not None:
                progress(model_id)
    template = environment().get_template("catalog_init.py.j2")
    result.files["catalog/__init__.py"] = template.render(models=catalog)
    for source, target in RUNTIME_FILES.items():
        result.files[target] = _runtime_file(source)
    result.files["py.typed"] = ""
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
    # Writing a subset must not remove the modules of the models that were not asked for.
    result.diff = write_tree(out / PACKAGE, result.files, prune=wanted is None)
    return result


def check(schemas: Path, out: Path, *, allow_unknown: bool = False) -> GenerateResult:
    """Would ``generate`` change anything under ``out``? ``result.diff`` lists what differs."""
    result = build_package(schemas, allow_unknown=allow_unknown)
    if not result.errors:
        result.diff = compare_tree(out / PACKAGE, result.files)
    return result
