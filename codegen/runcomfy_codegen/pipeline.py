"""The pipeline: schema store -> (load, parse, render) -> file set -> write or compare.

``build_package`` does everything in memory and returns the complete file set of the package, so
``generate`` writes only after every model has been loaded, parsed and rendered (a refused schema
leaves the disk as it was), and ``check`` compares without writing anything. When only schema files
changed since the last clean run, ``generate`` takes a shorter road (:func:`_generate_edits`):
it renders just those models and rewrites their modules, the manifest and the typed stub, with the
same guarantees (everything rendered before anything is written; byte-identical to a full build).
"""

from __future__ import annotations

import os
import time
from array import array
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from runcomfy_codegen import build, render_worker
from runcomfy_codegen._errors import CodegenError, SchemaError
from runcomfy_codegen.hashcache import HashCache, cache_path
from runcomfy_codegen.schema import store
from runcomfy_codegen.schema.store import ModelFiles
from runcomfy_codegen.treestate import TreeState, forget, recorded, state_path
from runcomfy_codegen.write import HEADER, TreeDiff, atomic_write, compare_tree, write_tree

# Imported here: what `generate` needs to find out that nothing, or one schema, changed. The rest
# (the manifest, the lock, the typed stub; the loader, parser and templates a build needs, jinja2
# with them) is imported where it is used, so that a `generate` after one edit costs little more
# than `check` (see runcomfy_codegen.render_worker for the parser and templates).

PACKAGE = "runcomfy_models"
RUNTIME = Path(__file__).parent / "runtime"
_RUNTIME_MARKER = "__init__.py"
"""runtime/__init__.py only refuses imports of runtime/ as a package; it is the one file not copied."""
_RUNTIME_RENAMES = {"package_init.py": "__init__.py"}


def runtime_files(folder: Path | None = None) -> dict[str, str]:
    """runtime source file -> its path inside the generated package: every file of ``runtime/``
    (but its ``__init__.py`` marker and bytecode caches) is copied, so none can be forgotten."""
    folder = folder or RUNTIME
    files = {}
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.name == "__pycache__" or entry.name.startswith("."):
            continue
        if not entry.is_file(follow_symlinks=False):
            raise CodegenError(f"{entry.path}: runtime/ holds plain files only (no folders or links)")
        if entry.name == _RUNTIME_MARKER or entry.name.endswith((".pyc", ".pyo")):
            continue
        files[entry.name] = _RUNTIME_RENAMES.get(entry.name, entry.name)
    return files


class GenerateResult:
    """What :func:`build_package`, :func:`generate` and :func:`check` did. (A plain class: this module
    is on the fast path of ``generate``, which does not load :mod:`dataclasses`.)"""

    def __init__(
        self,
        *,
        models: list[str] | None = None,
        diff: TreeDiff | None = None,
        warnings: list[str] | None = None,
    ) -> None:
        self.files: dict[str, str] = {}
        """Relative posix path inside the package -> file text."""
        self.models: list[str] = models or []
        self.errors: list[CodegenError] = []
        self.warnings: list[str] = warnings or []
        self.diff = diff
        self.kept: dict[str, str] = {}
        """Files an incremental build left in place (relative path -> SHA-256): unchanged on disk."""
        self.catalog: list[tuple[str, str]] = []
        """(model id, module name) of every model of the package."""

    def __repr__(self) -> str:
        return f"GenerateResult(models={len(self.models)}, errors={self.errors!r}, diff={self.diff!r})"


def discover(schemas: Path) -> list[tuple[str, Path]]:
    """(model id, folder) of every model in the store, sorted by model id (see :mod:`.schema.store`)."""
    return [(m.model_id, m.folder) for m in store.discover(schemas) if m.folder is not None]


def _runtime_file(name: str, folder: Path | None = None) -> str:
    text = ((folder or RUNTIME) / name).read_text(encoding="utf-8")
    if not name.endswith(".py"):
        return text  # data files (py.typed) are copied as they are
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
    from runcomfy_codegen.model_id import check_model_id, module_name
    from runcomfy_codegen.parse import parse_model
    from runcomfy_codegen.render import render_module
    from runcomfy_codegen.schema.loader import load_document

    check_model_id(model_id)
    if output_document is None:
        output_document = {"output": {"type": "object"}}
    loaded_in = load_document(input_schema, input_file, allow_unknown=allow_unknown)
    loaded_out = load_document(output_document, output_file, allow_unknown=allow_unknown)
    text = render_module(parse_model(model_id, module_name(model_id), loaded_in, loaded_out))
    build.compiles_if_deep(text, loaded_in, loaded_out)
    return text


PARALLEL_THRESHOLD = 200
"""Stores this large are built by one forked worker per core (rendering is CPU-bound)."""


def _build_all(
    work: list[tuple[ModelFiles, str]],
    allow_unknown: bool,
    keep_going: bool,
    progress: Callable[[str], None] | None,
    renderer: render_worker.WarmRenderer | None = None,
) -> list[build.Built]:
    """Build every model; in parallel (fork, one worker per core) for large stores on POSIX; a few
    in the warm renderer when there is one (it has loaded the parser and templates already)."""
    if renderer is not None and len(work) < PARALLEL_THRESHOLD:
        built = renderer.build(work, allow_unknown)
        if built is not None:
            for outcome in built:
                if progress is not None:
                    progress(outcome.model_id)
            return built
    import multiprocessing

    build.preload()  # before any fork: the workers inherit it
    cores = min(os.cpu_count() or 1, 8)
    if (
        len(work) < max(PARALLEL_THRESHOLD, 2)
        or cores < 2
        or "fork" not in multiprocessing.get_all_start_methods()
    ):
        return build.build_chunk(work, allow_unknown, progress, stop_at_error=not keep_going)
    from concurrent.futures import ProcessPoolExecutor

    from runcomfy_codegen.lock import exit_with_parent

    # One slice per core: the parent builds the first itself while forked workers build the rest.
    size = -(-len(work) // cores)
    slices = [work[i : i + size] for i in range(0, len(work), size)]
    with ProcessPoolExecutor(
        max_workers=len(slices) - 1,
        mp_context=multiprocessing.get_context("fork"),
        initializer=exit_with_parent,
        initargs=(os.getpid(),),
    ) as pool:
        futures = [pool.submit(build.build_chunk, chunk, allow_unknown) for chunk in slices[1:]]
        built = build.build_chunk(slices[0], allow_unknown, progress)  # the parent's share, live
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


CATALOG_INIT = "catalog/__init__.py"


def _stub_parts(package: Path) -> dict[str, str]:
    """model id -> its part of the package's typed stub on disk (empty when unreadable)."""
    from runcomfy_codegen.typed_stub import STUB, parts_of

    try:
        return parts_of((package / STUB).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return {}


def build_package(
    schemas: Path,
    model_ids: Iterable[str] | None = None,
    *,
    allow_unknown: bool = False,
    keep_going: bool = False,
    progress: Callable[[str], None] | None = None,
    reuse: Path | None = None,
    cache: HashCache | None = None,
    renderer: render_worker.WarmRenderer | None = None,
) -> GenerateResult:
    """Load, parse and render every model of the store (or only ``model_ids``) in memory.

    ``reuse``: the package folder an earlier ``generate`` wrote. A model whose schema hash and
    module on disk both match that package's manifest is not rendered again: its module goes to
    ``result.kept`` (path -> hash) instead of ``result.files``, as does ``catalog/__init__.py``
    when the set of models is the same. The file set is the same either way.
    """
    from runcomfy_codegen.manifest import MANIFEST, build_manifest, model_hash, reusable
    from runcomfy_codegen.model_id import catalog_module, module_name
    from runcomfy_codegen.typed_stub import STUB, assemble

    result = GenerateResult()
    cache = cache or HashCache(None)
    found = store.discover(schemas)
    selected = None
    if model_ids is not None:
        selected = set(model_ids)
        known = {m.model_id for m in found}
        for model_id in sorted(selected - known):
            result.errors.append(
                SchemaError(schemas / model_id, "", f"no model {model_id!r} in the schema store")
            )
    old_schemas: dict[str, str] = {}
    old_files: dict[str, str] = {}
    if reuse is not None and cache.loaded:  # without the cache, how a module was built is unknown
        old_schemas, old_files = reusable(reuse, cache)
        if not allow_unknown:
            old_schemas = {k: v for k, v in old_schemas.items() if k not in cache.lenient}
    # A kept model's part of the typed stub comes from the stub on disk (checked against the manifest).
    stubs: dict[str, str] = {}
    old_stubs = _stub_parts(reuse) if reuse is not None and STUB in old_files else {}
    modules: dict[str, str] = {}
    catalog: list[tuple[str, str]] = []
    work: list[tuple[ModelFiles, str]] = []
    hashes: dict[str, str] = {}
    for files in found:
        model_id = files.model_id
        try:
            module = catalog_module(model_id, modules)
            digest = model_hash(files, cache) if selected is None or model_id in selected else ""
        except CodegenError as exc:
            result.errors.append(exc)
            if not keep_going:
                return result
            continue
        catalog.append((model_id, module))
        if selected is not None and model_id not in selected:
            continue
        hashes[model_id] = digest
        rel = f"catalog/{module}.py"
        if old_schemas.get(model_id) == digest and rel in old_files and model_id in old_stubs:
            result.kept[rel] = old_files[rel]
            stubs[model_id] = old_stubs[model_id]
            result.models.append(model_id)
            if progress is not None:
                progress(model_id)
        else:
            work.append((files, module))
    cache.lenient &= {m for m in hashes if f"catalog/{module_name(m)}.py" in result.kept}
    for outcome in _build_all(work, allow_unknown, keep_going, progress, renderer) if work else []:
        if allow_unknown and outcome.error is None:
            cache.lenient.add(outcome.model_id)
        if outcome.error is not None:
            result.errors.append(outcome.error)
            catalog.remove((outcome.model_id, outcome.module))
            del hashes[outcome.model_id]
            if not keep_going:
                return result
            continue
        assert outcome.text is not None
        result.files[f"catalog/{outcome.module}.py"] = outcome.text
        result.models.append(outcome.model_id)
        stubs[outcome.model_id] = outcome.stub
        result.warnings.extend(outcome.warnings)
    result.models.sort()
    if not result.errors and set(old_schemas) == set(hashes) and CATALOG_INIT in old_files:
        result.kept[CATALOG_INIT] = old_files[CATALOG_INIT]  # same models: same catalog
    else:
        from runcomfy_codegen.render import environment

        template = environment().get_template("catalog_init.py.j2")
        result.files[CATALOG_INIT] = template.render(models=catalog)
    result.files[STUB] = assemble(catalog, stubs)
    result.catalog = catalog
    for source, target in runtime_files().items():
        result.files[target] = _runtime_file(source)
    if not result.errors:
        result.files[MANIFEST] = build_manifest(result.files, hashes, result.kept)
    return result


def generate(
    schemas: Path,
    out: Path,
    model_ids: Iterable[str] | None = None,
    *,
    allow_unknown: bool = False,
    keep_going: bool = False,
    progress: Callable[[str], None] | None = None,
    incremental: bool = True,
    renderer: render_worker.WarmRenderer | None = None,
) -> GenerateResult:
    """Build the package and write it to ``out/runcomfy_models``; nothing is written on error
    unless ``keep_going`` (then refused models are left out and the rest is written).

    ``incremental`` (the default): models whose schema and module are as the package's manifest
    records are not rendered again (:func:`build_package`'s ``reuse``); when the tree state of the
    last clean run holds but for edits to schema files, only the edited models are even looked at
    (:mod:`runcomfy_codegen.incremental`). The files written are the same as a full build's, byte
    for byte.

    ``renderer``: a warm renderer the caller started (the CLI starts one first thing, see
    :mod:`runcomfy_codegen.render_worker`), and closes; otherwise one is started where it can pay,
    and closed before this returns.
    """
    from runcomfy_codegen.incremental import record_clean
    from runcomfy_codegen.lock import output_lock
    from runcomfy_codegen.manifest import MANIFEST, extend_manifest
    from runcomfy_codegen.typed_stub import STUB, keep_others

    started = time.time_ns()  # anything changed after this is racy in the state recorded below
    wanted = None if model_ids is None else list(model_ids)
    cache = HashCache(cache_path(out, PACKAGE))
    package = out / PACKAGE
    own = None
    try:
        state = recorded(out, PACKAGE, schemas) if incremental and wanted is None else None
        # A module built with --allow-unknown (the cache or the state says so) is never kept by a
        # strict run: the full road builds it again, and may refuse it.
        if state is not None and (allow_unknown or not (cache.lenient or state.lenient)):
            if renderer is None:  # it warms up while the tree is statted
                renderer = own = render_worker.start()
            done = _generate_edits(cache, state, schemas, out, allow_unknown, keep_going, started, renderer)
            if done is not None:
                return done
        result = build_package(
            schemas,
            wanted,
            allow_unknown=allow_unknown,
            keep_going=keep_going,
            progress=progress,
            reuse=package if incremental and wanted is None else None,
            cache=cache,
            renderer=renderer,
        )
    finally:
        if own is not None:
            own.close()
    if result.errors and not keep_going:
        return result
    # Writing a subset must not remove the modules of the models that were not asked for, and its
    # manifest must still describe the whole package.
    with output_lock(out, PACKAGE):  # one writer at a time per output folder
        if wanted is not None and STUB in result.files:
            keep_others(result.files, result.catalog, out / PACKAGE)
        if wanted is not None and MANIFEST in result.files:
            stub = {STUB: result.files[STUB]} if STUB in result.files else {}
            result.files[MANIFEST] = extend_manifest(result.files[MANIFEST], package, stub)
        result.diff = write_tree(package, result.files, prune=wanted is None, kept=result.kept)
        if wanted is None and not result.errors:  # the package is now exactly what the store makes
            record_clean(
                schemas, package, result.files[MANIFEST].encode("utf-8"), started, bool(cache.lenient)
            )
        else:
            forget(state_path(out, PACKAGE))
    cache.save()
    return result


def _generate_edits(
    cache: HashCache,
    state: TreeState,
    schemas: Path,
    out: Path,
    allow_unknown: bool,
    keep_going: bool,
    started: int,
    renderer: render_worker.WarmRenderer | None,
) -> GenerateResult | None:
    """``generate`` when the tree ``state`` of the last clean run holds but for edited schema files
    (or hand-edited modules): render those models only and rewrite their modules, the typed stub and
    the manifest. None: something only the full road can judge (a model added or removed, a stray
    file, the generator changed, a refused schema); nothing was written then."""
    from runcomfy_codegen.incremental import judge, refresh
    from runcomfy_codegen.model_id import module_name

    package = out / PACKAGE
    now = state.scan()
    suspects = state.suspects(now)
    unchanged = GenerateResult(models=list(state.ids), diff=TreeDiff(unchanged=len(state.files)))
    if not suspects:
        return unchanged
    delta = judge(state, now, suspects)
    if delta.full:
        return None
    edited = set(delta.models)
    if delta.files:
        modules = {f"catalog/{module_name(m)}.py": m for m in state.ids}
        if any(rel not in modules for rel in delta.files):
            return None  # the stub, the catalog or a runtime file: the full road rewrites it
        edited.update(modules[rel] for rel in delta.files)
    if not edited:  # every suspect was verified unchanged
        refresh(state, now, suspects, started)
        return unchanged
    work = [(store.model_at(schemas, m), module_name(m)) for m in sorted(edited)]
    sent = renderer.send(work, allow_unknown) if renderer is not None else False
    edits = _Edits(
        state, now, suspects, delta.manifest, delta.models, sorted(edited), package
    )  # while it renders
    built = renderer.receive() if renderer is not None and sent else None
    if built is None:
        built = build.build_chunk(work, allow_unknown)
        errors = [b.error for b in built if b.error is not None]
        if errors and keep_going:
            return None  # the full road writes the rest
        if errors:  # as the full road would answer: refused, nothing written
            refused = GenerateResult(models=list(state.ids))
            refused.errors = errors
            return refused
    return edits.write(cache, built, allow_unknown, started, out)


class _Edits:
    """Writing the edits of :func:`_generate_edits`: what it needs from disk is read (and the
    edited models' parts of the typed stub found) before the models are rendered."""

    def __init__(
        self,
        state: TreeState,
        now: array[int],
        suspects: list[int],
        manifest: dict[str, Any],
        schema_hashes: dict[str, str],
        models: list[str],
        package: Path,
    ) -> None:
        from runcomfy_codegen.manifest import ManifestText
        from runcomfy_codegen.typed_stub import STUB, part_span

        self.state, self.now, self.suspects = state, now, suspects
        schemas = {**manifest["schemas"], **schema_hashes}
        self.manifest_text = ManifestText(manifest["generator"], schemas, manifest["files"])
        try:
            self.stub: str | None = (package / STUB).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            self.stub = None
        spans = {m: part_span(self.stub, m) for m in models} if self.stub is not None else {}
        stub = self.stub or ""
        self.old_parts = {m: stub[span[0] : span[1]] for m, span in spans.items() if span is not None}
        self.index = {path: i for i, (path, _kind, _key) in enumerate(state.paths())}

    def write(
        self, cache: HashCache, built: list[build.Built], allow_unknown: bool, started: int, out: Path
    ) -> GenerateResult | None:
        """Write the rendered modules, the stub (when a part changed) and the manifest; record the
        new tree state. None: the stub is missing or lacks a model (the full road rewrites it)."""
        from runcomfy_codegen.lock import output_lock
        from runcomfy_codegen.manifest import MANIFEST, sha256_bytes, sha256_text
        from runcomfy_codegen.typed_stub import STUB, replace_parts

        package, state = out / PACKAGE, self.state
        if self.stub is None or any(b.model_id not in self.old_parts for b in built):
            return None
        files: dict[str, str] = {}
        for outcome in built:
            assert outcome.text is not None
            files[f"catalog/{outcome.module}.py"] = outcome.text
        parts = {b.model_id: b.stub for b in built if b.stub != self.old_parts[b.model_id]}
        if parts:  # the types changed, not only docs or rules: the stub too
            stub = replace_parts(self.stub, parts)
            if stub is None:
                return None
            files[STUB] = stub
        self.manifest_text.update({}, {rel: sha256_text(text) for rel, text in files.items()})
        files[MANIFEST] = self.manifest_text.text()
        diff = TreeDiff()
        with output_lock(out, PACKAGE):
            try:  # another generate may have written since the manifest was read: then start again
                if sha256_bytes((package / MANIFEST).read_bytes()) != state.manifest_sha:
                    return None
            except OSError:
                return None
            for rel, text in files.items():
                data = text.encode("utf-8")
                try:
                    current: bytes | None = (package / rel).read_bytes()
                except OSError:
                    current = None  # deleted by hand: added back, as the full road says
                if current != data:
                    atomic_write(package / rel, data, make_parents=False)
                    (diff.changed if current is not None else diff.added).append(rel)
            # The new state, still under the lock (no other run writes meanwhile): the stats taken
            # before, but those of the files just written and of their folders.
            written = []
            for rel in (*diff.added, *diff.changed):
                for path in (f"{state.package}/{rel}", os.path.dirname(f"{state.package}/{rel}")):
                    written.append(self.index[path])
                    state.restat(self.now, self.index[path])
            state.set_stats(self.now, started, [*self.suspects, *written])
            state.manifest_sha = sha256_text(files[MANIFEST])
            if allow_unknown:
                cache.lenient.update(b.model_id for b in built)
            state.lenient = state.lenient or bool(cache.lenient)
            state.write(state_path(out, PACKAGE))
        diff.unchanged = len(state.files) - len(diff.changed) - len(diff.added)
        cache.save()
        return GenerateResult(
            models=list(state.ids), diff=diff, warnings=[w for b in built for w in b.warnings]
        )


def check(schemas: Path, out: Path, *, allow_unknown: bool = False) -> GenerateResult:
    """Would ``generate`` change anything under ``out``? ``result.diff`` lists what differs.

    This always renders everything; ``runcomfy-codegen check`` first tries the tree state
    (:mod:`runcomfy_codegen.treestate`), then the manifest's hashes
    (:func:`runcomfy_codegen.manifest.is_up_to_date`), and calls this only when neither answers.
    """
    result = build_package(schemas, allow_unknown=allow_unknown)
    if not result.errors:
        result.diff = compare_tree(out / PACKAGE, result.files)
    return result
