"""Fault injection for the mock server, per server (queued faults) or per request (a header).

Kinds:

==============  ==========================================================================
``429``         HTTP 429 with ``Retry-After`` (``retry_after`` seconds, default 1)
``500/502/503`` that HTTP status with a JSON error body
``delay``       sleep ``seconds`` before answering (past a client's read timeout)
``drop``        close the connection without any reply
``malformed``   HTTP 200 whose body is not JSON
``error-200``   HTTP 200 whose body is a RunComfy error (``error_code`` 400002)
``job-failed``  on submit: accept the job, which then ends ``failed``
==============  ==========================================================================

Per request: header ``X-Mock-Fault: <kind>[;seconds=N][;retry_after=N]``.
Per server: ``server.inject(Fault("503", times=2, path="/status"))`` or ``--fault 503:2``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

FAULT_KINDS = ("429", "500", "502", "503", "delay", "drop", "malformed", "error-200", "job-failed")


@dataclass
class Fault:
    kind: str
    times: int = 1
    """How many matching requests it applies to."""
    path: str | None = None
    """Only requests whose path contains this (e.g. ``/status``, ``/v1/models/``)."""
    method: str | None = None
    seconds: float = 5.0
    """For ``delay``."""
    retry_after: str = "1"
    """For ``429``: the ``Retry-After`` header (seconds or an HTTP date)."""

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {self.kind!r}; known: {', '.join(FAULT_KINDS)}")

    @classmethod
    def parse(cls, text: str) -> Fault:
        """``kind[:times][;seconds=N][;retry_after=N][;path=P][;method=M]``."""
        head, *options = text.split(";")
        kind, _, times = head.partition(":")
        fault = cls(kind.strip(), int(times) if times else 1)
        for option in options:
            key, _, value = option.partition("=")
            key = key.strip()
            if key == "seconds":
                fault.seconds = float(value)
            elif key == "retry_after":
                fault.retry_after = value.strip()
            elif key == "path":
                fault.path = value.strip()
            elif key == "method":
                fault.method = value.strip().upper()
            else:
                raise ValueError(f"unknown fault option {key!r}")
        return fault


class FaultQueue:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.path is not None and fault.path not in path:
                    continue
                if fault.method is not None and fault.method != method:
                    continue
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None
