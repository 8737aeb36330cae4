"""What changed since the package was last known clean: the stat of every path, then a few reads.

``check`` and ``generate`` both start here. The state file beside the package holds the
:class:`~runcomfy_codegen.treestate.TreeState` of the last clean ``check`` or whole-store
``generate``; a run stats the same paths and looks closer only at the suspects (:meth:`TreeState.suspects`):

* a schema file: its model's schema hash, read and compared with the manifest's;
* a package file: its bytes hashed and compared with the manifest's (the manifest itself with the
  hash the state recorded);
* a package folder: listed, and compared with the files the manifest says it holds (``__pycache__``
  allowed): any other entry is a stray, or a temporary file a killed run left (the full road
  removes it);
* a model's folder: listed; only files may be in it (a new folder could be a new model);
* a folder of the store above the models, or a file or folder of the generator: the delta cannot
  say what that means (a model added or removed; the generator changed), so the run takes the full
  road (:attr:`Delta.full` says why).

:func:`examine` returns the :class:`Delta`: the models whose schema changed and the package files
that differ. An empty one means the package is clean; ``generate`` renders only the models in it.
"""

from __future__ import annotations

import hashlib
import json
import os
from array import array
from pathlib import Path
from typing import Any

from runcomfy_codegen._errors import CodegenError
from runcomfy_codegen.manifest import MANIFEST, generator_files, schema_hash
from runcomfy_codegen.schema import store
from runcomfy_codegen.schema.store import INPUT, OUTPUT
from runcomfy_codegen.treestate import FIELDS, TreeState, forget, state_path


class Delta:
    """What :func:`examine` found."""

    def __init__(self) -> None:
        self.full = ""
        """Why only a full look can judge (a folder of the store changed …); empty when the delta is enough."""
        self.models: dict[str, str] = {}
        """model id -> its schema hash now, for each model whose schema files changed."""
        self.files: list[str] = []
        """Package files whose bytes differ from the manifest's, or that are missing."""
        self.manifest: dict[str, Any] = {}
        """The manifest it was judged against (:func:`judge`)."""

    @property
    def clean(self) -> bool:
        return not (self.full or self.models or self.files)


def fresh_state(schemas: Path, package: Path, manifest: dict[str, Any], manifest_bytes: bytes) -> TreeState:
    """The state of a package that ``manifest`` describes, without its stats (see :meth:`TreeState.scan`)."""
    generator = generator_files()
    generator_folders = sorted({str(path.parent) for path in generator})
    return TreeState(
        os.path.abspath(schemas),
        os.path.abspath(package),
        sorted(manifest["schemas"]),
        sorted([*manifest["files"], MANIFEST]),
        [*map(str, generator), *generator_folders],
        store.folders(schemas),
        hashlib.sha256(manifest_bytes).hexdigest(),
    )


def record_clean(schemas: Path, package: Path, manifest_bytes: bytes, started: int, lenient: bool) -> None:
    """Record the state of a package just found clean or written (its manifest: ``manifest_bytes``),
    stats taken now, racy from ``started``. A failure to record only forgets the old state: the
    next run takes the full road."""
    path = state_path(package.parent, package.name)
    try:
        state = fresh_state(schemas, package, json.loads(manifest_bytes), manifest_bytes)
        state.set_stats(state.scan(), started)
    except (OSError, ValueError, CodegenError):
        forget(path)
        return
    state.lenient = lenient
    state.write(path)


def _sha_of(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return None


def _model_folder_holds_only_files(path: str) -> bool:
    try:
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    return False  # a model inside a model, or a folder named like a schema file
                if entry.is_symlink() and entry.name in (INPUT, OUTPUT):
                    return False  # refused by the store: the full road says so
    except OSError:
        return False
    return True


def _expected_entries(files: list[str]) -> dict[str, set[str]]:
    """package folder (relative, "" for the package) -> the names the manifest says it holds."""
    expected: dict[str, set[str]] = {}
    for rel in files:
        parts = rel.split("/")
        for depth in range(len(parts)):
            expected.setdefault("/".join(parts[:depth]), set()).add(parts[depth])
    return expected


def _folder_holds_only(path: str, names: set[str]) -> bool:
    try:
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.name in names:
                    continue
                if entry.name == "__pycache__" and entry.is_dir(follow_symlinks=False):
                    continue
                return False
    except OSError:
        return False
    return True


def judge(state: TreeState, now: array[int], suspects: list[int]) -> Delta:
    """What the ``suspects`` mean (stats ``now``), judged against the package's manifest; a
    package without a readable manifest is for the full road."""
    from runcomfy_codegen.manifest import read_manifest

    manifest = read_manifest(Path(state.package))
    if manifest is None:
        delta = Delta()
        delta.full = f"{state.package}: no readable manifest"
        return delta
    delta = examine(state, now, suspects, manifest)
    delta.manifest = manifest
    return delta


def refresh(state: TreeState, now: array[int], suspects: list[int], started: int) -> None:
    """Record ``state`` again with the stats ``now``, its ``suspects`` having been verified
    unchanged: the next run does not look at them again (once they are no longer racy)."""
    state.set_stats(now, started, suspects)
    state.write(state_path(Path(state.package).parent, Path(state.package).name))


def examine(state: TreeState, now: array[int], suspects: list[int], manifest: dict[str, Any]) -> Delta:
    """Look closer at the ``suspects`` (indexes into ``state.paths()``, stats ``now``) against the
    package's ``manifest``: see the module notes."""
    delta = Delta()
    paths = state.paths()
    schemas: dict[str, str] = manifest["schemas"]
    files: dict[str, str] = manifest["files"]
    expected: dict[str, set[str]] | None = None
    for index in suspects:
        path, kind, key = paths[index]
        if kind == "store":
            delta.full = f"{path}: a folder of the store changed"
        elif kind == "generator":
            delta.full = f"{path}: the generator changed"
        elif kind == "model":
            if not now[index * FIELDS] or not _model_folder_holds_only_files(path):
                delta.full = f"{path}: a model's folder changed"
        elif kind == "schema":
            if key not in delta.models:
                model = store.model_at(Path(state.store), key)
                try:
                    digest = schema_hash(model.read_input(), model.read_output(), model.input_display)
                except CodegenError as exc:
                    delta.full = str(exc)
                    continue
                if digest != schemas.get(key):
                    delta.models[key] = digest
        elif kind == "folder":
            if expected is None:
                expected = _expected_entries(state.files)
            if not now[index * FIELDS] or not _folder_holds_only(path, expected.get(key, set())):
                delta.full = f"{path}: a file the package does not hold"
        elif key == MANIFEST:
            if _sha_of(path) != state.manifest_sha:
                delta.full = f"{path}: the manifest changed"
        elif _sha_of(path) != files.get(key):
            delta.files.append(key)
        if delta.full:
            break
    return delta
