"""One error hierarchy for everything the client raises.

::

    RunComfyError
    ├── ConfigurationError          no usable token or base URL: nothing was sent
    ├── UnknownInputError           strict inputs: a key the schema does not name (nothing sent)
    ├── APIConnectionError          the request did not get an answer
    │   └── APITimeoutError         ... within the timeout
    │       └── JobTimeoutError     ``run``/``wait`` reached its deadline; the job keeps running
    ├── SubmitUncertainError        a submit may have reached the server: the job may exist
    ├── APIStatusError              the server answered with an error
    │   ├── AuthenticationError        401
    │   ├── PermissionDeniedError      403, error_code 403001 / 400004
    │   ├── NotFoundError              404, error_code 404001 / 400001
    │   ├── InsufficientBalanceError   402, error_code 400002
    │   ├── UnprocessableInputError    400, 422
    │   ├── RateLimitError             429
    │   └── ServerError                5xx
    ├── JobFailedError              the job ran and failed
    ├── JobCancelledError           the job was cancelled
    ├── MediaValidationError        a media input breaks the schema's custom rules
    └── MediaProbeError             a media input could not be measured

No error ever holds the API token: messages are built from the server's answer, never from the
request headers.

An error that has a way out carries it as :class:`Hint` data (``exc.hints``) rather than as words:
``str(exc)`` says it in Python terms (``pass check_media=False``), and the command line says the
same hint with its own flags and environment variables (``--no-media-check``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# What each kind of hint says to a library user; the CLI has its own table for the same kinds.
LIBRARY_HINTS: dict[str, str] = {
    "skip_media_check": "pass check_media=False to submit/run to skip the media check",
    "set_token": "pass token=... or set RUNCOMFY_API_TOKEN",
    "resume": "resume with client.wait({request_id!r}, model_id={model_id!r})",
    "strict_inputs": "Client(strict_inputs=True) makes this an error",
    "allow_unknown_inputs": "leave strict_inputs off to send them anyway",
}


@dataclass(frozen=True)
class Hint:
    """A way out of an error: ``kind`` names the remedy, ``params`` fill in its details."""

    kind: str
    params: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, kind: str, **params: Any) -> Hint:
        return cls(kind, tuple(sorted(params.items())))

    def param(self, name: str) -> Any:
        return dict(self.params).get(name)

    def library_text(self) -> str:
        """The hint in the library's terms (parameters, methods)."""
        return LIBRARY_HINTS[self.kind].format(**dict(self.params))


class RunComfyError(Exception):
    """Base class of every error of the RunComfy client."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        error_code: int | None = None,
        request_id: str | None = None,
        body: Any = None,
        hints: Sequence[Hint] = (),
    ) -> None:
        self.hints = tuple(hints)
        super().__init__("; ".join([message, *(hint.library_text() for hint in self.hints)]))
        self.message = message
        """The error without its hints (``str(exc)`` adds them in the library's words)."""
        self.status_code = status_code
        self.error_code = error_code
        self.request_id = request_id
        self.body = body

    def __repr__(self) -> str:
        parts = [repr(self.message)]
        for name in ("status_code", "error_code", "request_id"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


class ConfigurationError(RunComfyError):
    """The client cannot be set up (no API token): nothing was sent."""


class UnknownInputError(RunComfyError, ValueError):
    """Strict inputs: the input has keys its schema does not name (``unknown`` lists them)."""

    def __init__(self, message: str, unknown: Sequence[Any], *, hints: Sequence[Hint] = ()) -> None:
        super().__init__(message, hints=hints)
        self.unknown = tuple(unknown)


class APIConnectionError(RunComfyError):
    """No answer from the server (connection refused, dropped, malformed reply)."""


class APITimeoutError(APIConnectionError):
    """No answer within the timeout (or ``run`` passed its overall deadline)."""


class JobTimeoutError(APITimeoutError):
    """``run``/``wait`` reached its ``timeout``; the job keeps running (resume with ``wait``)."""


class SubmitUncertainError(RunComfyError):
    """A submit may have reached the server, so the job may exist and may be billed.

    RunComfy has no idempotency key, so the client never sends such a submit again by itself.
    Check the job list in your RunComfy dashboard before you submit again.
    """


class APIStatusError(RunComfyError):
    """The server answered with an error status (or a 200 whose body carries an ``error_code``)."""


class AuthenticationError(APIStatusError):
    """401: the token is missing or wrong."""


class PermissionDeniedError(APIStatusError):
    """403: the token may not use this model or request (or the account has a problem)."""


class NotFoundError(APIStatusError):
    """404: unknown model id, or a request id that does not exist or has expired."""


class InsufficientBalanceError(APIStatusError):
    """402 / error_code 400002: the account's balance does not cover the job."""


class UnprocessableInputError(APIStatusError):
    """400/422: the server refused the input."""


class RateLimitError(APIStatusError):
    """429: too many requests; ``retry_after`` says how long the server asked to wait."""

    retry_after: float | None = None


class ServerError(APIStatusError):
    """5xx: the server failed."""


class JobFailedError(RunComfyError):
    """The job finished with status ``failed``; ``body``/``error`` hold what the server said."""

    @property
    def error(self) -> Any:
        return self.body.get("error") if isinstance(self.body, dict) else None


class JobCancelledError(RunComfyError):
    """The job was cancelled before it produced an output."""


class MediaValidationError(RunComfyError):
    """Media inputs break the schema's custom ``validations`` rules (``violations`` lists them all)."""

    def __init__(self, violations: list[Any]) -> None:
        self.violations = violations
        lines = [f"{len(violations)} media rule violation(s):"]
        lines.extend(f"  - {v}" for v in violations)
        super().__init__("\n".join(lines))


class MediaProbeError(RunComfyError):
    """A media input could not be measured (unreachable, unknown format, refused). Not a violation.

    Pass ``check_media=False`` to ``submit``/``run`` to skip the check and let the service judge
    (the error carries that as a ``skip_media_check`` hint).
    """


class UnknownInputWarning(UserWarning):
    """An input has keys its schema does not name; they are sent as is (JSON Schema allows them).

    ``unknown`` lists each key with the closest known name, if any.
    """

    def __init__(self, message: str, unknown: Sequence[Any], *, hints: Sequence[Hint] = ()) -> None:
        self.message = message
        self.unknown = tuple(unknown)
        self.hints = tuple(hints)
        super().__init__("; ".join([message, *(hint.library_text() for hint in self.hints)]))


ERROR_CODES: dict[int, type[APIStatusError]] = {
    400001: NotFoundError,
    400002: InsufficientBalanceError,
    400004: PermissionDeniedError,
    403001: PermissionDeniedError,
    404001: NotFoundError,
}

STATUS_CODES: dict[int, type[APIStatusError]] = {
    400: UnprocessableInputError,
    401: AuthenticationError,
    402: InsufficientBalanceError,
    403: PermissionDeniedError,
    404: NotFoundError,
    422: UnprocessableInputError,
    429: RateLimitError,
}


def status_error_class(status_code: int, error_code: int | None) -> type[APIStatusError]:
    if error_code is not None and error_code in ERROR_CODES:
        return ERROR_CODES[error_code]
    if status_code in STATUS_CODES:
        return STATUS_CODES[status_code]
    if status_code >= 500:
        return ServerError
    return APIStatusError
