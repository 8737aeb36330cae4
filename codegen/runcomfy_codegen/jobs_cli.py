"""The job commands: ``run``, ``status``, ``result``, ``cancel`` and ``wait``.

Each prints exactly one JSON object on stdout, ``{"request_id", "model_id", "status", "output"}``
(the output by the schema's property names, only what the service sent), so it pipes into ``jq``;
status lines, notices and warnings go to stderr. Exit codes: see ``cli_common.EXIT_CODES_HELP``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
import time
import types
import typing
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runcomfy_codegen.cli_common import (
    EXIT_CODES_HELP,
    EXIT_FAIL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TIMEOUT,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    err,
    exit_code_for,
    note,
    positive_seconds,
    say,
    wait_command,
    warn,
)

if TYPE_CHECKING:
    import pydantic

    from runcomfy_models import Client, Job, JobStatus, RunComfyInput, RunComfyOutput

DEFAULT_BASE_URL = "https://model-api.runcomfy.net"


class UsageError(Exception):
    """Bad command-line input: exit 2, nothing sent."""


# Reading --input ---------------------------------------------------------------------------------


def _only_text(annotation: Any) -> bool:
    """True when a field's type takes strings only (``str``, a ``Literal`` of strings, optional ones)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _only_text(typing.get_args(annotation)[0])
    if annotation is str:
        return True
    if origin is typing.Literal:
        return all(isinstance(value, str) for value in typing.get_args(annotation))
    if origin is typing.Union or origin is types.UnionType:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        return bool(members) and all(_only_text(a) for a in members)
    return False


class InputReader:
    """Turns ``--input KEY=VALUE`` pairs into JSON values, by the type of the field ``KEY`` names.

    * a string field takes VALUE as text (``prompt=5`` sends ``"5"``); any other field, or a key
      the schema does not name, reads VALUE as JSON (``duration=5`` sends ``5``) and falls back to
      text when it is not JSON;
    * ``KEY=@PATH`` for a media field sends the local file PATH (read at submit, checked against the
      media rules, sent as a ``data:`` URI); for any other field it reads a JSON value from the file
      PATH; ``KEY=@@text`` sends the text ``@text``.
    """

    def __init__(self, input_class: type[RunComfyInput[Any]] | None) -> None:
        self.text_fields: set[str] = set()
        self.media_fields: set[str] = set()
        if input_class is None:
            return
        for name, info in input_class.model_fields.items():
            if _only_text(info.annotation):
                self.text_fields.add(info.alias or name)
        module = sys.modules.get(input_class.__module__)
        self.media_fields = set(getattr(module, "MEDIA_FIELDS", ()))

    def value(self, pair: str) -> tuple[str, Any]:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--input {pair!r}: expected KEY=VALUE")
        if raw.startswith("@@"):
            return key, self._typed(key, raw[1:])
        if raw.startswith("@"):
            path = raw[1:]
            if key in self.media_fields:
                return key, Path(path)  # a local file: the client reads it at submit
            return key, read_json_file(path, f"--input {key}=@{path}")
        return key, self._typed(key, raw)

    def _typed(self, key: str, raw: str) -> Any:
        if key in self.text_fields:
            return raw
        try:
            return json.loads(raw)  # 5 -> 5, true -> True, [1] -> [1], "x" -> "x"
        except (json.JSONDecodeError, RecursionError):
            return raw  # plain text

    def payload(self, pairs: list[str], json_file: str | None) -> dict[str, Any]:
        payload: dict[str, Any] = {}
        if json_file is not None:
            loaded = read_json_file(json_file, f"--json {json_file}")
            if not isinstance(loaded, dict):
                raise UsageError(f"--json {json_file}: must hold a JSON object, not {type(loaded).__name__}")
            payload.update(loaded)
        for pair in pairs:
            key, value = self.value(pair)
            payload[key] = value
        return payload


def read_json_file(path: str, what: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{what}: cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{what}: {path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{what}: {path} is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise UsageError(f"{what}: {path} nests JSON too deeply to read") from None


def validation_message(model_id: str, exc: pydantic.ValidationError) -> str:
    """One line: each refused field with pydantic's reason and the value given."""
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "input"
        given = (
            ""
            if error["type"] == "missing"
            else f" (got {json.dumps(error.get('input'), default=repr)[:80]})"
        )
        parts.append(f"{where}: {error['msg']}{given}")
    return f"invalid input for {model_id}: " + "; ".join(parts)


def check_output_dir(value: str) -> None:
    """``--output-dir``, checked before anything is sent: an existing folder we can write, or a path
    whose nearest existing parent is one (the folder is made after the job, before downloading)."""
    path = Path(value)
    if not value:
        raise UsageError("--output-dir '': give a folder")
    if path.exists() or path.is_symlink():
        if not path.is_dir():
            raise UsageError(f"--output-dir {value}: exists and is not a folder; nothing was sent")
        if not os.access(path, os.W_OK | os.X_OK):
            raise UsageError(f"--output-dir {value}: the folder is not writable; nothing was sent")
        return
    parent = path.absolute().parent
    while not (parent.exists() or parent.is_symlink()) and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"--output-dir {value}: {parent} is not a folder; nothing was sent")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"--output-dir {value}: cannot make it, {parent} is not writable; nothing was sent")


def check_request_id(value: str) -> None:
    from runcomfy_models._urls import is_request_id

    if not is_request_id(value):
        raise UsageError(
            f"request id {value[:60]!r} is not a request id (the id `run` printed: printable characters, "
            "no spaces); nothing was sent"
        )


# Talking to the service --------------------------------------------------------------------------


def _client() -> Client:
    import runcomfy_models

    client = runcomfy_models.Client()  # ConfigurationError without a token (exit 3)
    if not os.environ.get("RUNCOMFY_BASE_URL"):
        note(
            f"notice: RUNCOMFY_BASE_URL is not set, so this talks to the real RunComfy service at "
            f"{client.base_url}, where jobs are billed (for the embedded mock: `runcomfy-codegen mock-server`)"
        )
    return client


def report(exc: BaseException, base_url: str | None = None) -> int:
    """Say a runtime error on stderr in CLI terms; return its exit code."""
    import pydantic

    import runcomfy_models as rm

    if isinstance(exc, pydantic.ValidationError):  # a reply or output of the wrong shape
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "reply"
        err(f"the service's reply does not have the expected shape ({exc.title}): {where}: {first['msg']}")
        return EXIT_UNREACHABLE
    message = say(exc)
    if isinstance(exc, rm.APIResponseValidationError):  # an answer came, of the wrong shape
        where = base_url or os.environ.get("RUNCOMFY_BASE_URL") or DEFAULT_BASE_URL
        message = (
            f"the service at {where} answered, but its reply does not have the expected shape: {message}"
        )
    elif isinstance(exc, rm.APIConnectionError) and not isinstance(exc, rm.JobTimeoutError):
        where = base_url or os.environ.get("RUNCOMFY_BASE_URL") or DEFAULT_BASE_URL
        message = f"cannot reach the service at {where}: {message}"
    elif isinstance(exc, (rm.AuthenticationError, rm.PermissionDeniedError)):
        message += "; check RUNCOMFY_API_TOKEN (and RUNCOMFY_BASE_URL)"
    err(message)
    return exit_code_for(exc)


def emit(request_id: str, model_id: str | None, status: str, output: Any = None, **extra: Any) -> None:
    """The one JSON object on stdout."""
    document = {"request_id": request_id, "model_id": model_id, "status": status, "output": output, **extra}
    print(json.dumps(document, indent=2), flush=True)


def dump_output(output: RunComfyOutput | None) -> Any:
    if output is None:
        return None
    return output.model_dump(mode="json", by_alias=True, exclude_unset=True)


def _status_line(status: JobStatus) -> None:
    where = f" (queue position {status.queue_position})" if status.queue_position is not None else ""
    note(f"status: {status.status}{where}")


class Follow:
    """Waits for one job, remembering its last status so an interrupt can say what happens to it."""

    def __init__(
        self, client: Client, request_id: str, model_id: str | None, output_dir: str | None = None
    ) -> None:
        self.client = client
        self.request_id = request_id
        self.model_id = model_id
        self.output_dir = output_dir
        self.last: JobStatus | None = None

    def _seen(self, status: JobStatus) -> None:
        self.last = status
        _status_line(status)

    def wait(self, timeout: float) -> int:
        import pydantic

        import runcomfy_models as rm

        try:
            output = self.client.wait(
                self.request_id,
                model_id=self.model_id,
                timeout=timeout,
                on_status=self._seen,
                cancel_on_interrupt=False,
            )
        except (rm.JobFailedError, rm.JobCancelledError) as exc:
            emit(
                self.request_id,
                self.model_id,
                "cancelled" if isinstance(exc, rm.JobCancelledError) else "failed",
            )
            return report(exc)
        except (rm.RunComfyError, pydantic.ValidationError) as exc:
            if self.last is not None:  # the job exists: say where it stood
                emit(self.request_id, self.model_id, self.last.status)
            return report(exc, self.client.base_url)
        return self._done(dump_output(output))

    def _done(self, output: Any) -> int:
        """Print the finished job (downloading its files first with --output-dir)."""
        if self.output_dir is None or not isinstance(output, dict):
            emit(self.request_id, self.model_id, "completed", output)
            return EXIT_OK
        from runcomfy_codegen.downloads import DownloadError, download_outputs, refused_targets

        note(f"downloading output files into {self.output_dir} ...")
        try:
            files = download_outputs(output, Path(self.output_dir), progress=True)
        except (DownloadError, OSError) as exc:
            emit(self.request_id, self.model_id, "completed", output, files=None)
            reason = f"{exc.strerror}: {exc.filename}" if isinstance(exc, OSError) and exc.strerror else exc
            err(f"job {self.request_id} completed but an output file could not be downloaded: {reason}")
            return EXIT_UNREACHABLE
        emit(self.request_id, self.model_id, "completed", output, files=files)
        refused = refused_targets(output)
        for line in refused:
            err(f"job {self.request_id}: output {line}")
        return EXIT_UNREACHABLE if refused else EXIT_OK

    def interrupted(self, *, cancel_queued: bool) -> int:
        """After Ctrl-C: cancel a queued job (``run``), or say how to get a running job's result.

        One line on stderr, the job's JSON object on stdout, exit 130.
        """
        import runcomfy_models as rm

        rid, resume = self.request_id, wait_command(self.request_id, self.model_id)
        status = self.last.status if self.last else "in_queue"
        if status == "in_queue" and cancel_queued:
            try:
                outcome = self.client.cancel(rid)
            except rm.RunComfyError as exc:
                emit(rid, self.model_id, status)
                err(
                    f"interrupted: could not cancel queued job {rid} ({say(exc)}); it may still run and be "
                    f"billed: `runcomfy-codegen cancel {rid}` tries again, `{resume}` gets its result"
                )
                return EXIT_INTERRUPTED
            if outcome.cancelled:
                emit(rid, self.model_id, "cancelled")
                err(f"interrupted: job {rid} was still queued and has been cancelled; it will not run")
                return EXIT_INTERRUPTED
            status = outcome.status or "in_progress"  # it started in the meantime
        emit(rid, self.model_id, status)
        if status == "in_queue":  # `wait` leaves the job alone
            err(
                f"interrupted: job {rid} is still queued and will run and be billed (`runcomfy-codegen cancel "
                f"{rid}` cancels it while queued). Get its result with: {resume}"
            )
        else:
            err(
                f"interrupted: job {rid} is running; it will finish and be billed. Get its result with: {resume}"
            )
        return EXIT_INTERRUPTED


# Commands -----------------------------------------------------------------------------------------


def _input_class(model_id: str) -> type[RunComfyInput[Any]] | None:
    """The model's ``Input``; None for a model id outside the catalog (run untyped, with a warning),
    unless it looks like a misspelt catalog id (refused: a typo must not reach the billed service)."""
    import runcomfy_models

    try:
        return runcomfy_models.input_class(model_id)
    except KeyError as exc:
        if "did you mean" in str(exc.args[0]):
            raise UsageError(
                str(exc.args[0]) + " (`runcomfy-codegen list` shows the store's models)"
            ) from None
    from runcomfy_models._registry import untyped_notice

    if model_id.count("/") < 1 or any(not part for part in model_id.split("/")):
        raise UsageError(f"unknown model id {model_id!r}: a model id looks like owner/model[/task]")
    warn(untyped_notice(model_id))
    return None


def cmd_run(args: argparse.Namespace) -> int:
    import pydantic

    import runcomfy_models as rm

    deadline = time.monotonic() + args.timeout  # one deadline: media check, submit and wait
    try:
        if args.output_dir is not None and not args.wait:
            raise UsageError("--output-dir downloads a finished job's files: it needs --wait")
        if args.output_dir is not None:
            check_output_dir(args.output_dir)
        input_class = _input_class(args.model_id)
        payload = InputReader(input_class).payload(args.input, args.json)
        model: RunComfyInput[Any]
        if input_class is None:
            from runcomfy_models._registry import untyped_input

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", rm.UntypedModelWarning)  # said above, in CLI terms
                model = untyped_input(args.model_id, payload)
        else:
            model = input_class.model_validate(payload)
        from runcomfy_models._files import with_local_files

        model = with_local_files(model)  # KEY=@PATH media files, read now: before any network
    except rm.LocalFileError as exc:
        err(exc.message)
        return EXIT_USAGE
    except UsageError as exc:
        err(str(exc))
        return EXIT_USAGE
    except pydantic.ValidationError as exc:
        err(validation_message(args.model_id, exc))
        return EXIT_USAGE
    except RecursionError:
        err(f"invalid input for {args.model_id}: nested too deeply")
        return EXIT_USAGE
    unknown = () if model.runcomfy_untyped else rm.unknown_inputs(model)
    if unknown:
        names = ", ".join(map(str, unknown))
        if args.strict:
            err(
                f"{args.model_id}: unknown input {names}: not in the schema; nothing was sent "
                "(leave out --strict to send it anyway)"
            )
            return EXIT_USAGE
        warn(
            f"{args.model_id}: unknown input {names}: not in the schema, sent as is (--strict makes this an error)"
        )
    submitting = False
    follow: Follow | None = None
    try:
        with _client() as client:
            try:
                if not args.no_media_check and model.runcomfy_media_rules:
                    note("checking media rules ...")
                    try:
                        client._check_media(model, deadline)
                    except rm.APITimeoutError:
                        err(
                            f"--timeout {args.timeout:g} s passed while the media inputs were being checked; "
                            "nothing was submitted (--no-media-check skips the check)"
                        )
                        return EXIT_TIMEOUT
                submitting = True
                job: Job[Any] = client._submit(model, False, deadline)
                follow = Follow(client, job.request_id, args.model_id, args.output_dir)
                note(f"submitted {args.model_id}: request_id {job.request_id}")
                if not args.wait:
                    emit(job.request_id, args.model_id, "submitted")
                    return EXIT_OK
                return follow.wait(deadline - time.monotonic())
            except KeyboardInterrupt:
                if follow is not None:
                    return follow.interrupted(cancel_queued=True)
                if submitting:
                    err(
                        "interrupted during submit: the job may or may not exist (RunComfy has no idempotency "
                        "key); check your RunComfy requests before you submit again"
                    )
                else:
                    err("interrupted: nothing was submitted")
                return EXIT_INTERRUPTED
    except (rm.RunComfyError, pydantic.ValidationError) as exc:  # the latter: a malformed submit reply
        return report(exc)


def _follow_command(args: argparse.Namespace) -> tuple[Client, str | None]:
    check_request_id(args.request_id)
    model_id = getattr(args, "model", None)
    if model_id is not None:
        _input_class(model_id)  # refuse an unknown model before anything is sent
    return _client(), model_id


def cmd_wait(args: argparse.Namespace) -> int:
    import runcomfy_models as rm

    try:
        if args.output_dir is not None:
            check_output_dir(args.output_dir)
        client, model_id = _follow_command(args)
    except UsageError as exc:
        err(str(exc))
        return EXIT_USAGE
    except rm.RunComfyError as exc:
        return report(exc)
    with client:
        follow = Follow(client, args.request_id, model_id, args.output_dir)
        try:
            return follow.wait(args.timeout)
        except KeyboardInterrupt:
            return follow.interrupted(cancel_queued=False)


def cmd_status(args: argparse.Namespace) -> int:
    import pydantic

    import runcomfy_models as rm

    try:
        check_request_id(args.request_id)
        with _client() as client:
            status = client.status(args.request_id)
    except UsageError as exc:
        err(str(exc))
        return EXIT_USAGE
    except (rm.RunComfyError, pydantic.ValidationError) as exc:
        return report(exc)
    extra = {"queue_position": status.queue_position} if status.queue_position is not None else {}
    emit(status.request_id, None, status.status, None, **extra)
    from runcomfy_models._models import CANCELLED_STATES, FAILED_STATES

    return EXIT_FAIL if status.status in FAILED_STATES | CANCELLED_STATES else EXIT_OK


def cmd_result(args: argparse.Namespace) -> int:
    import pydantic

    import runcomfy_models as rm

    try:
        client, model_id = _follow_command(args)
        with client:
            result = client.result(args.request_id)
    except UsageError as exc:
        err(str(exc))
        return EXIT_USAGE
    except (rm.RunComfyError, pydantic.ValidationError) as exc:
        return report(exc)
    if result.succeeded:
        try:
            output_class = rm.input_class(model_id).runcomfy_output if model_id else rm.RunComfyOutput
            output = output_class.model_validate(result.output or {})
        except pydantic.ValidationError as exc:  # the service's output breaks the model's output schema
            emit(result.request_id, model_id, "completed", result.output)
            return report(exc)
        emit(result.request_id, model_id, "completed", dump_output(output))
        return EXIT_OK
    emit(result.request_id, model_id, result.status)
    if result.failed or result.cancelled:
        detail = result.error.get("message", result.error) if isinstance(result.error, dict) else result.error
        err(f"job {result.request_id} {result.status}" + (f": {detail}" if detail else ""))
        return EXIT_FAIL
    err(
        f"job {result.request_id} is {result.status}: no result yet; wait for it with: {wait_command(result.request_id, model_id)}"
    )
    return EXIT_TIMEOUT


def cmd_cancel(args: argparse.Namespace) -> int:
    import pydantic

    import runcomfy_models as rm

    try:
        check_request_id(args.request_id)
        with _client() as client:
            outcome = client.cancel(args.request_id)
    except UsageError as exc:
        err(str(exc))
        return EXIT_USAGE
    except (rm.RunComfyError, pydantic.ValidationError) as exc:
        return report(exc)
    emit(outcome.request_id, None, outcome.status or outcome.outcome, None, outcome=outcome.outcome)
    if outcome.cancelled:
        note(f"job {outcome.request_id} cancelled")
        return EXIT_OK
    rid, resume = outcome.request_id, wait_command(outcome.request_id, None)
    if outcome.status in ("completed", "succeeded", "failed", "error", "cancelled"):
        err(
            f"job {rid} could not be cancelled: it has already finished ({outcome.status}); see it with: {resume}"
        )
    elif outcome.status == "in_progress":
        err(
            f"job {rid} could not be cancelled ({outcome.outcome}): it is running, so it finishes and is "
            f"billed; get its result with: {resume}"
        )
    else:
        err(
            f"job {rid} could not be cancelled ({outcome.outcome}, status {outcome.status or 'not given'}); "
            f"a running job finishes and is billed; get its result with: {resume}"
        )
    return EXIT_FAIL


# Parsers ------------------------------------------------------------------------------------------


def _parser(
    sub: Any, name: str, help: str, description: str, func: Callable[[argparse.Namespace], int]
) -> Any:
    p = sub.add_parser(
        name,
        help=help,
        description=textwrap.fill(description, 79),
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(func=func)
    return p


def _request_id(p: Any) -> None:
    p.add_argument("request_id", metavar="ID", help="the request id `run` printed")


def _timeout(p: Any) -> None:
    p.add_argument(
        "--timeout",
        type=positive_seconds,
        default=1800.0,
        metavar="SECONDS",
        help="one deadline for the whole command (for run: the media check, submit and wait); the job "
        "keeps running (exit 5) (default: 1800)",
    )


def _output_dir(p: Any) -> None:
    p.add_argument(
        "--output-dir",
        metavar="DIR",
        help='download the output files into DIR (named <field>.<ext>, <field>-<i>.<ext>); adds "files"',
    )


def register(sub: Any) -> None:
    """Add the job commands to the CLI's sub-parsers."""
    env = "the service is RUNCOMFY_BASE_URL (default: the real, billed RunComfy service), token RUNCOMFY_API_TOKEN"
    p = _parser(
        sub,
        "run",
        "submit a job and print it (with --wait, its result) as one JSON object",
        f"Submit a job; {env}. Prints one JSON object on stdout: request_id, model_id, status, output. "
        "Status lines and warnings go to stderr.",
        cmd_run,
    )
    p.add_argument(
        "model_id", metavar="MODEL_ID", help="a model id of the generated package (`runcomfy-codegen list`)"
    )
    p.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="one input: text for a string field, JSON otherwise (duration=5); KEY=@PATH sends the local "
        "file PATH for a media field (as a data: URI) and reads a JSON value from the file otherwise; "
        "KEY=@@text sends text starting with @; repeatable",
    )
    p.add_argument(
        "--json", metavar="FILE", help="a JSON file holding the input object (--input entries win)"
    )
    p.add_argument("--wait", action="store_true", help="wait for the job and print its output")
    _timeout(p)
    _output_dir(p)
    p.add_argument(
        "--no-media-check", action="store_true", help="skip the schema's custom media rules before submitting"
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="refuse input keys the schema does not name (default: warn, send)",
    )

    p = _parser(
        sub,
        "wait",
        "wait for a submitted job and print its result",
        f"Wait for a job by request id; {env}. Ctrl-C stops waiting and leaves the job as it is.",
        cmd_wait,
    )
    _request_id(p)
    p.add_argument("--model", metavar="MODEL_ID", help="check the output against this model's output schema")
    _timeout(p)
    _output_dir(p)

    p = _parser(
        sub,
        "status",
        "a job's status",
        f"A job's status; {env}. Exit 1 if it failed or was cancelled.",
        cmd_status,
    )
    _request_id(p)

    p = _parser(
        sub,
        "result",
        "a finished job's result",
        f"A job's result; {env}. Exit 5 if it has not finished yet, 1 if it failed or was cancelled.",
        cmd_result,
    )
    _request_id(p)
    p.add_argument("--model", metavar="MODEL_ID", help="check the output against this model's output schema")

    p = _parser(
        sub,
        "cancel",
        "cancel a queued job",
        f"Cancel a job; {env}. Only a queued job can be cancelled: exit 1 if it could not be.",
        cmd_cancel,
    )
    _request_id(p)
