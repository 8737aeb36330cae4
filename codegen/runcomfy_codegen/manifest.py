"""The generated package's manifest: what it was generated from, so ``check`` can skip rendering.

``catalog/_manifest.json`` records a fingerprint of the generator (the modules and templates that
shape the output), a SHA-256 of each model's schema files, and a SHA-256 of every generated file.
``check`` on an unchanged store only hashes files: when every hash matches, generating again would
write the same bytes. Any mismatch (or ``check --full``) falls back to rendering everything in
memory and comparing, which also names the files that differ. This module imports only the
standard library, so the fast path starts quickly.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from runcomfy_codegen._errors import CodegenError
from runcomfy_codegen.schema.store import discover

MANIFEST = "catalog/_manifest.json"
_PACKAGE = Path(__file__).parent
# What shapes the output; edits elsewhere (CLI, diff, mock server) do not invalidate manifests.
_SHAPING = (
    "templates",
    "runtime",
    "schema",
    "parse.py",
    "render.py",
    "ir.py",
    "load.py",
    "pipeline.py",
    "model_id.py",
    "typed_stub.py",
)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def generator_fingerprint() -> str:
    digest = hashlib.sha256()
    for name in _SHAPING:
        path = _PACKAGE / name
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            if file.is_file() and file.suffix in (".py", ".j2"):
                digest.update(file.relative_to(_PACKAGE).as_posix().encode())
                digest.update(file.read_bytes())
    return digest.hexdigest()


def schema_hash(input_bytes: bytes, output_bytes: bytes) -> str:
    """The hash of one model's schema files, as the manifest records it."""
    return _sha(input_bytes + b"\0" + output_bytes)


def schema_hashes(schemas: Path) -> dict[str, str]:
    """model id -> hash of its input.json and output.json bytes."""
    hashes = {}
    for model in discover(schemas):
        hashes[model.model_id] = schema_hash(model.read_input(), model.read_output() or b"")
    return hashes


def build_manifest(files: dict[str, str], hashes: dict[str, str]) -> str:
    """The manifest for a built package: ``hashes`` holds the schema hash of every model built."""
    data = {
        "generator": generator_fingerprint(),
        "schemas": dict(sorted(hashes.items())),
        "files": {rel: _sha(text.encode("utf-8")) for rel, text in sorted(files.items()) if rel != MANIFEST},
    }
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def extend_manifest(text: str, package: Path) -> str:
    """The manifest of a subset build, widened to the whole package it is written into.

    ``generate MODEL_ID`` renders only the models asked for but keeps every other module on disk
    (the catalog's ``*.py`` files: what ``write_tree(prune=False)`` leaves and ``check`` compares);
    its manifest must describe all of them, or ``check`` would see a mismatch. Each file on disk
    that the build did not produce is recorded by its current hash, and the schema hashes of the
    other models are carried over from the previous manifest, but only when that manifest was made
    by this generator and still matches every file it vouched for; otherwise they are left out,
    so ``check`` renders and compares in full rather than trust them.
    """
    data: dict[str, Any] = json.loads(text)
    files: dict[str, str] = data["files"]
    on_disk = {}
    for path in sorted((package / "catalog").rglob("*.py")):  # what a subset write leaves in place
        rel = path.relative_to(package).as_posix()
        if rel not in files:
            on_disk[rel] = _sha(path.read_bytes())
    try:
        old: dict[str, Any] = json.loads((package / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        old = {}
    old_files: dict[str, Any] = old["files"] if isinstance(old.get("files"), dict) else {}
    old_schemas: dict[str, Any] = old["schemas"] if isinstance(old.get("schemas"), dict) else {}
    trusted = old.get("generator") == data["generator"] and all(
        old_files.get(rel) == digest for rel, digest in on_disk.items()
    )
    if trusted:
        data["schemas"] = dict(sorted({**old_schemas, **data["schemas"]}.items()))
    data["files"] = dict(sorted({**on_disk, **files}.items()))
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def is_up_to_date(schemas: Path, package: Path) -> bool:
    """True when generating again would surely change nothing (hashes only; no rendering)."""
    try:
        manifest: dict[str, Any] = json.loads((package / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if manifest.get("generator") != generator_fingerprint():
        return False
    try:
        if manifest.get("schemas") != schema_hashes(schemas):
            return False
    except CodegenError:
        return False  # the full check reports it
    files: dict[str, str] = manifest.get("files", {})
    for rel, digest in files.items():
        try:
            if _sha((package / rel).read_bytes()) != digest:
                return False
        except OSError:
            return False
    catalog = package / "catalog"
    listed = {rel for rel in files if rel.startswith("catalog/")}
    return all(path.relative_to(package).as_posix() in listed for path in catalog.glob("*.py"))
