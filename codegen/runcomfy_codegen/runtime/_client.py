"""``Client`` and ``AsyncClient``: the RunComfy queue API, sync and async twins side by side.

Both take a generated ``Input`` instance, or ``(model_id, dict)`` validated through the registry::

    with Client() as client:                      # token from RUNCOMFY_API_TOKEN
        output = client.run(seedance.Input(prompt="...", first_frame_image_url="https://..."))

``run`` = ``submit`` + ``wait``: it polls ``status`` with backoff (1 s, growing to 10 s, honouring
``Retry-After``), reports state changes to ``on_status``, fetches the ``result`` and returns the
model's typed ``Output``. Interrupted (Ctrl-C, task cancelled) while the job is still queued, it
cancels the job; a running job cannot be cancelled and keeps running (and is billed).

A key the schema does not name is sent as is (JSON Schema allows it) with an
``UnknownInputWarning`` naming the closest known key; ``Client(strict_inputs=True)`` refuses such
an input with ``UnknownInputError`` before anything is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from ._base import RunComfyInput, RunComfyOutput, check_unknown_inputs
from ._base_client import DEFAULT_LIMITS, DEFAULT_MAX_RETRIES, BaseClient, Call, Retry
from ._exceptions import Hint, JobCancelledError, JobFailedError, JobTimeoutError, RunComfyError
from ._media import AsyncMediaProber, MediaProber, raise_for_violations
from ._models import CancelOutcome, Job, JobResult, JobStatus
from ._registry import input_class, validate_input
from ._urls import request_path, submit_path

if TYPE_CHECKING:
    import os

    from ._batch import Batch, PreparedRows

InputLike = RunComfyInput | tuple[str, dict[str, Any]]
StatusCallback = Callable[[JobStatus], Any]
T = TypeVar("T")

DEFAULT_RUN_TIMEOUT = 1800.0
POLL_START = 1.0
POLL_FACTOR = 1.5
POLL_CAP = 10.0
MAX_IN_FLIGHT = DEFAULT_LIMITS.max_connections or 100


def as_input(value: InputLike, *, strict: bool = False) -> RunComfyInput:
    """A generated ``Input`` instance from either accepted form.

    Unknown keys of a ``(model_id, dict)`` input are warned about (an ``Input(...)`` call already
    warned when it was built); with ``strict`` they raise ``UnknownInputError`` in either form.
    """
    if isinstance(value, RunComfyInput):
        if strict:
            check_unknown_inputs(value, strict=True)
        return value
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        model = validate_input(value[0], value[1])
        check_unknown_inputs(model, strict=strict, stacklevel=3)
        return model
    raise TypeError("input must be a generated Input instance or a (model_id, dict) tuple")


def _job_call(action: str, job: str | Job) -> Call:
    """The call for ``status``, ``result`` or ``cancel`` of a job (given by handle or request id)."""
    rid = job.request_id if isinstance(job, Job) else job
    return Call("POST" if action == "cancel" else "GET", request_path(rid, action), request_id=rid)


def _submit_call(model: RunComfyInput) -> Call:
    return Call("POST", submit_path(model.runcomfy_model_id), model.to_payload(), is_submit=True)


def _output_class(model_id: str | None) -> type[RunComfyOutput]:
    return input_class(model_id).runcomfy_output if model_id else RunComfyOutput


def _typed_output(result: JobResult, model_id: str | None) -> RunComfyOutput:
    if result.succeeded:
        return _output_class(model_id).model_validate(result.output or {})
    if result.cancelled:
        raise JobCancelledError(
            f"job {result.request_id} was cancelled", request_id=result.request_id, body=result.model_dump()
        )
    error = result.error
    detail = error.get("message", error) if isinstance(error, dict) else error
    raise JobFailedError(
        f"job {result.request_id} failed: {detail or 'no error detail from the server'}",
        request_id=result.request_id,
        body=result.model_dump(),
    )


def _timeout_error(request_id: str, timeout: float, model_id: str | None) -> JobTimeoutError:
    return JobTimeoutError(
        f"job {request_id} did not finish within {timeout:g} s; it keeps running on the server",
        request_id=request_id,
        hints=[Hint.of("resume", request_id=request_id, model_id=model_id)],
    )


class Client(BaseClient):
    """Synchronous RunComfy client. A context manager; pass ``http_client=`` to bring your own."""

    def __init__(
        self,
        *,
        token: str | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.Client | None = None,
        strict_inputs: bool = False,
    ) -> None:
        super().__init__(token=token, base_url=base_url, timeout=timeout, max_retries=max_retries)
        self.strict_inputs = strict_inputs
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(timeout=self.timeout, limits=DEFAULT_LIMITS)
        self._prober = MediaProber(self._http)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def _request(self, call: Call) -> Any:
        attempt = 0
        while True:
            try:
                try:
                    response = self._http.request(
                        call.method,
                        self._url(call.path),
                        json=call.body,
                        headers=self._headers(),
                        auth=self._auth,
                        timeout=self.timeout,
                    )
                except httpx.HTTPError as exc:
                    raise self._on_transport_error(call, exc, attempt) from None
                return self._on_response(call, response, attempt)
            except Retry as retry:
                self._log(call, attempt, f"retry in {retry.delay:.2f} s: {retry.cause.message}")
                time.sleep(retry.delay)
                attempt += 1

    # The four endpoints ---------------------------------------------------------------------------
    def submit(self, input: InputLike, *, check_media: bool = True) -> Job:
        """Submit a job. Media inputs are checked against the schema's custom rules first."""
        model = as_input(input, strict=self.strict_inputs)
        if check_media:
            self.check_media(model)
        body = self._request(_submit_call(model))
        return Job.model_validate({**body, "model_id": model.runcomfy_model_id})

    def status(self, request_id: str | Job) -> JobStatus:
        return JobStatus.model_validate(self._request(_job_call("status", request_id)))

    def result(self, request_id: str | Job) -> JobResult:
        return JobResult.model_validate(self._request(_job_call("result", request_id)))

    def cancel(self, request_id: str | Job) -> CancelOutcome:
        """Cancel a queued job; a running one answers ``outcome == "not_cancellable"``."""
        return CancelOutcome.model_validate(self._request(_job_call("cancel", request_id)))

    # Media ----------------------------------------------------------------------------------------
    def check_media(self, input: InputLike) -> None:
        """Run the schema's custom media rules; raise ``MediaValidationError`` listing every violation."""
        raise_for_violations(self._prober.check(as_input(input)))

    # Waiting --------------------------------------------------------------------------------------
    def wait(
        self,
        job: Job | str,
        *,
        model_id: str | None = None,
        timeout: float = DEFAULT_RUN_TIMEOUT,
        poll_interval: float = POLL_START,
        max_poll_interval: float = POLL_CAP,
        on_status: StatusCallback | None = None,
        cancel_on_interrupt: bool = True,
    ) -> RunComfyOutput:
        """Poll until the job is final, then return its typed ``Output`` (resumable from a request id).

        Interrupted while the job is queued (or before its first status), it cancels the job unless
        ``cancel_on_interrupt=False``; the interrupt is raised again either way.
        """
        rid = job.request_id if isinstance(job, Job) else job
        model_id = model_id or (job.model_id if isinstance(job, Job) else None)
        deadline = time.monotonic() + timeout
        delay = poll_interval
        last: JobStatus | None = None
        try:
            while True:
                status = self.status(rid)
                if on_status is not None and (last is None or status != last):
                    on_status(status)
                last = status
                if status.is_final:
                    result = self.result(rid)
                    if result.status in ("in_queue", "in_progress") and time.monotonic() + delay < deadline:
                        time.sleep(delay)  # the result lags the status: ask again
                        continue
                    return _typed_output(result, model_id)
                if time.monotonic() + delay > deadline:
                    raise _timeout_error(rid, timeout, model_id)
                time.sleep(delay)
                delay = min(delay * POLL_FACTOR, max_poll_interval)
        except KeyboardInterrupt:
            if cancel_on_interrupt and (last is None or last.is_queued):
                with contextlib.suppress(RunComfyError):
                    self.cancel(rid)
            raise

    def run(
        self,
        input: InputLike,
        *,
        timeout: float = DEFAULT_RUN_TIMEOUT,
        poll_interval: float = POLL_START,
        max_poll_interval: float = POLL_CAP,
        on_status: StatusCallback | None = None,
        check_media: bool = True,
    ) -> RunComfyOutput:
        """Submit, wait and return the typed ``Output``. ``timeout`` bounds the whole run."""
        model = as_input(input, strict=self.strict_inputs)
        job = self.submit(model, check_media=check_media)
        return self.wait(
            job,
            model_id=model.runcomfy_model_id,
            timeout=timeout,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
            on_status=on_status,
        )


class AsyncClient(BaseClient):
    """Asynchronous twin of :class:`Client`; many jobs run at once on one event loop (``run_many``)."""

    def __init__(
        self,
        *,
        token: str | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.AsyncClient | None = None,
        strict_inputs: bool = False,
    ) -> None:
        super().__init__(token=token, base_url=base_url, timeout=timeout, max_retries=max_retries)
        self.strict_inputs = strict_inputs
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=self.timeout, limits=DEFAULT_LIMITS)
        self._prober = AsyncMediaProber(self._http)
        # At most as many requests in flight as the pool has connections: httpcore's pool does work
        # proportional to the requests waiting in it on every hand-off, so with thousands of jobs
        # queueing there the event loop spends its time scheduling rather than sending.
        self._in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def _request(self, call: Call) -> Any:
        attempt = 0
        while True:
            try:
                try:
                    async with self._in_flight:
                        response = await self._http.request(
                            call.method,
                            self._url(call.path),
                            json=call.body,
                            headers=self._headers(),
                            auth=self._auth,
                            timeout=self.timeout,
                        )
                except httpx.HTTPError as exc:
                    raise self._on_transport_error(call, exc, attempt) from None
                return self._on_response(call, response, attempt)
            except Retry as retry:
                self._log(call, attempt, f"retry in {retry.delay:.2f} s: {retry.cause.message}")
                await asyncio.sleep(retry.delay)
                attempt += 1

    async def submit(self, input: InputLike, *, check_media: bool = True) -> Job:
        model = as_input(input, strict=self.strict_inputs)
        if check_media:
            await self.check_media(model)
        body = await self._request(_submit_call(model))
        return Job.model_validate({**body, "model_id": model.runcomfy_model_id})

    async def status(self, request_id: str | Job) -> JobStatus:
        return JobStatus.model_validate(await self._request(_job_call("status", request_id)))

    async def result(self, request_id: str | Job) -> JobResult:
        return JobResult.model_validate(await self._request(_job_call("result", request_id)))

    async def cancel(self, request_id: str | Job) -> CancelOutcome:
        return CancelOutcome.model_validate(await self._request(_job_call("cancel", request_id)))

    async def check_media(self, input: InputLike) -> None:
        raise_for_violations(await self._prober.check(as_input(input)))

    async def wait(
        self,
        job: Job | str,
        *,
        model_id: str | None = None,
        timeout: float = DEFAULT_RUN_TIMEOUT,
        poll_interval: float = POLL_START,
        max_poll_interval: float = POLL_CAP,
        on_status: StatusCallback | None = None,
        cancel_on_interrupt: bool = True,
    ) -> RunComfyOutput:
        rid = job.request_id if isinstance(job, Job) else job
        model_id = model_id or (job.model_id if isinstance(job, Job) else None)
        deadline = time.monotonic() + timeout
        delay = poll_interval
        last: JobStatus | None = None
        try:
            while True:
                status = await self.status(rid)
                if on_status is not None and (last is None or status != last):
                    outcome = on_status(status)
                    if isinstance(outcome, Awaitable):
                        await outcome
                last = status
                if status.is_final:
                    result = await self.result(rid)
                    if result.status in ("in_queue", "in_progress") and time.monotonic() + delay < deadline:
                        await asyncio.sleep(delay)
                        continue
                    return _typed_output(result, model_id)
                if time.monotonic() + delay > deadline:
                    raise _timeout_error(rid, timeout, model_id)
                await asyncio.sleep(delay)
                delay = min(delay * POLL_FACTOR, max_poll_interval)
        except (KeyboardInterrupt, asyncio.CancelledError):
            if cancel_on_interrupt and (last is None or last.is_queued):
                with contextlib.suppress(RunComfyError, asyncio.CancelledError):
                    await asyncio.shield(self.cancel(rid))
            raise

    async def run(
        self,
        input: InputLike,
        *,
        timeout: float = DEFAULT_RUN_TIMEOUT,
        poll_interval: float = POLL_START,
        max_poll_interval: float = POLL_CAP,
        on_status: StatusCallback | None = None,
        check_media: bool = True,
    ) -> RunComfyOutput:
        model = as_input(input, strict=self.strict_inputs)
        job = await self.submit(model, check_media=check_media)
        return await self.wait(
            job,
            model_id=model.runcomfy_model_id,
            timeout=timeout,
            poll_interval=poll_interval,
            max_poll_interval=max_poll_interval,
            on_status=on_status,
        )

    async def run_many(
        self,
        inputs: Iterable[InputLike],
        *,
        concurrency: int = 16,
        return_exceptions: bool = False,
        **run_options: Any,
    ) -> Sequence[RunComfyOutput | BaseException]:
        """Run many jobs at once on this event loop, at most ``concurrency`` in flight; results in order."""
        semaphore = asyncio.Semaphore(concurrency)

        async def one(item: InputLike) -> RunComfyOutput:
            async with semaphore:
                return await self.run(item, **run_options)

        tasks = [one(item) for item in inputs]
        return await asyncio.gather(*tasks, return_exceptions=return_exceptions)

    def run_batch(
        self, rows: Iterable[Any] | PreparedRows, *, journal: str | os.PathLike[str], **options: Any
    ) -> Batch:
        """A durable batch: iterate it (``async for result in ...``) to run it; see ``_batch.Batch``.

        Rows are ``{"id", "model_id", "input"}`` mappings, ``BatchRow``s, generated ``Input``s or
        ``(model_id, dict)``. The SQLite ``journal`` makes it resumable after a crash and never submits
        a row twice; options: ``concurrency``, ``resubmit_uncertain``, ``max_cost``, ``output_dir``,
        ``check_media``, ``poll_interval``, ``max_poll_interval``, ``unreachable_after``.
        """
        from ._batch import Batch

        return Batch(self, rows, journal=journal, **options)
