"""What every command of the CLI shares: exit codes, stderr messages, and errors said in CLI terms.

The runtime's errors carry their way out as structured hints (``exc.hints``, see
``runtime/_exceptions.py``); the library's ``str(exc)`` says them with Python parameters
(``check_media=False``), and :func:`say` says the same hints with this CLI's flags, environment
variables and commands (``--no-media-check``), so no message tells a shell user to edit Python.
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
from collections.abc import Callable
from typing import Any

EXIT_OK = 0
EXIT_FAIL = 1  # the command's documented negative result: job failed/cancelled, drift, breaking change
EXIT_USAGE = 2  # bad input or usage, unreadable file, refused schema: nothing was sent or written
EXIT_AUTH = 3  # authentication or configuration: no token, 401/403, no balance
EXIT_UNREACHABLE = 4  # the service is unreachable or keeps failing after retries
EXIT_TIMEOUT = 5  # --timeout reached: the job is still running (the message says how to resume)
EXIT_INTERRUPTED = 130  # Ctrl-C
EXIT_BROKEN_PIPE = 141  # stdout closed by the reader (`| head`): 128 + SIGPIPE, as a shell reports it

EXIT_CODES_HELP = """exit codes:
  0    done
  1    the job failed or was cancelled
  2    bad input or usage (nothing was sent)
  3    authentication or configuration: no RUNCOMFY_API_TOKEN, token refused (401/403)
  4    the service is unreachable or kept failing after retries
  5    --timeout reached: the job is still running (resume with `runcomfy-codegen wait ID`)
  130  interrupted (Ctrl-C)"""


def exit_codes(ok: str, *, one: str | None = None, two: str) -> str:
    """The "exit codes:" epilog of a command other than the job commands (which use EXIT_CODES_HELP)."""
    lines = ["exit codes:", f"  0    {ok}"]
    if one is not None:
        lines.append(f"  1    {one}")
    lines += [f"  2    {two}; each said in one line on stderr, no traceback", "  130  interrupted (Ctrl-C)"]
    return "\n".join(lines)


def positive_seconds(text: str) -> float:
    """An argparse type: a finite number > 0 (``--timeout``, ``--poll-interval`` ...)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r} must be a number of seconds > 0")
    return value


def non_negative_number(text: str) -> float:
    """An argparse type: a finite number >= 0 (``--max-cost``)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"{text!r} must be a number >= 0")
    return value


def int_at_least(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high`` (``--concurrency``)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} must be a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} must be from {low} to {high}")
        return value

    return parse


def err(message: str) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def wait_command(request_id: str, model_id: str | None) -> str:
    """The exact command that resumes following a job."""
    words = ["runcomfy-codegen", "wait", request_id] + (["--model", model_id] if model_id else [])
    return " ".join(shlex.quote(word) for word in words)


def _resume(hint: Any) -> str:
    return f"resume with: {wait_command(hint.param('request_id'), hint.param('model_id'))}"


# The same hint kinds as runtime/_exceptions.LIBRARY_HINTS, in this CLI's terms.
CLI_HINTS: dict[str, Any] = {
    "skip_media_check": lambda hint: "add --no-media-check to skip the media check",
    "set_token": lambda hint: (
        "set RUNCOMFY_API_TOKEN (for the embedded mock: the export line `runcomfy-codegen mock-server` prints)"
    ),
    "resume": _resume,
    "strict_inputs": lambda hint: "--strict makes this an error",
    "allow_unknown_inputs": lambda hint: "leave out --strict to send them anyway",
}


def hint_text(hint: Any) -> str:
    render = CLI_HINTS.get(hint.kind)
    return str(render(hint)) if render is not None else str(hint.library_text())


def say(exc: Any) -> str:
    """A runtime error or warning in this CLI's words: its message, then its hints as CLI advice."""
    message = str(getattr(exc, "message", None) or exc)
    return "; ".join([message, *(hint_text(h) for h in getattr(exc, "hints", ()))])


def exit_code_for(exc: BaseException) -> int:
    """The documented exit code of a runtime error."""
    import runcomfy_models as rm

    if isinstance(exc, rm.JobTimeoutError):
        return EXIT_TIMEOUT
    if isinstance(exc, (rm.JobFailedError, rm.JobCancelledError)):
        return EXIT_FAIL
    if isinstance(
        exc,
        (
            rm.ConfigurationError,
            rm.AuthenticationError,
            rm.PermissionDeniedError,
            rm.InsufficientBalanceError,
        ),
    ):
        return EXIT_AUTH
    if isinstance(
        exc,
        (
            rm.UnknownInputError,
            rm.LocalFileError,
            rm.MediaValidationError,
            rm.MediaProbeError,
            rm.UnprocessableInputError,
            rm.NotFoundError,
        ),
    ):
        return EXIT_USAGE
    return EXIT_UNREACHABLE  # connection errors, 5xx and 429 after retries, uncertain submits
