"""One ``generate`` at a time per output folder, and no orphaned build workers.

The lock is an OS lock (``flock`` on POSIX, ``msvcrt.locking`` on Windows) on a file beside the
package folder (``OUT/.runcomfy_models.lock``, never inside the package, whose every file is
``generate``'s deterministic output). The OS drops it when its process ends however it ends, so a
killed run never leaves a stale lock behind (its file, if left, is simply locked again). A second
run meanwhile stops with an :class:`~runcomfy_codegen._errors.OutputError` (exit 2) instead of
writing. The lock is held while the package is compared, written and pruned (building needs none).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from runcomfy_codegen._errors import OutputError


def lock_path(out: Path, package: str) -> Path:
    return out / f".{package}.lock"


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextmanager
def output_lock(out: Path, package: str) -> Iterator[Path]:
    """Hold the lock of ``out/package`` for the ``with`` block; refuse at once if another run holds it.

    The lock file is removed on release (by its holder, still holding it), so a finished run leaves
    ``out`` as it found it; a run that locked a file removed meanwhile tries again on the new one.
    """
    for parent in [out, *out.parents]:
        if parent.exists() and not parent.is_dir():
            raise OutputError(f"{parent}: the output path is a file, not a folder")
    path = lock_path(out, package)
    for _attempt in range(3):
        try:
            out.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(f"{path}: cannot create the generate lock ({exc.strerror or exc})") from None
        if not _try_lock(fd):
            os.close(fd)
            raise OutputError(
                f"{out / package}: another runcomfy-codegen generate is writing it (lock {path.name}); "
                "run again when it has finished"
            )
        if _same_file(fd, path):
            break
        os.close(fd)  # the previous holder removed this file after we opened it: lock the new one
    else:  # pragma: no cover - three lost races in a row
        raise OutputError(f"{out / package}: another runcomfy-codegen generate is writing it")
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)  # closing the descriptor releases the lock


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except OSError:
        return False


def exit_with_parent(parent: int, interval: float = 0.5) -> None:
    """Pool-worker initializer: end this worker when ``parent`` is gone (killed, even by SIGKILL).

    A forked worker holds both ends of the pool's pipes, so it would never see EOF and would
    block forever on its next read; a daemon thread watching the parent ends it instead.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
