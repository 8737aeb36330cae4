"""The schema store: find the models in a folder, or in a folder at a git revision.

A store holds one folder per model, ``<model_id>/input.json`` and ``<model_id>/output.json``; the
model id is the folder's path. Each model comes back as a :class:`ModelFiles` with its files' bytes
(read on demand from a folder, at once from git) and their display paths, which every message and
generated header uses. Symbolic links are never followed: a linked file or folder inside the store
is refused, so no JSON from outside the store reaches generated code.

This module imports only the standard library (``check``'s fast path uses it).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import NamedTuple

from runcomfy_codegen._errors import CodegenError, SchemaError

INPUT, OUTPUT = "input.json", "output.json"


class ModelFiles(NamedTuple):
    """One model of a store: its id, and where its two schema files are. (A named tuple, not a
    dataclass: ``generate`` and ``check`` import this module on their fast paths, which do not
    load :mod:`dataclasses` and :mod:`inspect`.)"""

    model_id: str
    input_display: str
    output_display: str
    folder: Path | None = None
    """The model's folder on disk (None for a git revision)."""
    input_bytes: bytes | None = None
    output_bytes: bytes | None = None
    """Bytes already read (git); None: read from ``folder`` when asked. ``output_bytes`` stays None
    for a model without ``output.json``."""

    def read_input(self) -> bytes:
        if self.input_bytes is not None:
            return self.input_bytes
        assert self.folder is not None
        return _read_file(os.path.join(self.folder, INPUT), self.input_display)

    def read_output(self) -> bytes | None:
        """The output file's bytes, or None when the model has none."""
        if self.folder is None:
            return self.output_bytes
        try:
            return _read_file(os.path.join(self.folder, OUTPUT), self.output_display)
        except SchemaError:
            if not os.path.lexists(os.path.join(self.folder, OUTPUT)):
                return None
            raise


def _read_file(path: Path | str, display: str) -> bytes:
    """A store file's bytes; a symbolic link or anything but a regular file is refused."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP or os.path.islink(path):
            raise SchemaError(display, "", "is a symbolic link; the store follows none") from None
        raise SchemaError(display, "", f"cannot read file: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SchemaError(display, "", "not a regular file")
        chunks = [os.read(fd, max(info.st_size, 1) + 1)]
        while chunks[-1]:
            chunks.append(os.read(fd, 1 << 20))
        return b"".join(chunks)
    except OSError as exc:
        raise SchemaError(display, "", f"cannot read file: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


def missing_store(path: Path, option: str = "--schemas") -> CodegenError:
    """The error for a store folder that is not there: where it looked (relative to where) and what to do."""
    where = f"{str(path)!r} in {Path.cwd()}" if not path.is_absolute() else repr(str(path))
    what = "is not a folder" if path.exists() else "does not exist"
    return CodegenError(
        f"no schema store: {where} {what}; run this from the project folder (the one holding schemas/) "
        f"or pass {option} DIR"
    )


def discover(store: Path) -> list[ModelFiles]:
    """Every model of a store folder, sorted by model id. A symbolic link inside it is refused."""
    if not store.is_dir():
        raise missing_store(store)
    # Display paths are relative to the store's parent (machine-independent); built as strings.
    root = os.path.normpath(str(store))
    prefix = _display_prefix(store)
    found: list[ModelFiles] = []
    pending = [(root, "")]
    while pending:
        folder, model_id = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            raise SchemaError(folder, "", f"cannot list folder: {exc.strerror or exc}") from None
        has_input = False
        for entry in entries:
            if entry.is_symlink():
                if entry.name in (INPUT, OUTPUT) or entry.is_dir():
                    shown = f"{prefix}{model_id}/{entry.name}" if model_id else f"{prefix}{entry.name}"
                    raise SchemaError(shown, "", "is a symbolic link; the store follows none")
                continue
            if entry.is_dir(follow_symlinks=False):
                if entry.name in (INPUT, OUTPUT):  # never a model folder: refused, not skipped
                    shown = f"{prefix}{model_id}/{entry.name}" if model_id else f"{prefix}{entry.name}"
                    raise SchemaError(shown, "", "is a folder, not a regular file")
                pending.append((entry.path, f"{model_id}/{entry.name}" if model_id else entry.name))
            elif entry.name == INPUT:
                has_input = True
        if has_input:
            found.append(_model(prefix, model_id, folder))
    found.sort(key=lambda m: m.model_id)
    return found


def folders(store: Path) -> list[str]:
    """Every folder of a store folder but the models' own, relative posix paths (``""`` for the
    store), sorted: the folders above the models, empty ones, and any folder inside a model's
    folder. (A folder's stat changes when an entry is added in it: the tree state watches these.)
    Symbolic links are not followed."""
    found: list[str] = []
    pending = [(os.path.normpath(str(store)), "")]
    while pending:
        folder, rel = pending.pop()
        has_input = False
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    pending.append((entry.path, f"{rel}/{entry.name}" if rel else entry.name))
                elif entry.name == INPUT:
                    has_input = True
        if not has_input or not rel:  # a model's folder is watched as a model
            found.append(rel)
    return sorted(found)


def _model(prefix: str, model_id: str, folder: str) -> ModelFiles:
    shown = f"{prefix}{model_id}/" if model_id else prefix
    return ModelFiles(model_id or ".", f"{shown}{INPUT}", f"{shown}{OUTPUT}", folder=Path(folder))


def model_at(store: Path, model_id: str) -> ModelFiles:
    """The model ``model_id`` of a store folder, as :func:`discover` finds it (same display paths);
    nothing is checked or read."""
    root = os.path.normpath(str(store))
    folder = root if model_id == "." else os.path.join(root, *model_id.split("/"))
    return _model(_display_prefix(store), "" if model_id == "." else model_id, folder)


def _display_prefix(store: Path) -> str:
    """The store folder's own name, however it was spelled (``schemas``, ``./schemas/``, or ``.``
    from inside it): display paths, and so generated headers, do not depend on the spelling."""
    name = os.path.basename(os.path.abspath(store))
    return f"{name}/" if name else ""


def _git(args: list[str], cwd: Path) -> bytes:
    import subprocess  # only for git revisions; `check`'s fast path does not pay for it

    try:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CodegenError(f"git: {exc}") from None
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip()
        raise CodegenError(f"git {' '.join(args)}: {message}")
    return result.stdout


def discover_git(revision: str, folder: str = "schemas", cwd: Path | None = None) -> list[ModelFiles]:
    """Every model of the store ``folder`` (relative to the repository root) at a git revision."""
    root = Path(_git(["rev-parse", "--show-toplevel"], cwd or Path.cwd()).decode().strip())
    prefix = folder.strip("/") + "/"
    listing = _git(["ls-tree", "-r", "-z", "--full-tree", revision, "--", prefix], root)
    blobs: dict[str, tuple[str, str]] = {}
    for line in listing.decode("utf-8", "surrogateescape").split("\0"):
        if not line:
            continue
        meta, name = line.split("\t", 1)
        mode, _kind, sha = meta.split()
        blobs[name] = (mode, sha)
    found: list[ModelFiles] = []
    for name in sorted(blobs):
        if not name.endswith("/" + INPUT):
            continue
        base = name[: -len(INPUT)]
        model_id = base[len(prefix) : -1]
        contents: list[bytes | None] = []
        for file in (name, base + OUTPUT):
            if file not in blobs:
                contents.append(None)
                continue
            mode, sha = blobs[file]
            if mode == "120000":
                raise SchemaError(f"{revision}:{file}", "", "is a symbolic link; the store follows none")
            contents.append(_git(["cat-file", "blob", sha], root))
        found.append(
            ModelFiles(
                model_id,
                f"{revision}:{name}",
                f"{revision}:{base}{OUTPUT}",
                input_bytes=contents[0],
                output_bytes=contents[1],
            )
        )
    return found
