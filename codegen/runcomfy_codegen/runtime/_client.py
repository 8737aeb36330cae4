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
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

import httpx
import pydantic

from ._base import OutputT, RunComfyInput, RunComfyOutput, UntypedOutput, check_unknown_inputs
from ._base_client import (
    DEFAULT_LIMITS,
    DEFAULT_MAX_RETRIES,
    BaseClient,
    BodyLimitError,
    Call,
    DeadlineExceeded,
    Retry,
)
from ._exceptions import (
    APIResponseValidationError,
    APITimeoutError,
    Hint,
    JobCancelledError,
    JobFailedError,
    JobTimeoutError,
    MediaProbeError,
    RunComfyError,
)
from ._files import MAX_FILE_BYTES, MAX_REQUEST_BYTES, has_local_files, with_local_files
from ._media import AsyncMediaProber, MediaProber, raise_for_violations
from ._models import CancelOutcome, Job, JobResult, JobStatus
from ._registry import input_class, untyped_input, validate_input
from ._urls import request_path, submit_path

if TYPE_CHECKING:
    import os

    from ._batch import Batch, PreparedRows

AnyInput = RunComfyInput[Any]
ById = tuple[str, Mapping[str, Any]]
"""``(model_id, dict)``: validated by the catalog's ``Input``, or sent untyped for another model id."""
InputLike = AnyInput | ById
StatusCallback = Callable[[JobStatus], Any]
T = TypeVar("T")
M = TypeVar("M", JobStatus, JobResult, CancelOutcome)

DEFAULT_RUN_TIMEOUT = 1800.0
POLL_START = 1.0
POLL_FACTOR = 1.5
POLL_CAP = 10.0
MAX_IN_FLIGHT = DEFAULT_LIMITS.max_connections or 100


def as_input(value: InputLike, *, strict: bool = False) -> AnyInput:
    """A generated ``Input`` instance from either accepted form.

    Unknown keys of a ``(model_id, dict)`` input are warned about (an ``Input(...)`` call already
    warned when it was built); with ``strict`` they raise ``UnknownInputError`` in either form.
    A model id outside the catalog gives an untyped input (see ``_registry.untyped_input``).
    """
    if isinstance(value, RunComfyInput):
        if strict and not value.runcomfy_untyped:
            check_unknown_inputs(value, strict=True)
        return value
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        try:
            model = validate_input(value[0], value[1])
        except KeyError:
            return untyped_input(value[0], value[1], stacklevel=4)
        check_unknown_inputs(model, strict=strict, stacklevel=3)
        return model
    raise TypeError("input must be a generated Input instance or a (model_id, dict) tuple")


def _job_call(action: str, job: str | Job[Any]) -> Call:
    """The call for ``status``, ``result`` or ``cancel`` of a job (given by handle or request id)."""
    rid = job.request_id if isinstance(job, Job) else job
    return Call("POST" if action == "cancel" else "GET", request_path(rid, action), request_id=rid)


def _submit_call(model: AnyInput) -> Call:
    return Call("POST", submit_path(model.runcomfy_model_id), model.to_payload(), is_submit=True)


def _output_class(model_id: str | None) -> type[RunComfyOutput]:
    if not model_id:
        return RunComfyOutput
    try:
        return input_class(model_id).runcomfy_output
    except KeyError:  # a model id outside the catalog: its output, untyped
        return UntypedOutput


def _typed_output(result: JobResult, model_id: str | None) -> RunComfyOutput:
    if result.succeeded:
        output_class = _output_class(model_id)
        try:
            return output_class.model_validate(result.output or {})
        except pydantic.ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            loc = ".".join(str(p) for p in first["loc"]) or "(output)"
            raise APIResponseValidationError(
                f"job {result.request_id}: the output does not match the model's Output "
                f"({exc.error_count()} error(s); first: {loc}: {first['msg']})",
                request_id=result.request_id,
                body=result.model_dump(),
            ) from None
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


class _Files:
    max_file_bytes: int
    max_request_bytes: int

    def _with_files(self, model: AnyInput) -> AnyInput:
        """``model`` with its local files read into ``data:`` URIs (see ``_files``)."""
        return with_local_files(
            model, max_file_bytes=self.max_file_bytes, max_request_bytes=self.max_request_bytes
        )


def _raise_if_past(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() >= deadline:
        raise APITimeoutError(
            "run: the deadline passed while the media inputs were being checked; nothing was submitted"
        ) from None


class Client(_Files, BaseClient):
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
        max_file_bytes: int = MAX_FILE_BYTES,
        max_request_bytes: int = MAX_REQUEST_BYTES,
    ) -> None:
        super().__init__(token=token, base_url=base_url, timeout=timeout, max_retries=max_retries)
        self.strict_inputs = strict_inputs
        self.max_file_bytes = max_file_bytes
        """Largest local file a media input may send as a ``data:`` URI (6 MiB by default)."""
        self.max_request_bytes = max_request_bytes
        """Largest request body with local files in it (64 MiB by default)."""
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

    def _request(self, call: Call, deadline: float | None = None) -> Any:
        """Send ``call`` (retrying as :class:`BaseClient` decides) and return the reply's JSON object.

        The body is read raw and capped; ``deadline`` (``time.monotonic()``) bounds every attempt,
        every read and every backoff."""
        attempt = 0
        while True:
            try:
                if deadline is not None and time.monotonic() >= deadline:
                    raise self._deadline_error(call)
                try:
                    with self._http.stream(
                        call.method,
                        self._url(call.path),
                        json=call.body,
                        headers=self._headers(),
                        auth=self._auth,
                        timeout=self._attempt_timeout(deadline),
                        follow_redirects=False,  # only a 2xx is an answer, whatever http_client says
                    ) as response:
                        try:
                            body = self._new_body(call, response, deadline)
                            for chunk in response.iter_raw():
                                body.feed(chunk)
                        except BodyLimitError as exc:
                            raise self._on_body_error(call, response, exc, attempt) from None
                except httpx.HTTPError as exc:
                    raise self._on_transport_error(call, exc, attempt) from None
                return self._on_response(call, response, bytes(body.data), attempt)
            except Retry as retry:
                delay = self._sleep_for(call, retry, deadline)
                self._log(call, attempt, f"retry in {delay:.2f} s: {retry.cause.message}")
                time.sleep(delay)
                attempt += 1

    # The four endpoints ---------------------------------------------------------------------------
    @overload
    def submit(self, input: RunComfyInput[OutputT], *, check_media: bool = True) -> Job[OutputT]: ...
    @overload
    def submit(self, input: ById, *, check_media: bool = True) -> Job[RunComfyOutput]: ...
    def submit(self, input: InputLike, *, check_media: bool = True) -> Job[Any]:
        """Submit a job. Media inputs are checked against the schema's custom rules first (local
        files too, then sent as ``data:`` URIs); the handle carries the model's ``Output`` type."""
        return self._submit(as_input(input, strict=self.strict_inputs), check_media, None)

    def _submit(self, model: AnyInput, check_media: bool, deadline: float | None) -> Job[Any]:
        model = self._with_files(model)
        if check_media:
            self._check_media(model, deadline)
        call = _submit_call(model)
        body = self._request(call, deadline)
        return self._parse(call, Job, {**body, "model_id": model.runcomfy_model_id})

    def _call(self, action: str, job: str | Job[Any], model: type[M], deadline: float | None = None) -> M:
        call = _job_call(action, job)
        return self._parse(call, model, self._request(call, deadline))

    def status(self, request_id: str | Job[Any]) -> JobStatus:
        return self._call("status", request_id, JobStatus)

    def result(self, request_id: str | Job[Any]) -> JobResult:
        return self._call("result", request_id, JobResult)

    def cancel(self, request_id: str | Job[Any]) -> CancelOutcome:
        """Cancel a queued job; a running one answers ``outcome == "not_cancellable"``."""
        return self._call("cancel", request_id, CancelOutcome)

    # Media ----------------------------------------------------------------------------------------
    def check_media(self, input: InputLike) -> None:
        """Run the schema's custom media rules; raise ``MediaValidationError`` listing every violation."""
        raise_for_violations(self._prober.check(self._with_files(as_input(input))))

    def _check_media(self, model: AnyInput, deadline: float | None) -> None:
        """:meth:`check_media` within ``deadline`` (``time.monotonic()``): past it, ``APITimeoutError``
        ("nothing was submitted"). The CLI's ``run --timeout`` uses it so one deadline covers all."""
        try:
            raise_for_violations(self._prober.check(self._with_files(model), deadline))
        except MediaProbeError:
            _raise_if_past(deadline)
            raise

    # Waiting --------------------------------------------------------------------------------------
    @overload
    def wait(
        self,
        job: Job[OutputT],
        *,
        model_id: str | None = None,
        timeout: float = DEFAULT_RUN_TIMEOUT,
        poll_interval: float = POLL_START,
        max_poll_interval: float = POLL_CAP,
        on_status: StatusCallback | None = None,
        cancel_on_interrupt: bool = True,
    ) -> OutputT: ...
    @overload
    def wait(
        self,
        job: str,
        *,
        model_id: str | None = None,
        timeout: float = DEFAULT_RUN_TIMEOUT,
        poll_interval: float = POLL_START,
        max_poll_interval: float = POLL_CAP,
        on_status: StatusCallback | None = None,
        cancel_on_interrupt: bool = True,
    ) -> RunComfyOutput: ...
    def wait(
        self,
        job: Job[Any] | str,
        *,
        model_id: str | None = None,
        timeout: float = DEFAULT_RUN_TIMEOUT,
        poll_interval: float = POLL_START,
        max_poll_interval: float = POLL_CAP,
        on_status: StatusCallback | None = None,
        cancel_on_interrupt: bool = True,
    ) -> Any:
        """Poll until the job is final, then return its typed ``Output`` (resumable from a request id).

        ``timeout`` is one deadline for the whole call: every poll, read, retry and backoff.
        Interrupted while the job is queued (or before its first status), it cancels the job unless
        ``cancel_on_interrupt=False``; the interrupt is raised again either way.
        """
        deadline = time.monotonic() + timeout
        return self._wait(
            job, model_id, timeout, deadline, poll_interval, max_poll_interval, on_status, cancel_on_interrupt
        )

    def _wait(
        self,
        job: Job[Any] | str,
        model_id: str | None,
        timeout: float,
        deadline: float,
        poll_interval: float,
        max_poll_interval: float,
        on_status: StatusCallback | None,
        cancel_on_interrupt: bool = True,
    ) -> RunComfyOutput:
        rid = job.request_id if isinstance(job, Job) else job
        model_id = model_id or (job.model_id if isinstance(job, Job) else None)
        delay = poll_interval
        last: JobStatus | None = None
        try:
            while True:
                status = self._call("status", rid, JobStatus, deadline)
                if on_status is not None and (last is None or status != last):
                    on_status(status)
                last = status
                if status.is_final:
                    result = self._call("result", rid, JobResult, deadline)
                    if result.status in ("in_queue", "in_progress") and time.monotonic() + delay < deadline:
                        time.sleep(delay)  # the result lags the status: ask again
                        continue
                    return _typed_output(result, model_id)
                if time.monotonic() + delay > deadline:
                    raise _timeout_error(rid, timeout, model_id)
                time.sleep(delay)
                delay = min(delay * POLL_FACTOR, max_poll_interval)
        except DeadlineExceeded:
            raise _timeout_error(rid, timeout, model_id) from None
        except KeyboardInterrupt:
            if cancel_on_interrupt and (last is None or last.is_queued):
                with contextlib.suppress(RunComfyError):
                    self.cancel(rid)
            raise

    @overload
    def run(
        self,
        input: RunComfyInput[OutputT],
        *,
        timeout: float = DEFAULT_RUN_TIMEOUT,
        poll_interval: float = POLL_START,
        max_poll_interval: float = POLL_CAP,
        on_status: StatusCallback | None = None,
        check_media: bool = True,
    ) -> OutputT: ...
    @overload
    def run(
        self,
        input: ById,
        *,
        timeout: float = DEFAULT_RUN_TIMEOUT,
        poll_interval: float = POLL_START,
        max_poll_interval: float = POLL_CAP,
        on_status: StatusCallback | None = None,
        check_media: bool = True,
    ) -> RunComfyOutput: ...
    def run(
        self,
        input: InputLike,
        *,
        timeout: float = DEFAULT_RUN_TIMEOUT,
        poll_interval: float = POLL_START,
        max_poll_interval: float = POLL_CAP,
        on_status: StatusCallback | None = None,
        check_media: bool = True,
    ) -> Any:
        """Submit, wait and return the typed ``Output``. ``timeout`` is one deadline for the whole run."""
        deadline = time.monotonic() + timeout
        model = as_input(input, strict=self.strict_inputs)
        job = self._submit(model, check_media, deadline)
        return self._wait(
            job, model.runcomfy_model_id, timeout, deadline, poll_interval, max_poll_interval, on_status
        )


class AsyncClient(_Files, BaseClient):
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
        max_file_bytes: int = MAX_FILE_BYTES,
        max_request_bytes: int = MAX_REQUEST_BYTES,
    ) -> None:
        super().__init__(token=token, base_url=base_url, timeout=timeout, max_retries=max_retries)
        self.strict_inputs = strict_inputs
        self.max_file_bytes = max_file_bytes
        """Largest local file a media input may send as a ``data:`` URI (6 MiB by default)."""
        self.max_request_bytes = max_request_bytes
        """Largest request body with local files in it (64 MiB by default)."""
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=self.timeout, limits=DEFAULT_LIMITS)
        # Probes bypass httpx's pool when the HTTP client is ours (see AsyncMediaProber's direct).
        self._prober = AsyncMediaProber(self._http, direct=self._owns_http)
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

    async def _request(self, call: Call, deadline: float | None = None) -> Any:
        attempt = 0
        while True:
            try:
                if deadline is not None and time.monotonic() >= deadline:
                    raise self._deadline_error(call)
                try:
                    async with (
                        self._in_flight,
                        self._http.stream(
                            call.method,
                            self._url(call.path),
                            json=call.body,
                            headers=self._headers(),
                            auth=self._auth,
                            timeout=self._attempt_timeout(deadline),
                            follow_redirects=False,  # only a 2xx is an answer, whatever http_client says
                        ) as response,
                    ):
                        try:
                            body = self._new_body(call, response, deadline)
                            async for chunk in response.aiter_raw():
                                body.feed(chunk)
                        except BodyLimitError as exc:
                            raise self._on_body_error(call, response, exc, attempt) from None
                except httpx.HTTPError as exc:
                    raise self._on_transport_error(call, exc, attempt) from None
                return self._on_response(call, response, bytes(body.data), attempt)
            except Retry as retry:
                delay = self._sleep_for(call, retry, deadline)
                self._log(call, attempt, f"retry in {delay:.2f} s: {retry.cause.message}")
                await asyncio.sleep(delay)
                attempt += 1

    @overload
    async def submit(self, input: RunComfyInput[OutputT], *, check_media: bool = True) -> Job[OutputT]: ...
    @overload
    async def submit(self, input: ById, *, check_media: bool = True) -> Job[RunComfyOutput]: ...
    async def submit(self, input: InputLike, *, check_media: bool = True) -> Job[Any]:
        return await self._submit(as_input(input, strict=self.strict_inputs), check_media, None)

    async def _submit(self, model: AnyInput, check_media: bool, deadline: float | None) -> Job[Any]:
        if has_local_files(model):  # reading up to 64 MiB: off the event loop
            model = await asyncio.to_thread(self._with_files, model)
        if check_media:
            try:
                raise_for_violations(await self._prober.check(model, deadline))
            except MediaProbeError:
                _raise_if_past(deadline)
                raise
        call = _submit_call(model)
        body = await self._request(call, deadline)
        return self._parse(call, Job, {**body, "model_id": model.runcomfy_model_id})

    async def _call(
        self, action: str, job: str | Job[Any], model: type[M], deadline: float | None = None
    ) -> M:
        call = _job_call(action, job)
        return self._parse(call, model, await self._request(call, deadline))

    async def status(self, request_id: str | Job[Any]) -> JobStatus:
        return await self._call("status", request_id, JobStatus)

    async def result(self, request_id: str | Job[Any]) -> JobResult:
        return await self._call("result", request_id, JobResult)

    async def cancel(self, request_id: str | Job[Any]) -> CancelOutcome:
        return await self._call("cancel", request_id, CancelOutcome)

    async def check_media(self, input: InputLike) -> None:
        model = as_input(input)
        if has_local_files(model):
            model = await asyncio.to_thread(self._with_files, model)
        raise_for_violations(await self._prober.check(model))

    @overload
    async def wait(
        self,
        job: Job[OutputT],
        *,
        model_id: str | None = None,
        timeout: float = DEFAULT_RUN_TIMEOUT,
        poll_interval: float = POLL_START,
        max_poll_interval: float = POLL_CAP,
        on_status: StatusCallback | None = None,
        cancel_on_interrupt: bool = True,
    ) -> OutputT: ...
    @overload
    async def wait(
        self,
        job: str,
        *,
        model_id: str | None = None,
        timeout: float = DEFAULT_RUN_TIMEOUT,
        poll_interval: float = POLL_START,
        max_poll_interval: float = POLL_CAP,
        on_status: StatusCallback | None = None,
        cancel_on_interrupt: bool = True,
    ) -> RunComfyOutput: ...
    async def wait(
        self,
        job: Job[Any] | str,
        *,
        model_id: str | None = None,
        timeout: float = DEFAULT_RUN_TIMEOUT,
        poll_interval: float = POLL_START,
        max_poll_interval: float = POLL_CAP,
        on_status: StatusCallback | None = None,
        cancel_on_interrupt: bool = True,
    ) -> Any:
        deadline = time.monotonic() + timeout
        return await self._wait(
            job, model_id, timeout, deadline, poll_interval, max_poll_interval, on_status, cancel_on_interrupt
        )

    async def _wait(
        self,
        job: Job[Any] | str,
        model_id: str | None,
        timeout: float,
        deadline: float,
        poll_interval: float,
        max_poll_interval: float,
        on_status: StatusCallback | None,
        cancel_on_interrupt: bool = True,
    ) -> RunComfyOutput:
        rid = job.request_id if isinstance(job, Job) else job
        model_id = model_id or (job.model_id if isinstance(job, Job) else None)
        delay = poll_interval
        last: JobStatus | None = None
        try:
            while True:
                status = await self._call("status", rid, JobStatus, deadline)
                if on_status is not None and (last is None or status != last):
                    outcome = on_status(status)
                    if isinstance(outcome, Awaitable):
                        await outcome
                last = status
                if status.is_final:
                    result = await self._call("result", rid, JobResult, deadline)
                    if result.status in ("in_queue", "in_progress") and time.monotonic() + delay < deadline:
                        await asyncio.sleep(delay)
                        continue
                    return _typed_output(result, model_id)
                if time.monotonic() + delay > deadline:
                    raise _timeout_error(rid, timeout, model_id)
                await asyncio.sleep(delay)
                delay = min(delay * POLL_FACTOR, max_poll_interval)
        except DeadlineExceeded:
            raise _timeout_error(rid, timeout, model_id) from None
        except (KeyboardInterrupt, asyncio.CancelledError):
            if cancel_on_interrupt and (last is None or last.is_queued):
                with contextlib.suppress(RunComfyError, asyncio.CancelledError):
                    await asyncio.shield(self.cancel(rid))
            raise

    @overload
    async def run(
        self,
        input: RunComfyInput[OutputT],
        *,
        timeout: float = DEFAULT_RUN_TIMEOUT,
        poll_interval: float = POLL_START,
        max_poll_interval: float = POLL_CAP,
        on_status: StatusCallback | None = None,
        check_media: bool = True,
    ) -> OutputT: ...
    @overload
    async def run(
        self,
        input: ById,
        *,
        timeout: float = DEFAULT_RUN_TIMEOUT,
        poll_interval: float = POLL_START,
        max_poll_interval: float = POLL_CAP,
        on_status: StatusCallback | None = None,
        check_media: bool = True,
    ) -> RunComfyOutput: ...
    async def run(
        self,
        input: InputLike,
        *,
        timeout: float = DEFAULT_RUN_TIMEOUT,
        poll_interval: float = POLL_START,
        max_poll_interval: float = POLL_CAP,
        on_status: StatusCallback | None = None,
        check_media: bool = True,
    ) -> Any:
        deadline = time.monotonic() + timeout
        model = as_input(input, strict=self.strict_inputs)
        job = await self._submit(model, check_media, deadline)
        return await self._wait(
            job, model.runcomfy_model_id, timeout, deadline, poll_interval, max_poll_interval, on_status
        )

    @overload
    async def run_many(
        self,
        inputs: Iterable[RunComfyInput[OutputT]],
        *,
        concurrency: int = 16,
        return_exceptions: Literal[False] = False,
        **run_options: Any,
    ) -> list[OutputT]: ...
    @overload
    async def run_many(
        self,
        inputs: Iterable[RunComfyInput[OutputT]],
        *,
        concurrency: int = 16,
        return_exceptions: Literal[True],
        **run_options: Any,
    ) -> list[OutputT | BaseException]: ...
    @overload
    async def run_many(
        self,
        inputs: Iterable[InputLike],
        *,
        concurrency: int = 16,
        return_exceptions: Literal[False] = False,
        **run_options: Any,
    ) -> list[RunComfyOutput]: ...
    @overload
    async def run_many(
        self,
        inputs: Iterable[InputLike],
        *,
        concurrency: int = 16,
        return_exceptions: bool,
        **run_options: Any,
    ) -> list[RunComfyOutput | BaseException]: ...
    async def run_many(
        self,
        inputs: Iterable[InputLike],
        *,
        concurrency: int = 16,
        return_exceptions: bool = False,
        **run_options: Any,
    ) -> list[Any]:
        """Run many jobs at once on this event loop, at most ``concurrency`` in flight; results in order.

        The list holds each model's ``Output``; with ``return_exceptions=True`` a job that raised
        holds its exception instead (as ``asyncio.gather``)."""
        semaphore = asyncio.Semaphore(concurrency)

        async def one(item: InputLike) -> RunComfyOutput:
            async with semaphore:
                output: RunComfyOutput = await self.run(item, **run_options)
                return output

        tasks = [one(item) for item in inputs]
        return list(await asyncio.gather(*tasks, return_exceptions=return_exceptions))

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
