"""The service's own replies (status, result, submit, cancel) as typed objects.

These parse leniently (extra fields kept, unknown states kept verbatim): they describe RunComfy's
queue API, whose documented shapes have known variants (``succeeded``/``completed``,
``canceled``/``cancelled``).
"""

from __future__ import annotations

from typing import Any, Generic

from pydantic import BaseModel, ConfigDict, field_validator

from ._base import OutputT

QUEUED = "in_queue"
RUNNING = "in_progress"
DONE_STATES = frozenset({"completed", "succeeded"})
FAILED_STATES = frozenset({"failed", "error"})
CANCELLED_STATES = frozenset({"cancelled"})
FINAL_STATES = DONE_STATES | FAILED_STATES | CANCELLED_STATES


class _Reply(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


def _normalise_status(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip().lower()
        return "cancelled" if value == "canceled" else value
    return value


class Job(_Reply, Generic[OutputT]):
    """A submitted job: keep ``request_id`` (and ``model_id``) to resume it later.

    ``Job[Output]`` (for a type checker only) carries the model's ``Output``: ``client.wait(job)``
    returns it.
    """

    request_id: str
    model_id: str | None = None
    status_url: str | None = None
    result_url: str | None = None
    cancel_url: str | None = None


class JobStatus(_Reply):
    request_id: str
    status: str
    queue_position: int | None = None
    status_url: str | None = None
    result_url: str | None = None

    _normalise = field_validator("status", mode="before")(_normalise_status)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATES

    @property
    def is_queued(self) -> bool:
        return self.status == QUEUED


class JobResult(_Reply):
    request_id: str
    status: str
    output: dict[str, Any] | None = None
    created_at: str | None = None
    finished_at: str | None = None
    error: Any = None

    _normalise = field_validator("status", mode="before")(_normalise_status)

    @property
    def succeeded(self) -> bool:
        return self.status in DONE_STATES

    @property
    def failed(self) -> bool:
        return self.status in FAILED_STATES

    @property
    def cancelled(self) -> bool:
        return self.status in CANCELLED_STATES


class CancelOutcome(_Reply):
    request_id: str
    status: str | None = None
    outcome: str

    _normalise = field_validator("status", "outcome", mode="before")(_normalise_status)

    @property
    def cancelled(self) -> bool:
        return self.outcome == "cancelled"
