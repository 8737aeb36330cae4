"""Client and AsyncClient against the embedded mock server: the queue API, retries, errors, secrets."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import traceback
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import runcomfy_models
from runcomfy_codegen.mock import Fault, MockServer
from runcomfy_models import (
    APIConnectionError,
    APITimeoutError,
    AsyncClient,
    AuthenticationError,
    Client,
    InsufficientBalanceError,
    JobCancelledError,
    JobFailedError,
    NotFoundError,
    RateLimitError,
    SubmitUncertainError,
)
from runcomfy_models._base_client import backoff_delay, parse_retry_after
from tests.conftest import SEED_ID

FAST = {"poll_interval": 0.02, "max_poll_interval": 0.05, "timeout": 20.0}


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("runcomfy_models._base_client.RETRY_BASE_DELAY", 0.01)


@pytest.fixture
def server() -> Iterator[MockServer]:
    with MockServer(queue_seconds=0.15, run_seconds=0.15) as mock:
        yield mock


@pytest.fixture
def client(server: MockServer) -> Iterator[Client]:
    with Client(base_url=server.base_url, token=server.token, timeout=5.0) as c:
        yield c


def seed_input(server: MockServer, **extra: Any) -> Any:
    seed = runcomfy_models.get(SEED_ID)
    return seed.Input(prompt="a cat", first_frame_image_url=f"{server.base_url}/media/in.png", **extra)


def test_run_returns_the_typed_output(server: MockServer, client: Client) -> None:
    seen: list[str] = []
    output = client.run(seed_input(server), on_status=lambda s: seen.append(s.status), **FAST)
    seed = runcomfy_models.get(SEED_ID)
    assert isinstance(output, seed.Output)
    assert output.video is not None and output.video.startswith(server.base_url)
    assert seen[0] == "in_queue" and seen[-1] == "completed"
    assert "in_progress" in seen


def test_submit_status_result_cancel_by_hand(server: MockServer, client: Client) -> None:
    job = client.submit(seed_input(server))
    assert job.model_id == SEED_ID and job.status_url and job.result_url and job.cancel_url
    status = client.status(job)
    assert status.status == "in_queue" and status.queue_position == 0
    assert client.result(job).status == "in_queue"  # asked early: the current status
    outcome = client.cancel(job)
    assert outcome.cancelled and outcome.status == "cancelled"
    with pytest.raises(JobCancelledError):
        client.wait(job, **FAST)


def test_a_running_job_is_not_cancellable(server: MockServer, client: Client) -> None:
    job = client.submit(seed_input(server))
    while client.status(job).status == "in_queue":
        pass
    assert client.cancel(job).outcome == "not_cancellable"
    assert client.wait(job, **FAST) is not None  # runs on


def test_queue_positions_count_the_jobs_ahead() -> None:
    with (
        MockServer(queue_seconds=5.0) as server,
        Client(base_url=server.base_url, token=server.token) as client,
    ):
        jobs = [client.submit(seed_input(server), check_media=False) for _ in range(3)]
        assert [client.status(j).queue_position for j in jobs] == [0, 1, 2]
        client.cancel(jobs[0])
        assert [client.status(j).queue_position for j in jobs[1:]] == [0, 1]


def test_model_id_and_dict_input(server: MockServer, client: Client) -> None:
    payload = {"prompt": "a cat", "first_frame_image_url": f"{server.base_url}/media/in.png"}
    output = client.run((SEED_ID, payload), **FAST)
    assert output.images


def test_a_job_resumes_from_its_request_id(server: MockServer, client: Client) -> None:
    request_id = client.submit(seed_input(server)).request_id
    with Client(base_url=server.base_url, token=server.token) as other:
        output = other.wait(request_id, model_id=SEED_ID, **FAST)
    assert isinstance(output, runcomfy_models.get(SEED_ID).Output)


def test_status_is_retried_on_5xx_and_429(server: MockServer, client: Client) -> None:
    job = client.submit(seed_input(server))
    server.inject(Fault("503", times=2, path="/status"))
    server.inject(Fault("429", times=1, path="/status", retry_after="0"))
    assert client.status(job).request_id == job.request_id
    assert server.count("GET", "/status") == 4


def test_status_gives_up_after_max_retries(server: MockServer) -> None:
    with Client(base_url=server.base_url, token=server.token, max_retries=1) as client:
        job = client.submit(seed_input(server))
        server.inject(Fault("500", times=5, path="/status"))
        with pytest.raises(runcomfy_models.ServerError) as info:
            client.status(job)
    assert info.value.status_code == 500
    assert server.count("GET", "/status") == 2


def test_rate_limit_error_carries_retry_after(server: MockServer) -> None:
    with Client(base_url=server.base_url, token=server.token, max_retries=0) as client:
        server.inject(Fault("429", path="/status", retry_after="7"))
        with pytest.raises(RateLimitError) as info:
            client.status("00000000-0000-0000-0000-000000000001")
    assert info.value.retry_after == 7.0


@pytest.mark.parametrize("kind", ["503", "drop", "malformed"])
def test_an_ambiguous_submit_is_never_resent(server: MockServer, client: Client, kind: str) -> None:
    server.inject(Fault(kind, path="/v1/models/"))
    with pytest.raises(SubmitUncertainError, match="may exist"):
        client.submit(seed_input(server), check_media=False)
    assert server.count("POST", "/v1/models/") == 1
    assert len(server.jobs) == 0


def test_a_submit_read_timeout_is_uncertain_and_not_resent(server: MockServer) -> None:
    server.inject(Fault("delay", path="/v1/models/", seconds=1.0))
    with (
        Client(base_url=server.base_url, token=server.token, timeout=0.3) as client,
        pytest.raises(SubmitUncertainError),
    ):
        client.submit(seed_input(server), check_media=False)
    for _ in range(100):  # the server answers late; wait for it (bounded: 2 s)
        if len(server.jobs):
            break
        time.sleep(0.02)
    assert len(server.jobs) == 1  # the job exists: the reply was just late
    assert server.count("POST", "/v1/models/") == 1


def test_a_submit_that_never_connected_is_retried_then_reported() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once we leave: nothing listens there
    attempts: list[httpx.Request] = []
    http = httpx.Client(event_hooks={"request": [attempts.append]})
    with (
        Client(base_url=f"http://127.0.0.1:{port}", token="t", max_retries=2, http_client=http) as client,
        pytest.raises(APIConnectionError) as info,
    ):
        client.submit((SEED_ID, {"prompt": "x", "first_frame_image_url": "u"}), check_media=False)
    assert not isinstance(info.value, SubmitUncertainError)
    assert len(attempts) == 3
    http.close()


def test_status_read_timeout_is_retried(server: MockServer) -> None:
    with Client(base_url=server.base_url, token=server.token, timeout=0.3) as client:
        job = client.submit(seed_input(server), check_media=False)
        server.inject(Fault("delay", path="/status", seconds=0.6))
        assert client.status(job).request_id == job.request_id


def test_status_read_timeout_exhausted_is_a_timeout_error(server: MockServer) -> None:
    with Client(base_url=server.base_url, token=server.token, timeout=0.2, max_retries=1) as client:
        server.inject(Fault("delay", times=2, path="/status", seconds=0.5))
        with pytest.raises(APITimeoutError):
            client.status("00000000-0000-0000-0000-000000000001")


def test_a_200_with_an_error_code_is_an_error(server: MockServer, client: Client) -> None:
    server.inject(Fault("error-200", path="/v1/models/"))
    with pytest.raises(InsufficientBalanceError) as info:
        client.submit(seed_input(server), check_media=False)
    assert info.value.error_code == 400002
    assert info.value.status_code == 200


def test_a_failed_job_raises_with_the_servers_error(server: MockServer, client: Client) -> None:
    server.inject(Fault("job-failed", path="/v1/models/"))
    with pytest.raises(JobFailedError) as info:
        client.run(seed_input(server), **FAST)
    assert "injected" in str(info.value)
    assert info.value.request_id is not None
    assert info.value.error == {"message": "job failed (injected by the mock server)"}


def test_unknown_request_id_and_bad_token(server: MockServer, client: Client) -> None:
    with pytest.raises(NotFoundError) as info:
        client.status("no-such-request")
    assert info.value.error_code == 404001
    with Client(base_url=server.base_url, token="wrong") as bad, pytest.raises(AuthenticationError):
        bad.status("x")


def test_mock_validates_bodies_and_model_ids(server: MockServer) -> None:
    headers = {"Authorization": f"Bearer {server.token}"}
    with httpx.Client(base_url=server.base_url, headers=headers) as http:
        reply = http.post(
            f"/v1/models/{SEED_ID}", json={"prompt": "x", "first_frame_image_url": "u", "duration": 3}
        )
        assert reply.status_code == 422
        assert reply.json()["detail"][0]["loc"] == ["duration"]
        reply = http.post("/v1/models/acme/none", json={})
        assert reply.status_code == 404 and reply.json()["error_code"] == 404001
        reply = http.post("/v1/models/minimax/Hailuo%20Video%2001%20Live", json={})
        assert reply.json()["error_code"] == 404001


def test_overall_deadline(server: MockServer, client: Client) -> None:
    job = client.submit(seed_input(server))
    with pytest.raises(APITimeoutError, match="keeps running") as info:
        client.wait(job, timeout=0.05, poll_interval=0.02)
    assert info.value.request_id == job.request_id


def test_interrupt_while_queued_cancels_the_job(server: MockServer, client: Client) -> None:
    def interrupt(status: Any) -> None:
        raise KeyboardInterrupt

    job = client.submit(seed_input(server))
    with pytest.raises(KeyboardInterrupt):
        client.wait(job, on_status=interrupt, **FAST)
    assert client.status(job).status == "cancelled"


def test_user_supplied_http_client_and_user_agent(server: MockServer) -> None:
    sent: list[httpx.Request] = []
    http = httpx.Client(event_hooks={"request": [sent.append]})
    with Client(base_url=server.base_url, token=server.token, http_client=http) as client:
        client.run(seed_input(server), **FAST)
    assert not http.is_closed  # not ours to close
    api = [r for r in sent if "/v1/" in r.url.path]
    assert all(r.headers["User-Agent"].startswith("runcomfy-models/0.1.0") for r in api)
    assert all(r.headers["Authorization"] == f"Bearer {server.token}" for r in api)
    media = [r for r in sent if "/media/" in r.url.path]
    assert media and all(
        "Authorization" not in r.headers for r in media
    )  # the token never goes to media hosts
    http.close()


def test_retry_after_parsing_and_backoff() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert parse_retry_after("garbage") is None
    assert backoff_delay(3, retry_after=2.5) == 2.5
    assert all(0 <= backoff_delay(n) <= 8.0 for n in range(10))


def test_token_never_leaks(server: MockServer, caplog: pytest.LogCaptureFixture) -> None:
    secret = "sk-very-secret-token-1234"
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    with Client(base_url=server.base_url, token=secret, max_retries=1) as client:
        texts += [repr(client), str(client), repr(client._auth), repr(client._http)]
        for fault in ("500", "drop", "malformed"):
            server.inject(Fault(fault, times=3, path="/status"))
            try:
                client.status("x")
            except runcomfy_models.RunComfyError as exc:
                texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
        try:
            client.status("no-such")
        except runcomfy_models.RunComfyError as exc:
            texts += [str(exc), repr(exc), repr(exc.body), "".join(traceback.format_exception(exc))]
    with Client(base_url=server.base_url, token=secret) as client:
        assert client.status  # authenticated calls below go through; the mock refuses the token
        try:
            client.submit(seed_input(server), check_media=False)
        except runcomfy_models.RunComfyError as exc:
            texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    texts += [record.getMessage() for record in caplog.records]
    texts += [caplog.text]
    assert texts
    assert not [t for t in texts if secret in t]


def test_async_client_runs_many_jobs_on_one_loop(server: MockServer) -> None:
    async def main() -> list[Any]:
        async with AsyncClient(base_url=server.base_url, token=server.token) as client:
            inputs = [seed_input(server) for _ in range(40)]
            return list(await client.run_many(inputs, concurrency=10, **FAST))

    outputs = asyncio.run(main())
    assert len(outputs) == 40
    assert all(isinstance(o, runcomfy_models.get(SEED_ID).Output) for o in outputs)
    assert server.count("POST", "/v1/models/") == 40


def test_async_task_cancellation_cancels_a_queued_job(server: MockServer) -> None:
    async def main() -> str:
        async with AsyncClient(base_url=server.base_url, token=server.token) as client:
            job = await client.submit(seed_input(server))
            task = asyncio.create_task(client.wait(job, poll_interval=0.02))
            await asyncio.sleep(0.03)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return (await client.status(job)).status

    with MockServer(queue_seconds=5.0, run_seconds=0.1) as slow:
        server = slow
        assert asyncio.run(main()) == "cancelled"


def test_async_errors_match_sync(server: MockServer) -> None:
    async def main() -> None:
        async with AsyncClient(base_url=server.base_url, token=server.token) as client:
            server.inject(Fault("503", path="/v1/models/"))
            with pytest.raises(SubmitUncertainError):
                await client.submit(seed_input(server), check_media=False)
            server.inject(Fault("job-failed", path="/v1/models/"))
            with pytest.raises(JobFailedError):
                await client.run(seed_input(server), **FAST)

    asyncio.run(main())
