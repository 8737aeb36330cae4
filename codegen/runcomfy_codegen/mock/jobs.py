"""The mock's job queue on a deterministic clock: ``in_queue`` -> ``in_progress`` -> final.

Every job waits ``queue_seconds`` in the queue (its ``queue_position`` counts the queued jobs
submitted before it) and runs ``run_seconds``; then it is ``completed`` (or ``failed`` when asked).
Only a queued job can be cancelled; a running one is ``not_cancellable``.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


def _iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, tz=timezone.utc).isoformat().replace("+00:00", "Z")


@dataclass
class MockJob:
    request_id: str
    model_id: str
    created: float
    created_wall: float
    payload: dict[str, Any]
    error: dict[str, Any] | None = None
    """Set when the job is to end ``failed``."""
    cancelled_at: float | None = None
    output: dict[str, Any] = field(default_factory=dict)


class JobStore:
    def __init__(
        self,
        queue_seconds: float = 0.2,
        run_seconds: float = 0.3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.queue_seconds = queue_seconds
        self.run_seconds = run_seconds
        self._clock = clock
        self._jobs: dict[str, MockJob] = {}
        self._order: list[MockJob] = []
        self._lock = threading.RLock()
        self._counter = 0

    def __len__(self) -> int:
        return len(self._jobs)

    def create(self, model_id: str, payload: dict[str, Any], error: dict[str, Any] | None = None) -> MockJob:
        with self._lock:
            self._counter += 1
            job = MockJob(
                str(uuid.UUID(int=self._counter)), model_id, self._clock(), time.time(), payload, error
            )
            self._jobs[job.request_id] = job
            self._order.append(job)
            return job

    def get(self, request_id: str) -> MockJob | None:
        return self._jobs.get(request_id)

    def state(self, job: MockJob) -> tuple[str, int | None]:
        """(status, queue position) now: ``in_queue``, ``in_progress``, ``completed``, ``failed`` or ``cancelled``."""
        if job.cancelled_at is not None:
            return "cancelled", None
        elapsed = self._clock() - job.created
        if elapsed < self.queue_seconds:
            with self._lock:
                ahead = 0
                for other in self._order:
                    if other is job:
                        break
                    if other.cancelled_at is None and self._clock() - other.created < self.queue_seconds:
                        ahead += 1
            return "in_queue", ahead
        if elapsed < self.queue_seconds + self.run_seconds:
            return "in_progress", None
        return ("failed" if job.error is not None else "completed"), None

    def finished_at(self, job: MockJob) -> str | None:
        status, _ = self.state(job)
        if status in ("completed", "failed"):
            return _iso(job.created_wall + self.queue_seconds + self.run_seconds)
        return None

    def created_at(self, job: MockJob) -> str:
        return _iso(job.created_wall)

    def cancel(self, job: MockJob) -> tuple[str, str]:
        """(status after, outcome)."""
        with self._lock:
            status, _ = self.state(job)
            if status == "in_queue":
                job.cancelled_at = self._clock()
                return "cancelled", "cancelled"
            return status, "not_cancellable"
