"""The fault matrix: every fault the mock server injects, on every endpoint it matters for, against the
real client over real sockets. Each row states how the client must behave, and every job is
accounted for: finished, failed with its error, or reported as possibly submitted; never sent twice.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import pytest

import runcomfy_models
from runcomfy_codegen.mock import Fault, MockServer
from runcomfy_models import (
    InsufficientBalanceError,
    JobCancelledError,
    JobFailedError,
    RateLimitError,
    SubmitUncertainError,
)
from tests.conftest import SEED_ID

RUN = {"poll_interval": 0.02, "max_poll_interval": 0.05, "timeout": 20.0, "check_media": False}
SUBMIT, STATUS, RESULT = "/v1/models/", "/status", "/result"

# (fault, where, times, expected outcome, does the server hold a job afterwards?)
MATRIX: list[tuple[str, str, int, Any, bool]] = [
    ("429", STATUS, 2, "completed", True),
    ("500", STATUS, 2, "completed", True),
    ("502", RESULT, 2, "completed", True),
    ("503", RESULT, 1, "completed", True),
    ("delay", STATUS, 1, "completed", True),
    ("drop", STATUS, 2, "completed", True),
    ("drop", RESULT, 1, "completed", True),
    ("malformed", STATUS, 1, "completed", True),
    ("malformed", RESULT, 2, "completed", True),
    ("error-200", STATUS, 1, InsufficientBalanceError, True),
    ("429", SUBMIT, 1, RateLimitError, False),
    ("500", SUBMIT, 1, SubmitUncertainError, False),
    ("502", SUBMIT, 1, SubmitUncertainError, False),
    ("503", SUBMIT, 1, SubmitUncertainError, False),
    ("delay", SUBMIT, 1, SubmitUncertainError, True),
    ("drop", SUBMIT, 1, SubmitUncertainError, False),
    ("malformed", SUBMIT, 1, SubmitUncertainError, False),
    ("error-200", SUBMIT, 1, InsufficientBalanceError, False),
    ("job-failed", SUBMIT, 1, JobFailedError, True),
]

LEDGER: list[tuple[str, str, str, int, int]] = []
"""(fault, where, outcome, submits the server saw, jobs it holds): printed in the session summary."""


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("runcomfy_models._base_client.RETRY_BASE_DELAY", 0.01)


@pytest.fixture
def server() -> Iterator[MockServer]:
    with MockServer(queue_seconds=0.05, run_seconds=0.05) as mock:
        yield mock


@pytest.mark.parametrize(
    ("fault", "where", "times", "expected", "job_exists"), MATRIX, ids=[f"{f}@{w}" for f, w, *_ in MATRIX]
)
def test_fault(
    server: MockServer, fault: str, where: str, times: int, expected: Any, job_exists: bool
) -> None:
    seed = runcomfy_models.get(SEED_ID)
    server.inject(Fault(fault, times=times, path=where, seconds=0.6, retry_after="0"))
    with runcomfy_models.Client(
        base_url=server.base_url, token=server.token, timeout=0.3, max_retries=3
    ) as client:
        request = seed.Input(prompt="a cat", first_frame_image_url="https://example.invalid/cat.png")
        if expected == "completed":
            output = client.run(request, **RUN)
            assert isinstance(output, seed.Output) and output.video
            outcome = "completed"
        else:
            with pytest.raises(expected) as info:
                client.run(request, **RUN)
            outcome = type(info.value).__name__
            if isinstance(info.value, SubmitUncertainError):
                assert "may exist" in str(info.value)
            if isinstance(info.value, JobFailedError):
                assert info.value.error == {"message": "job failed (injected by the mock server)"}
    if fault == "delay" and where == SUBMIT:
        deadline = time.monotonic() + 3  # the late reply still creates the job; wait for the server
        while not len(server.jobs) and time.monotonic() < deadline:
            time.sleep(0.02)
    submits = server.count("POST", SUBMIT)
    LEDGER.append((fault, where, outcome, submits, len(server.jobs)))
    assert submits == 1, "a submit was sent twice"
    assert len(server.jobs) == (1 if job_exists else 0)


def test_cancel_races_are_consistent() -> None:
    """Cancel around the queued -> running edge: either it was cancelled, or it runs to the end."""
    rng = random.Random(7)
    outcomes = {"cancelled": 0, "not_cancellable": 0}
    with (
        MockServer(queue_seconds=0.1, run_seconds=0.05) as server,
        runcomfy_models.Client(base_url=server.base_url, token=server.token) as client,
    ):
        seed = runcomfy_models.get(SEED_ID)
        for _ in range(20):
            job = client.submit(
                seed.Input(prompt="p", first_frame_image_url="https://example.invalid/x.png"),
                check_media=False,
            )
            time.sleep(rng.uniform(0.07, 0.13))
            outcome = client.cancel(job)
            outcomes[outcome.outcome] += 1
            if outcome.cancelled:
                assert client.status(job).status == "cancelled"
                with pytest.raises(JobCancelledError):
                    client.wait(job, poll_interval=0.02)
            else:
                assert client.wait(job, poll_interval=0.02) is not None
        assert server.count("POST", SUBMIT) == 20
    assert outcomes["cancelled"] and outcomes["not_cancellable"], outcomes


def test_200_concurrent_async_jobs_complete() -> None:
    import asyncio

    async def main(server: MockServer) -> list[Any]:
        seed = runcomfy_models.get(SEED_ID)
        async with runcomfy_models.AsyncClient(base_url=server.base_url, token=server.token) as client:
            inputs = [
                seed.Input(prompt=f"job {i}", first_frame_image_url="https://example.invalid/x.png")
                for i in range(200)
            ]
            return list(await client.run_many(inputs, concurrency=200, **RUN))

    with MockServer(queue_seconds=0.2, run_seconds=0.2) as server:
        outputs = asyncio.run(main(server))
        assert len(outputs) == 200 and all(o.videos for o in outputs)
        assert server.count("POST", SUBMIT) == 200 == len(server.jobs)
