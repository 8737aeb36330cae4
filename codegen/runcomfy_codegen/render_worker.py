"""A renderer that gets ready while ``generate`` finds out what changed.

Loading the loader, the parser and the templates (jinja2 with them) takes longer than rendering one
model, and about as long as the stat of every path an incremental ``generate`` starts with
(:mod:`runcomfy_codegen.incremental`). So that ``generate`` after one edit costs little more than
``check``, :func:`start` forks a child that loads them meanwhile, on another core, then waits for
work on a pipe. The parent sends the models to build once it knows them and gets their modules back
(:meth:`WarmRenderer.build`); with nothing to build it kills the child, which cost it one ``fork``.
``runcomfy-codegen generate`` starts it first thing, before the command line module is even
imported (:mod:`runcomfy_codegen.__main__`); :func:`runcomfy_codegen.pipeline.generate` starts one
itself when it finds a tree state to work from.

Only where it is safe and pays: POSIX ``fork``, two or more cores, and a process with no other
thread (a fork copies locks another thread may hold). Anything unexpected in the child (it died, a
model was refused, no answer within :data:`ANSWER_TIMEOUT`) makes :meth:`~WarmRenderer.receive`
return None, and the parent builds in-process, where errors are reported as usual. Messages are ``marshal``-ed plain data, length-prefixed.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import signal
import struct
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runcomfy_codegen.build import Built
    from runcomfy_codegen.schema.store import ModelFiles

_LENGTH = struct.Struct("<Q")
ANSWER_TIMEOUT = 120.0
"""Seconds the parent waits for the child's first byte before it builds in-process instead (a
child stuck on a hung file system, say); rendering even hundreds of models takes far less."""


def _usable() -> bool:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if not hasattr(os, "fork") or cores < 2:  # the cores this process may run on, not the machine's
        return False
    threading = sys.modules.get("threading")
    return threading is None or threading.active_count() == 1


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None  # the other side is gone
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _send(fd: int, value: Any) -> None:
    data = marshal.dumps(value)
    view = memoryview(_LENGTH.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def _receive(fd: int, timeout: float | None = None) -> Any:
    if timeout is not None:
        import select

        if not select.select([fd], [], [], timeout)[0]:
            raise TimeoutError(f"no answer within {timeout} s")
    head = _read_exactly(fd, _LENGTH.size)
    if head is None:
        return None
    body = _read_exactly(fd, _LENGTH.unpack(head)[0])
    return None if body is None else marshal.loads(body)


def _serve(requests: int, replies: int) -> None:
    """The child: load everything a build needs, then build what the parent asks for."""
    from pathlib import Path

    from runcomfy_codegen.build import build_one, preload
    from runcomfy_codegen.schema.store import ModelFiles

    preload()  # now, not when the work arrives
    request = _receive(requests)
    if request is None:
        return  # nothing to build
    work, allow_unknown = request
    built = []
    for model_id, input_display, output_display, folder, module in work:
        files = ModelFiles(model_id, input_display, output_display, folder=Path(folder))
        outcome = build_one(files, module, allow_unknown)
        if outcome.error is not None or outcome.text is None:
            _send(replies, None)  # the parent builds again in-process and reports it
            return
        built.append((outcome.model_id, outcome.module, outcome.text, outcome.warnings, outcome.stub))
    _send(replies, built)


class WarmRenderer:
    def __init__(self, pid: int, requests: int, replies: int) -> None:
        self.pid, self._requests, self._replies = pid, requests, replies

    def send(self, work: list[tuple[ModelFiles, str]], allow_unknown: bool) -> bool:
        """Ask the child to build ``work``; False when it cannot be asked (build in-process then).
        The child serves one request; :meth:`receive` gets the answer."""
        request = [
            (files.model_id, files.input_display, files.output_display, str(files.folder), module)
            for files, module in work
        ]
        try:
            _send(self._requests, (request, allow_unknown))
        except (OSError, ValueError):
            self.close()
            return False
        return True

    def receive(self) -> list[Built] | None:
        """The child's build of what :meth:`send` asked for (as
        :func:`runcomfy_codegen.build.build_one` builds each), or None: then build in-process.
        The child exits once it has answered; :meth:`close` reaps it (later: it is exiting now)."""
        from runcomfy_codegen.build import Built

        try:
            reply = _receive(self._replies, ANSWER_TIMEOUT)
        except (OSError, ValueError, EOFError, TypeError):  # TimeoutError is an OSError
            reply = None
        if not isinstance(reply, list):
            self.close()
            return None
        return [
            Built(m, module, text, None, list(warnings), stub) for m, module, text, warnings, stub in reply
        ]

    def build(self, work: list[tuple[ModelFiles, str]], allow_unknown: bool) -> list[Built] | None:
        """:meth:`send` then :meth:`receive`."""
        return self.receive() if self.send(work, allow_unknown) else None

    def close(self, *, wait: bool = True) -> None:
        """End the child (at once: whatever it was loading is of no use now) and reap it. With
        ``wait=False`` (a command about to exit) a child not quite gone yet is left to the next
        :func:`start` or to the system, rather than waited for."""
        if self.pid == 0:
            return
        for fd in (self._requests, self._replies):
            with contextlib.suppress(OSError):
                os.close(fd)
        try:
            os.kill(self.pid, signal.SIGKILL)
            if os.waitpid(self.pid, 0 if wait else os.WNOHANG)[0] == 0:
                _exiting.append(self.pid)
        except (OSError, ChildProcessError):
            pass
        self.pid = 0


_exiting: list[int] = []
"""Children killed but not yet reaped."""


def start() -> WarmRenderer | None:
    """Fork the warm renderer, or None where it is not used (see the module notes)."""
    for pid in list(_exiting):
        with contextlib.suppress(OSError, ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == 0:
                continue
        _exiting.remove(pid)
    if not _usable():
        return None
    requests_read, requests_write = os.pipe()
    replies_read, replies_write = os.pipe()
    for stream in (sys.stdout, sys.stderr):  # the child must not write the parent's buffers again
        if stream is not None:  # None when the command's stdout or stderr is closed
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
    try:
        pid = os.fork()
    except OSError:
        for fd in (requests_read, requests_write, replies_read, replies_write):
            os.close(fd)
        return None
    if pid == 0:  # the child: never returns into the parent's code
        code = 1
        try:
            os.close(requests_write)
            os.close(replies_read)
            _serve(requests_read, replies_write)
            code = 0
        except BaseException:
            pass
        finally:
            os._exit(code)
    os.close(requests_read)
    os.close(replies_write)
    return WarmRenderer(pid, requests_write, replies_read)
