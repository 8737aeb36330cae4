"""The generated package's manifest: what it was generated from, so ``check`` and ``generate`` can
skip rendering.

``catalog/_manifest.json`` records a fingerprint of the generator (every file that can shape the
output, see :func:`generator_files`), a hash of each model's schema files, and a SHA-256 of every
generated file. When the tree state of the last clean run does not answer
(:mod:`runcomfy_codegen.treestate`), ``check`` hashes files (through
:class:`~runcomfy_codegen.hashcache.HashCache`, only those whose stat changed since the last run):
when every hash matches, generating again would write the same bytes. Any mismatch (or
``check --full``) falls back to rendering everything in memory and comparing, which also names the
files that differ. ``generate`` uses the same records to render only the models whose schema
changed (:func:`reusable`). This module imports only the standard library, so the fast paths start
quickly.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from runcomfy_codegen._errors import CodegenError
from runcomfy_codegen.hashcache import HashCache, read_bytes
from runcomfy_codegen.schema.store import ModelFiles, discover

MANIFEST = "catalog/_manifest.json"
_PACKAGE = Path(__file__).parent
_ROOT_MODULE = "pipeline"
"""The module that builds the package: what it imports, transitively, can shape the output."""
_FILE_FOLDERS = ("templates", "runtime")
"""Folders read as files rather than imported: every file in them shapes the output."""
_IMPORT = re.compile(
    r"^[ \t]*(?:from[ \t]+(runcomfy_codegen(?:\.\w+)*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#]*)"
    r"|import[ \t]+(runcomfy_codegen(?:\.\w+)*))",
    re.M,
)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_text(text: str) -> str:
    """The SHA-256 of ``text`` as UTF-8: how the manifest records a generated file."""
    return _sha(text.encode("utf-8"))


def sha256_bytes(data: bytes) -> str:
    return _sha(data)


def _module_file(package: Path, dotted: str) -> Path | None:
    parts = dotted.split(".")[1:]
    base = package.joinpath(*parts) if parts else package
    for candidate in (base.with_suffix(".py") if parts else None, base / "__init__.py"):
        if candidate is not None and candidate.is_file():
            return candidate
    return None


def generator_files(package: Path = _PACKAGE) -> list[Path]:
    """Every file of the generator that can shape its output, derived, not listed by hand.

    The modules ``pipeline`` imports, transitively (every ``import runcomfy_codegen...`` and
    ``from runcomfy_codegen... import ...`` statement, at any depth in a module, so a lazy import
    counts too), plus every file under ``templates/`` and ``runtime/``. A new module the build
    uses is found through the import that uses it; a new runtime file is both copied and hashed.
    Modules the build never imports (the CLI, ``diff``, the mock server) do not invalidate manifests.
    """
    seen: set[Path] = set()
    pending = [f"runcomfy_codegen.{_ROOT_MODULE}", "runcomfy_codegen"]
    while pending:
        dotted = pending.pop()
        path = _module_file(package, dotted)
        if path is None or path in seen:
            continue
        seen.add(path)
        if path.name == "__init__.py" and path.parent != package:
            pending.append(dotted.rsplit(".", 1)[0])
        text = path.read_text(encoding="utf-8")
        for source, names, plain in _IMPORT.findall(text):
            if plain:
                pending.append(plain)
                continue
            pending.append(source)
            for name in re.split(r"[\s,()]+", names):
                if name and name.isidentifier():
                    pending.append(f"{source}.{name}")  # a submodule, if it is one
    for folder in _FILE_FOLDERS:
        for root, dirs, names in os.walk(package / folder):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            seen.update(Path(root) / n for n in names if not n.endswith((".pyc", ".pyo")))
    return sorted(seen)


def generator_fingerprint(package: Path = _PACKAGE, cache: HashCache | None = None) -> str:
    cache = cache or HashCache(None)
    digest = hashlib.sha256()
    for file in generator_files(package):
        digest.update(file.relative_to(package).as_posix().encode() + b"\0")
        digest.update(cache.sha(str(file), read_bytes(str(file))).encode())
    return digest.hexdigest()


def schema_hash(input_bytes: bytes, output_bytes: bytes | None, shown: str = "") -> str:
    """The hash of one model's schema files, as the manifest records it. ``shown``: the display
    path of its ``input.json`` (``schemas/<model id>/input.json``), which the module's header
    prints: a store renamed or reached under another name makes every module different."""
    return _combine(_sha(input_bytes), _sha(output_bytes or b""), shown)


def _combine(input_sha: str, output_sha: str, shown: str) -> str:
    return _sha(f"{input_sha}\n{output_sha}\n{shown}".encode())


_EMPTY = _sha(b"")


def model_hash(model: ModelFiles, cache: HashCache) -> str:
    """:func:`schema_hash` of a store model, through the cache (read only where the stat changed)."""
    if model.folder is None:
        return schema_hash(model.read_input(), model.read_output(), model.input_display)
    input_sha = cache.sha(os.path.join(model.folder, "input.json"), model.read_input)
    output_path = os.path.join(model.folder, "output.json")
    if not os.path.lexists(output_path):
        return _combine(input_sha, _EMPTY, model.input_display)
    output = model.read_output
    return _combine(input_sha, cache.sha(output_path, lambda: output() or b""), model.input_display)


def schema_hashes(schemas: Path, cache: HashCache | None = None) -> dict[str, str]:
    """model id -> hash of its input.json and output.json bytes."""
    cache = cache or HashCache(None)
    return {model.model_id: model_hash(model, cache) for model in discover(schemas)}


def build_manifest(files: dict[str, str], hashes: dict[str, str], kept: dict[str, str] | None = None) -> str:
    """The manifest for a built package: ``hashes`` holds the schema hash of every model built;
    ``kept`` the hashes of files left in place because their model did not change."""
    recorded = {rel: _sha(text.encode("utf-8")) for rel, text in files.items() if rel != MANIFEST}
    recorded.update(kept or {})
    return manifest_text(generator_fingerprint(), hashes, recorded)


def manifest_text(generator: str, schemas: dict[str, str], files: dict[str, str]) -> str:
    """The manifest's JSON text: ``json.dumps(..., indent=1, sort_keys=True)`` byte for byte (tested),
    written out here because with ``indent`` ``json`` takes its pure-Python encoder, 20 times slower
    on a 1,000-model manifest (an incremental ``generate`` writes one after each edit)."""
    return ManifestText(generator, schemas, files).text()


def _entry(key: str, value: str) -> str:
    quote = json.encoder.encode_basestring_ascii
    return f"  {quote(key)}: {quote(value)}"


class ManifestText:
    """A manifest's text, its entries kept formatted one per line: a ``generate`` that changes a
    few of them formats those, not all (the rest is done while the models render)."""

    def __init__(self, generator: str, schemas: dict[str, str], files: dict[str, str]) -> None:
        self.generator = generator
        self.schemas = {k: _entry(k, v) for k, v in schemas.items()}
        self.files = {k: _entry(k, v) for k, v in files.items()}

    def update(self, schemas: dict[str, str], files: dict[str, str]) -> None:
        self.schemas.update((k, _entry(k, v)) for k, v in schemas.items())
        self.files.update((k, _entry(k, v)) for k, v in files.items())

    def text(self) -> str:
        def block(lines: dict[str, str]) -> str:
            return "{\n" + ",\n".join(lines[k] for k in sorted(lines)) + "\n }" if lines else "{}"

        generator = json.encoder.encode_basestring_ascii(self.generator)
        return f'{{\n "files": {block(self.files)},\n "generator": {generator},\n "schemas": {block(self.schemas)}\n}}\n'


def read_manifest(package: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((package / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not (
        isinstance(data, dict)
        and isinstance(data.get("files"), dict)
        and isinstance(data.get("schemas"), dict)
        and isinstance(data.get("generator"), str)
    ):
        return None
    return data


def extend_manifest(text: str, package: Path, rewritten: dict[str, str] | None = None) -> str:
    """The manifest of a subset build, widened to the whole package it is written into;
    ``rewritten``: files the build changed since ``text`` was made (path -> new text).

    ``generate MODEL_ID`` renders only the models asked for but keeps every other module on disk
    (the catalog's ``*.py`` files: what ``write_tree(prune=False)`` leaves and ``check`` compares);
    its manifest must describe all of them, or ``check`` would see a mismatch. Each file on disk
    that the build did not produce is recorded by its current hash, and the schema hashes of the
    other models are carried over from the previous manifest, but only when that manifest was made
    by this generator and still matches every file it vouched for; otherwise they are left out,
    so ``check`` renders and compares in full rather than trust them.
    """
    data: dict[str, Any] = json.loads(text)
    files: dict[str, str] = {**data["files"], **{rel: sha256_text(t) for rel, t in (rewritten or {}).items()}}
    on_disk = {}
    for path in sorted((package / "catalog").rglob("*.py")):  # what a subset write leaves in place
        rel = path.relative_to(package).as_posix()
        if rel not in files:
            on_disk[rel] = _sha(path.read_bytes())
    old = read_manifest(package) or {}
    old_files: dict[str, Any] = old.get("files", {})
    old_schemas: dict[str, Any] = old.get("schemas", {})
    trusted = old.get("generator") == data["generator"] and all(
        old_files.get(rel) == digest for rel, digest in on_disk.items()
    )
    schemas = {**old_schemas, **data["schemas"]} if trusted else data["schemas"]
    return manifest_text(data["generator"], schemas, {**on_disk, **files})


def _file_matches(package: Path, rel: str, digest: Any, cache: HashCache) -> bool:
    path = os.path.join(package, rel)
    try:
        return bool(cache.sha(path, read_bytes(path)) == digest)
    except OSError:
        return False


def is_up_to_date(schemas: Path, package: Path, cache: HashCache | None = None) -> bool:
    """True when generating again would surely change nothing (hashes only; no rendering)."""
    cache = cache or HashCache(None)
    manifest = read_manifest(package)
    if manifest is None or manifest["generator"] != generator_fingerprint(cache=cache):
        return False
    try:  # the manifest is a generated file too: byte for byte what generate writes
        canonical = manifest_text(manifest["generator"], manifest["schemas"], manifest["files"])
        if (package / MANIFEST).read_bytes() != canonical.encode("utf-8"):
            return False
    except (OSError, TypeError, AttributeError):
        return False
    try:
        if manifest["schemas"] != schema_hashes(schemas, cache):
            return False
    except CodegenError:
        return False  # the full check reports it
    files: dict[str, Any] = manifest["files"]
    if not all(_file_matches(package, rel, digest, cache) for rel, digest in files.items()):
        return False
    from runcomfy_codegen.write import stray_paths

    try:
        return not stray_paths(package, {*files, MANIFEST})  # any other file in the package is drift
    except OSError:
        return False


def reusable(package: Path, cache: HashCache) -> tuple[dict[str, str], dict[str, str]]:
    """What an incremental ``generate`` may leave in place: (model id -> schema hash, file -> hash)
    from the package's manifest, for the files on disk that still match it; empty when the manifest
    is missing, unreadable or made by another generator (then everything is rendered)."""
    manifest = read_manifest(package)
    if manifest is None or manifest["generator"] != generator_fingerprint(cache=cache):
        return {}, {}
    files = {
        rel: digest
        for rel, digest in manifest["files"].items()
        if isinstance(digest, str) and _file_matches(package, rel, digest, cache)
    }
    schemas = {k: v for k, v in manifest["schemas"].items() if isinstance(v, str)}
    return schemas, files
