"""File hashes that survive between runs, trusted while a file's stat says it is unchanged.

Like git's index: for each file hashed, the cache records its size, ``mtime_ns``, ``ctime_ns`` and
inode beside its SHA-256. A later run that finds the same four values uses the recorded hash instead
of reading the file; any difference (or no entry) means the file is read and hashed again. ``ctime``
cannot be set from user space, so a tool that restores an old ``mtime`` still invalidates the entry.

A file changed within :data:`RACY_NS` of being hashed could keep the same stat on a filesystem with
coarse timestamps, so such an entry is "racy" (git's word) and is hashed again until the file is
older than that. The cache is a JSON file beside the generated package
(``OUT/.runcomfy_models.cache``, never inside it); it is only a speed-up: a missing, unreadable or
foreign cache file is ignored, a failed save is ignored, and it keeps only the entries of the last
run. It also holds :class:`TreeSnapshot`, the fast path of a ``check`` that found no drift: one digest of
the stat of every path that answer depended on (the store's folders and schema files, the package's
files and folders, the generator's files and folders). When the same paths have the same stat, the
answer stands without reading or hashing anything; any difference falls back to the hashes.

This module imports only the standard library.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path

VERSION = 1
RACY_NS = 2_000_000_000
"""A file modified less than this before it was hashed is hashed again next time (FAT: 2 s)."""


def cache_path(out: Path, package: str) -> Path:
    return out / f".{package}.cache"


class HashCache:
    """``path -> SHA-256`` for regular files, from the cache where the stat matches."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._old: dict[str, list[int | str]] = {}
        self._new: dict[str, list[int | str]] = {}
        self._dirty = False
        self.snapshot: dict[str, object] | None = None
        self._new_snapshot: dict[str, object] | None = None
        self.loaded = False
        """Was a cache file of this version read? (Without one, nothing is known of earlier runs.)"""
        self.lenient: set[str] = set()
        """Model ids whose module an earlier ``generate --allow-unknown`` built: a strict run must
        build them again (it may refuse them), never keep them."""
        self._entries_text = b""
        if path is not None:
            # Line 1: version and snapshot; line 2: the entries, decoded only if a hash is asked for
            # (a check whose snapshot holds never asks).
            try:
                with open(path, "rb") as handle:
                    head, _, self._entries_text = handle.read().partition(b"\n")
                data = json.loads(head)
                if isinstance(data, dict) and data.get("version") == VERSION:
                    self.loaded = True
                    if isinstance(data.get("snapshot"), dict):
                        self.snapshot = data["snapshot"]
                    if isinstance(data.get("lenient"), list):
                        self.lenient = {x for x in data["lenient"] if isinstance(x, str)}
                else:
                    self._entries_text = b""
            except (OSError, ValueError):
                self._entries_text = b""
        self._loaded = False

    def _load_entries(self) -> None:
        self._loaded = True
        try:
            entries = json.loads(self._entries_text) if self._entries_text else {}
        except ValueError:
            entries = {}
        self._old = entries if isinstance(entries, dict) else {}
        self._entries_text = b""

    def sha(self, path: str, read: Callable[[], bytes]) -> str:
        """The SHA-256 of the file at ``path``; ``read`` gives its bytes when the cache cannot.

        ``read`` decides what a readable file is (the store refuses symbolic links, for one) and
        raises what it raises; nothing is cached for a file that is not a regular file.
        """
        try:
            info = os.stat(path, follow_symlinks=False)
        except OSError:
            info = None
        if info is not None and stat.S_ISREG(info.st_mode):
            if not self._loaded:
                self._load_entries()
            key = [info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino]
            entry = self._old.get(path)
            if (
                entry is not None
                and len(entry) == 6
                and entry[:4] == key
                and isinstance(entry[4], int)
                and max(info.st_mtime_ns, info.st_ctime_ns) + RACY_NS < entry[4]
                and isinstance(entry[5], str)
            ):
                self._new[path] = entry
                return entry[5]
        hashed_at = time.time_ns()
        digest = hashlib.sha256(read()).hexdigest()
        if info is not None and stat.S_ISREG(info.st_mode):
            self._new[path] = [*key, hashed_at, digest]
            self._dirty = True
        return digest

    def save(self) -> None:
        """Write the entries used in this run (atomically); any failure leaves the old file."""
        if not self._loaded:
            self._load_entries()
        changed = self._dirty or set(self._new) != set(self._old) or self._new_snapshot is not None
        if self.path is None or not (changed or not self.loaded):
            return
        # A snapshot checks itself (a digest of stats), so an old one is kept: it holds or it does not.
        head: dict[str, object] = {"version": VERSION, "lenient": sorted(self.lenient)}
        snapshot = self._new_snapshot or self.snapshot
        if snapshot is not None:
            head["snapshot"] = snapshot
        data = b"%s\n%s" % (
            json.dumps(head, separators=(",", ":")).encode(),
            json.dumps(self._new, separators=(",", ":")).encode(),
        )
        tmp = f"{self.path}.{os.getpid()}.tmp"
        try:
            with open(tmp, "wb") as handle:
                handle.write(data)
            os.replace(tmp, self.path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def read_bytes(path: str) -> Callable[[], bytes]:
    """A reader for :meth:`HashCache.sha` of a plain file (symbolic links not followed)."""

    def read() -> bytes:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        try:
            chunks = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)

    return read


class TreeSnapshot:
    """The stat of every path a clean ``check`` depended on, as one digest (see the module notes).

    ``ids``: the store's model ids; ``files``: the package's files (relative); ``extra``: more paths
    (the generator's files and folders). From them: the store folder, every folder on the way to
    each model, each model's folder and schema files; the package folder, its ``catalog`` folder
    and files. A folder's stat changes when an entry is added, removed or renamed in it, so a new
    model or a stray module is noticed without listing anything.
    """

    def __init__(
        self,
        store: str,
        package: str,
        ids: list[str],
        files: list[str],
        extra: list[str],
        generator: str = "",
    ) -> None:
        self.store, self.package, self.ids, self.files, self.extra = store, package, ids, files, extra
        self.generator = generator
        """The generator's own folder: a snapshot holds only for the generator that took it (another
        install's files would not be among ``extra``)."""

    def paths(self) -> list[str]:
        store = self.store
        folders = {store}
        paths: list[str] = []
        for model_id in self.ids:
            parts = model_id.split("/")
            for i in range(1, len(parts)):
                folders.add(f"{store}/{'/'.join(parts[:i])}")
            base = f"{store}/{model_id}"
            paths += (base, f"{base}/input.json", f"{base}/output.json")
        package = self.package
        return [
            *sorted(folders),
            *paths,
            package,
            f"{package}/catalog",
            *(f"{package}/{rel}" for rel in self.files),
            *self.extra,
        ]

    def digest(self) -> tuple[str, int] | None:
        """(digest of every path's stat, newest mtime/ctime among them); a missing path counts as
        missing, a stat that fails otherwise gives None."""
        stat_of = os.stat
        signature: list[tuple[int, int, int, int, int] | None] = []
        newest = 0
        for path in self.paths():
            try:
                info = stat_of(path, follow_symlinks=False)
            except FileNotFoundError:
                signature.append(None)
                continue
            except OSError:
                return None
            signature.append((info.st_mode, info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino))
            newest = max(newest, info.st_mtime_ns, info.st_ctime_ns)
        return hashlib.sha256(repr(signature).encode()).hexdigest(), newest

    def key(self) -> dict[str, object]:
        return {
            "store": self.store,
            "package": self.package,
            "generator": self.generator,
            "ids": self.ids,
            "files": self.files,
            "extra": self.extra,
        }


GENERATOR = os.path.dirname(os.path.abspath(__file__))


def snapshot_holds(cache: HashCache, store: str, package: str) -> bool:
    """Does the recorded snapshot of a clean ``check`` of ``store`` against ``package``, taken by
    this generator, still hold?"""
    data = cache.snapshot
    if not data or data.get("store") != store or data.get("package") != package:
        return False
    if data.get("generator") != GENERATOR:
        return False
    try:
        snapshot = TreeSnapshot(store, package, list(data["ids"]), list(data["files"]), list(data["extra"]))  # type: ignore[call-overload]
        now = snapshot.digest()
    except (KeyError, TypeError):
        return False
    return now is not None and now[0] == data.get("digest")


def record_snapshot(cache: HashCache, snapshot: TreeSnapshot) -> None:
    """Keep ``snapshot`` (taken after a clean ``check``) in the cache, unless a path is racy (changed
    within :data:`RACY_NS`: its stat could stay the same through another change)."""
    taken = time.time_ns()
    now = snapshot.digest()
    if now is None or now[1] + RACY_NS >= taken:
        return
    cache._new_snapshot = {**snapshot.key(), "digest": now[0]}
