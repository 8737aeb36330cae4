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
run. (The stat of every path, for the whole answer, is :mod:`runcomfy_codegen.treestate`'s, in a file of
its own.)

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

VERSION = 2
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
        self._used = False
        self.loaded = False
        """Was a cache file of this version read? (Without one, nothing is known of earlier runs.)"""
        self.lenient: set[str] = set()
        """Model ids whose module an earlier ``generate --allow-unknown`` built: a strict run must
        build them again (it may refuse them), never keep them."""
        self._entries_text = b""
        if path is not None:
            # Line 1: version and lenient models; line 2: the entries, decoded only if a hash is
            # asked for (a run that judges by the tree state never asks).
            try:
                with open(path, "rb") as handle:
                    head, _, self._entries_text = handle.read().partition(b"\n")
                data = json.loads(head)
                if isinstance(data, dict) and data.get("version") == VERSION:
                    self.loaded = True
                    if isinstance(data.get("lenient"), list):
                        self.lenient = {x for x in data["lenient"] if isinstance(x, str)}
                else:
                    self._entries_text = b""
            except (OSError, ValueError):
                self._entries_text = b""
        self._loaded = False
        self._lenient_read = set(self.lenient)

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
        self._used = True
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
        """Write the entries used in this run (atomically), or keep the old ones when this run used
        none (a run that judged everything by the tree state); any failure leaves the old file."""
        if self.path is None:
            return
        if self._used:
            if not self._loaded:
                self._load_entries()
            unchanged = (
                not self._dirty and set(self._new) == set(self._old) and self.lenient == self._lenient_read
            )
            if unchanged and self.loaded:
                return
            entries = json.dumps(self._new, separators=(",", ":")).encode()
        elif self.loaded and self.lenient == self._lenient_read:
            return
        else:
            entries = self._entries_text if not self._loaded else json.dumps(self._old).encode()
        head = {"version": VERSION, "lenient": sorted(self.lenient)}
        data = b"%s\n%s" % (json.dumps(head, separators=(",", ":")).encode(), entries)
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
