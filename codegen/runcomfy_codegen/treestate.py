"""The stat of every path a clean package depends on: git's index, for a whole answer.

When ``check`` finds the package clean, or a whole-store ``generate`` has written it (a subset or
a ``--keep-going`` run with refusals forgets it instead), :class:`TreeState` records
the stat (mode, size, mtime, ctime, inode) of every path that answer depended on: the store folder,
each folder on the way to a model, each model's folder and schema files; the package folder, its
folders and files; the generator's files and folders. A later run stats the same paths, and only
the *suspects* need a closer look (:mod:`runcomfy_codegen.incremental`): the paths whose stat
changed, and the "racy" ones, changed within :data:`~runcomfy_codegen.hashcache.RACY_NS` of the
recording (on a coarse clock their stat could stay the same through another change, so they are
verified by content until they are older than that). No suspect: nothing the answer depended on
changed, and nothing is read.

A folder's stat changes when an entry is added, removed or renamed in it, so a new model or a
stray module is noticed without listing anything. ``ctime`` cannot be set from user space, so a
tool that restores an old ``mtime`` still makes a suspect.

The state is kept in a file beside the package (``OUT/.runcomfy_models.state``: a JSON line, then
the stats as raw 64-bit numbers); it holds only for the same store, package and generator install
on the same machine. This module imports only the standard library.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from array import array
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from runcomfy_codegen import hashcache

VERSION = 1
GENERATOR = os.path.dirname(os.path.abspath(__file__))
PYTHON = f"{sys.prefix} {sys.version}"
"""The environment that recorded it (a venv switched is a different jinja2, jsonschema …)."""
FIELDS = 5
"""Per path: mode, size, mtime_ns, ctime_ns, inode (mode 0: the path does not exist)."""
_MASK = (1 << 64) - 1

Kind = Literal["store", "model", "schema", "folder", "file", "generator"]
"""What a path is: a store folder above the models, a model's folder, a model's schema file, a
folder or a file of the package, a file or folder of the generator."""


class TreeState:
    """The recorded stat of every path of one store, package and generator (see the module notes)."""

    def __init__(
        self,
        store: str,
        package: str,
        ids: list[str],
        files: list[str],
        generator_paths: list[str],
        folders: list[str],
        manifest_sha: str = "",
        generator: str = GENERATOR,
        python: str = PYTHON,
    ) -> None:
        self.store, self.package = store, package
        self.ids = ids
        """The store's model ids, sorted."""
        self.folders = folders
        """The store's other folders (relative, ``""`` for the store itself; see
        :func:`runcomfy_codegen.schema.store.folders`): a model added in any of them changes its stat."""
        self.files = files
        """The package's files, relative posix paths, sorted (the manifest included)."""
        self.generator_paths = generator_paths
        """The generator's files that shape the output, and their folders."""
        self.manifest_sha = manifest_sha
        """The SHA-256 of the manifest when recorded: the one package file the manifest cannot vouch for."""
        self.generator = generator
        """The install that recorded it: the state holds only for the same generator."""
        self.python = python
        """The Python environment that recorded it: the state holds only for the same one."""
        self.stats = array("Q")
        """:data:`FIELDS` numbers per path of :meth:`paths`, in its order (each as an unsigned 64-bit number)."""
        self.racy: list[int] = []
        """Indexes of the paths changed less than ``RACY_NS`` before the stats were taken."""
        self.lenient = False
        """Did a module of the package come from ``--allow-unknown``? (A strict run must not trust
        the state then: it would refuse what that run let through.)"""
        self._paths: list[tuple[str, Kind, str]] | None = None

    def paths(self) -> list[tuple[str, Kind, str]]:
        """(absolute path, kind, key) of every path, in a fixed order; the key is the model id for
        ``model`` and ``schema``, the package-relative path for ``folder`` and ``file``."""
        if self._paths is not None:
            return self._paths
        store, package = self.store, self.package
        models: list[tuple[str, Kind, str]] = []
        for model_id in self.ids:
            base = f"{store}/{model_id}"
            models += (
                (base, "model", model_id),
                (f"{base}/input.json", "schema", model_id),
                (f"{base}/output.json", "schema", model_id),
            )
        package_folders = {""}
        for rel in self.files:
            while "/" in rel:
                rel = rel.rsplit("/", 1)[0]
                package_folders.add(rel)
        self._paths = [
            *((f"{store}/{f}" if f else store, "store", f) for f in self.folders),
            *models,
            *((f"{package}/{f}" if f else package, "folder", f) for f in sorted(package_folders)),
            *((f"{package}/{rel}", "file", rel) for rel in self.files),
            *((path, "generator", path) for path in self.generator_paths),
        ]
        return self._paths

    def scan(self) -> array[int]:
        """The current stat of every path, as :attr:`stats` holds them. The store and the package
        folder themselves are followed if they are symbolic links (what is behind them counts);
        nothing inside them is."""
        out = array("Q")
        add = out.extend
        for path, kind, key in self.paths():
            add(_stat(path, not key and kind in ("store", "folder")))
        return out

    def restat(self, stats: array[int], index: int) -> None:
        """Put the current stat of path ``index`` into ``stats`` (after this run wrote it)."""
        path, kind, key = self.paths()[index]
        stats[index * FIELDS : (index + 1) * FIELDS] = array(
            "Q", _stat(path, not key and kind in ("store", "folder"))
        )

    def suspects(self, now: array[int]) -> list[int]:
        """Indexes of the paths whose stat ``now`` differs from the recorded one, or that were racy."""
        if now == self.stats:  # the common case, compared in one go
            return list(self.racy)
        if len(now) != len(self.stats):
            return list(range(len(now) // FIELDS))
        old, n = self.stats, FIELDS
        changed = {i for i in range(len(now) // n) if now[i * n : i * n + n] != old[i * n : i * n + n]}
        return sorted(changed.union(self.racy))

    def set_stats(self, stats: array[int], taken: int, changed: list[int] | None = None) -> None:
        """Record ``stats``, taken after ``taken`` (ns): paths changed since ``taken - RACY_NS`` are racy.

        ``changed``: the only paths whose stats may differ from the recorded ones (this run's
        suspects and what it wrote); a path that was not racy then is not racy now (``taken`` only
        grows), so only those and the racy ones are looked at."""
        limit = taken - hashcache.RACY_NS
        self.stats = stats
        if changed is None:
            modes, mtimes, ctimes = stats[0::FIELDS], stats[2::FIELDS], stats[3::FIELDS]
            candidates: Iterable[tuple[int, int, int, int]] = zip(
                range(len(modes)), modes, mtimes, ctimes, strict=True
            )
        else:
            candidates = (
                (i, stats[i * FIELDS], stats[i * FIELDS + 2], stats[i * FIELDS + 3])
                for i in sorted({*self.racy, *changed})
            )
        self.racy = [i for i, mode, mtime, ctime in candidates if mode and (mtime >= limit or ctime >= limit)]

    def matches(self, store: str, package: str) -> bool:
        return (self.store, self.package, self.generator, self.python) == (store, package, GENERATOR, PYTHON)

    def write(self, path: Path) -> None:
        """Save the state at ``path`` (atomically; a failure leaves the old file, or none)."""
        head = {
            "version": VERSION,
            "store": self.store,
            "package": self.package,
            "generator": self.generator,
            "python": self.python,
            "manifest_sha": self.manifest_sha,
            "byteorder": sys.byteorder,
            "racy": self.racy,
            "lenient": self.lenient,
            # one string each, NUL-separated (no path holds NUL): a tenth of the time of JSON lists
            "ids": "\0".join(self.ids),
            "files": "\0".join(self.files),
            "generator_paths": "\0".join(self.generator_paths),
            "folders": "\0".join(self.folders),
        }
        tmp = f"{path}.{os.getpid()}.tmp"
        try:
            with open(tmp, "wb") as handle:
                handle.write(json.dumps(head, separators=(",", ":")).encode())
                handle.write(b"\n")
                handle.write(self.stats.tobytes())
            os.replace(tmp, path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    @classmethod
    def read(cls, path: Path) -> TreeState | None:
        """The state saved at ``path``, or None when there is none this version wrote on this machine."""
        try:
            with open(path, "rb") as handle:
                head, _, stats = handle.read().partition(b"\n")
            data = json.loads(head)
        except (OSError, ValueError):
            return None
        if (
            not isinstance(data, dict)
            or data.get("version") != VERSION
            or data.get("byteorder") != sys.byteorder
        ):
            return None
        try:
            ids, files, paths = (
                data[k].split("\0") if data[k] else [] for k in ("ids", "files", "generator_paths")
            )
            folders = data["folders"].split("\0")  # never empty: the store itself is one
            state = cls(
                str(data["store"]),
                str(data["package"]),
                ids,
                files,
                paths,
                folders,
                str(data["manifest_sha"]),
                str(data["generator"]),
                str(data["python"]),
            )
            state.stats.frombytes(stats)
            state.racy = [int(i) for i in data["racy"]]
            state.lenient = data["lenient"] is True
        except (KeyError, TypeError, ValueError, AttributeError):
            return None
        count = len(state.paths())
        if len(state.stats) != count * FIELDS or not all(0 <= i < count for i in state.racy):
            return None
        return state


def _stat(path: str, follow: bool) -> tuple[int, int, int, int, int]:
    """The stat of ``path`` as the state records it; all zero (no file type) when it cannot be
    read, missing or not: a path that cannot be statted is a suspect, and the closer look says why."""
    try:
        info = os.stat(path, follow_symlinks=follow)
    except (OSError, ValueError):
        return (0, 0, 0, 0, 0)
    mask = _MASK
    return (info.st_mode, info.st_size, info.st_mtime_ns & mask, info.st_ctime_ns & mask, info.st_ino & mask)


def state_path(out: Path, package: str) -> Path:
    """Where the state of ``out/package`` is kept: beside the package, never inside it."""
    return out / f".{package}.state"


def forget(path: Path) -> None:
    """Remove a saved state (what it vouched for may no longer hold)."""
    with contextlib.suppress(OSError):
        os.unlink(path)


def recorded(out: Path, package: str, schemas: Path) -> TreeState | None:
    """The state saved beside ``out/package`` for this store and generator install, if any."""
    state = TreeState.read(state_path(out, package))
    if state is None or not state.matches(os.path.abspath(schemas), os.path.abspath(out / package)):
        return None
    return state
