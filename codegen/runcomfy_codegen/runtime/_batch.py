"""Durable batch runs: thousands of paid jobs, resumable after a crash, never submitted twice.

::

    async with AsyncClient() as client:
        async for result in client.run_batch(rows, journal="batch.sqlite"):
            print(result.id, result.status, result.output)

RunComfy has no idempotency key, so the only protection against paying twice is to remember, before
a submit is sent, that it is about to be sent. The journal is a SQLite database (the standard
library's ``sqlite3``, WAL, ``synchronous=FULL``) with one row per input, moving through::

    pending ──► submitting ──► submitted (request id) ──► finished (succeeded / failed / cancelled)
                    │
                    └────────► uncertain (the submit may have reached the service)

``submitting`` is committed (and synced) before the submit is sent, ``submitted`` right after its
reply is read. Running the same batch again resumes it: finished rows are skipped, submitted rows are
polled (never submitted again), pending rows are submitted, and a row still ``submitting`` (the
process died between the send and the record of the reply) becomes ``uncertain``: it is never sent
again unless asked (``resubmit_uncertain=True``). A journal made for other rows is refused
(:class:`JournalMismatchError`) before anything is sent.

Pacing: at most ``concurrency`` jobs in flight; a 429 on submit halves that limit and pauses submits
for the ``Retry-After`` it names, each accepted submit adds ``1/limit`` back (AIMD). Polling backs
off as ``wait`` does. Writes are group-committed by one journal thread: every row waiting for a
commit rides on the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import math
import os
import re
import sqlite3
import sys
import time
import warnings
from collections import Counter, deque
from collections.abc import AsyncGenerator, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from ._base import RunComfyInput, RunComfyOutput, UntypedOutput
from ._base_client import Call
from ._download import DownloadError, adownload, output_file_name, output_targets, refused_output_urls
from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    InsufficientBalanceError,
    MediaProbeError,
    MediaValidationError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RunComfyError,
    SubmitUncertainError,
)
from ._models import DONE_STATES, FAILED_STATES, FINAL_STATES, QUEUED, JobResult
from ._registry import UntypedModelWarning, input_class, untyped_input, untyped_notice
from ._urls import request_path, submit_path

if TYPE_CHECKING:
    from ._client import AsyncClient

FORMAT = "runcomfy-batch/1"
POLL_FACTOR = 1.5
DOWNLOAD_CAP = 2 * 1024**3
"""Largest output file ``output_dir`` downloads (bytes)."""
DOWNLOAD_DEADLINE = 600.0
"""Seconds one output file may take to download."""
DOWNLOADS_AT_ONCE = 8
UNREACHABLE_PAUSE = 1.0
"""Seconds without new submits after one could not reach the service."""
CRASHED = "the submit was sent but its reply was never recorded (the process stopped); the job may exist"
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")


class BatchInputError(RunComfyError):
    """Rows that cannot be sent (``problems``: one line each, naming the row). Nothing was sent."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(problems[0] + more if problems else "bad batch input")


class JournalError(RunComfyError):
    """The journal cannot be used (not a journal, in use by another run, unwritable)."""


class JournalMismatchError(JournalError):
    """The journal was made for other rows (a row's model id or input differs). Nothing was sent."""


@dataclass(frozen=True)
class BatchRow:
    """One input of a batch. ``id`` defaults to the row's 1-based position (or ``line``)."""

    model_id: str
    input: Mapping[str, Any]
    id: str | None = None
    line: int | None = None
    """Where the row came from (a JSONL line number), for messages."""


@dataclass(frozen=True)
class BatchResult:
    """The outcome of one row: ``status`` is succeeded, failed, cancelled or uncertain."""

    id: str
    model_id: str
    request_id: str | None
    status: str
    output: dict[str, Any] | None = None
    """The service's ``output`` object, by the schema's own names."""
    error: Any = None
    cost: float | None = None
    submitted_at: str | None = None
    finished_at: str | None = None
    files: list[str] | None = None
    """With ``output_dir``: the downloaded files, relative to it."""

    def typed_output(self) -> RunComfyOutput:
        """``output`` as the model's generated ``Output`` (a generic one for an untyped model id)."""
        try:
            cls = input_class(self.model_id).runcomfy_output
        except KeyError:
            cls = UntypedOutput
        return cls.model_validate(self.output or {})

    def to_json(self) -> dict[str, Any]:
        line: dict[str, Any] = {
            "id": self.id,
            "model_id": self.model_id,
            "request_id": self.request_id,
            "status": self.status,
            "output": self.output,
            "error": self.error,
            "cost": self.cost,
            "submitted_at": self.submitted_at,
            "finished_at": self.finished_at,
        }
        if self.files is not None:
            line["files"] = self.files
        return line


@dataclass
class BatchStats:
    """Live counts of a batch (read them while iterating; final when the iteration ends)."""

    total: int = 0
    pending: int = 0
    submitting: int = 0
    queued: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    uncertain: int = 0
    cost: float = 0.0
    """Cost recorded so far (USD), this run and earlier ones."""
    finished_this_run: int = 0
    started: float = field(default_factory=time.monotonic)
    concurrency: float = 0.0
    """The current in-flight limit (AIMD)."""
    stopped: str | None = None
    """Why submitting stopped early (``--max-cost``, balance, an error), if it did."""
    download_failures: int = 0
    uncertain_ids: list[str] = field(default_factory=list)

    @property
    def done(self) -> int:
        return self.succeeded + self.failed + self.cancelled

    @property
    def in_flight(self) -> int:
        return self.submitting + self.queued + self.running

    def rate(self) -> float:
        """Rows finished per second in this run."""
        elapsed = time.monotonic() - self.started
        return self.finished_this_run / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        text = (
            f"{self.done}/{self.total} done (succeeded {self.succeeded}, failed {self.failed}, "
            f"cancelled {self.cancelled}), queued {self.queued + self.submitting}, running {self.running}, "
            f"pending {self.pending}, uncertain {self.uncertain}, {self.rate():.1f} rows/s"
        )
        return text + (f", cost ${self.cost:.4f}" if self.cost else "")


# Rows ---------------------------------------------------------------------------------------------
@dataclass
class _Row:
    seq: int
    id: str
    model_id: str
    input: dict[str, Any]
    canonical: str
    model: RunComfyInput[Any] | None
    """The validated generated ``Input`` (an ``UntypedInput`` for a model id outside the catalog)."""

    def payload(self) -> dict[str, Any]:
        return self.model.to_payload() if self.model is not None else self.input


@dataclass
class PreparedRows:
    """Rows validated by :func:`prepare_rows` (pass them to ``run_batch`` to skip a second check)."""

    rows: list[_Row]
    warnings: list[str]
    safe_ids: bool


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _describe_errors(exc: Any) -> Iterator[str]:
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "input"
        value = repr(error.get("input"))
        value = value if len(value) <= 60 else value[:57] + "..."
        yield f"input.{where}: {error['msg']} (got {value})"


def _row_parts(item: Any, position: int) -> tuple[Any, Any, Any, int | None]:
    """(id, model_id, input, line) of one accepted row form."""
    if isinstance(item, BatchRow):
        return item.id, item.model_id, item.input, item.line
    if isinstance(item, RunComfyInput):
        return None, item.runcomfy_model_id, item, None
    if isinstance(item, tuple) and len(item) == 2:
        return None, item[0], item[1], None
    if isinstance(item, Mapping):
        unknown = sorted(set(item) - {"id", "model_id", "input"})
        if unknown:
            raise ValueError(
                f"unknown key(s) {', '.join(map(repr, unknown))} (a row has id, model_id, input)"
            )
        return item.get("id"), item.get("model_id"), item.get("input"), None
    raise ValueError(
        f"a row is a BatchRow, a mapping, a generated Input or (model_id, dict), not {type(item).__name__}"
    )


def prepare_rows(
    items: Iterable[Any] | PreparedRows, *, safe_ids: bool = False, max_problems: int = 50
) -> PreparedRows:
    """Validate every row before anything is sent; raise :class:`BatchInputError` listing the bad ones.

    A row whose model id is in the generated catalog is validated with its ``Input``; any other model
    id runs untyped (the input sent as is, the output kept raw), with one warning per model id.
    ``safe_ids`` (for ``output_dir``): ids must be usable as folder names.
    """
    if isinstance(items, PreparedRows):
        if safe_ids and not items.safe_ids:
            return prepare_rows([BatchRow(r.model_id, r.input, r.id) for r in items.rows], safe_ids=True)
        return items
    rows: list[_Row] = []
    problems: list[str] = []
    warned: dict[str, int] = {}
    seen: dict[str, str] = {}
    for position, item in enumerate(items, start=1):
        where = f"row {position}"
        try:
            raw_id, model_id, payload, line = _row_parts(item, position)
            where = f"line {line}" if line is not None else where
            if raw_id is None:
                raw_id = str(line if line is not None else position)
            elif isinstance(raw_id, int) and not isinstance(raw_id, bool):
                raw_id = str(raw_id)
            if not isinstance(raw_id, str) or not raw_id:
                raise ValueError(f"id must be a non-empty string, got {raw_id!r}")
            where += f" (id {raw_id!r})"
            if safe_ids and not _SAFE_ID.match(raw_id):
                raise ValueError(
                    "with an output folder, ids must be folder names ([A-Za-z0-9._-], at most 128)"
                )
            if raw_id in seen:
                raise ValueError(f"duplicate id, first used at {seen[raw_id]}")
            if not isinstance(model_id, str) or not model_id:
                raise ValueError(f"model_id must be a non-empty string, got {model_id!r}")
            model: RunComfyInput[Any] | None = None
            if isinstance(payload, RunComfyInput):
                model, payload = payload, payload.to_payload()
            if not isinstance(payload, Mapping):
                raise ValueError(f"input must be a JSON object, got {type(payload).__name__}")
            payload = dict(payload)
            canonical = _canonical(payload)
            if model is None:
                try:
                    cls = input_class(model_id)
                except KeyError:  # the client's untyped input: sent as is (the notes below say so)
                    warned[model_id] = warned.get(model_id, 0) + 1
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", UntypedModelWarning)
                        model = untyped_input(model_id, payload)
                else:
                    from pydantic import ValidationError

                    try:
                        model = cls.model_validate(payload)
                    except ValidationError as exc:
                        problems.extend(f"{where}: {model_id}: {text}" for text in _describe_errors(exc))
                        continue
        except (ValueError, TypeError) as exc:
            problems.append(f"{where}: {exc}")
        else:
            seen[raw_id] = where
            rows.append(_Row(len(rows) + 1, raw_id, model_id, payload, canonical, model))
        if len(problems) >= max_problems:
            problems.append(f"stopped after {max_problems} problems")
            break
    if problems:
        raise BatchInputError(problems)
    notes = [f"{untyped_notice(model_id)} ({count} row(s))" for model_id, count in warned.items()]
    return PreparedRows(rows, notes, safe_ids)


# The journal --------------------------------------------------------------------------------------
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rows (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    model_id TEXT NOT NULL,
    input TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    status TEXT,
    request_id TEXT,
    output TEXT,
    error TEXT,
    cost REAL,
    submitted_at TEXT,
    finished_at TEXT,
    files TEXT,
    submits INTEGER NOT NULL DEFAULT 0
);
"""
_COLUMNS = (
    "seq, id, model_id, state, status, request_id, output, error, cost, submitted_at, finished_at, files"
)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass
class _Record:
    """A journal row as read at the start of a run."""

    seq: int
    id: str
    model_id: str
    state: str
    status: str | None
    request_id: str | None
    output: str | None
    error: str | None
    cost: float | None
    submitted_at: str | None
    finished_at: str | None
    files: str | None

    def result(self) -> BatchResult:
        status = self.status if self.state == "finished" else "uncertain" if self.state in (
            "uncertain", "submitting") else self.state  # fmt: skip
        return BatchResult(
            id=self.id,
            model_id=self.model_id,
            request_id=self.request_id,
            status=status or self.state,
            output=_loads(self.output),
            error=_loads(self.error),
            cost=self.cost,
            submitted_at=self.submitted_at,
            finished_at=self.finished_at,
            files=_loads(self.files),
        )


class _FileLock:
    """An exclusive lock on ``FILE.lock`` beside the journal, released by the OS if the process dies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise JournalError(
                f"journal {self.path.with_suffix('')}: cannot open {self.path}: {exc.strerror}"
            ) from None
        try:
            if sys.platform == "win32":  # pragma: no cover
                import msvcrt

                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise JournalError(f"journal {self.path.with_suffix('')}: in use by another batch run") from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class Journal:
    """The batch journal. Every database call runs on one thread; writes are group-committed."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="runcomfy-journal")
        self._db: sqlite3.Connection | None = None
        self._lock = _FileLock(self.path.with_name(self.path.name + ".lock"))
        self._queue: list[tuple[str, tuple[Any, ...], asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    def _call(self, function: Any, *args: Any) -> Any:
        return self._executor.submit(function, *args).result()

    # On the journal thread --------------------------------------------------------------------
    def _connect(self) -> None:
        self._lock.acquire()
        try:
            db = sqlite3.connect(self.path, isolation_level=None, timeout=10.0)
            try:
                mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise JournalError(f"journal {self.path}: cannot use WAL mode (got {mode})")
                # FULL: every commit is synced to the WAL before the submit it announces is sent, so
                # a power loss cannot forget a job that was sent. fullfsync matters on macOS only.
                db.execute("PRAGMA synchronous=FULL")
                db.execute("PRAGMA fullfsync=ON")
                db.executescript(_SCHEMA)
                found = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
                if found is None:
                    if db.execute("SELECT count(*) FROM rows").fetchone()[0]:
                        raise JournalError(f"journal {self.path}: not a batch journal (no format mark)")
                    db.execute("INSERT INTO meta VALUES ('format', ?), ('created_at', ?)", (FORMAT, _now()))
                elif found[0] != FORMAT:
                    raise JournalError(
                        f"journal {self.path}: format {found[0]!r}, this client reads {FORMAT!r}"
                    )
            except BaseException:
                db.close()
                raise
        except sqlite3.DatabaseError as exc:
            self._lock.release()
            raise JournalError(f"journal {self.path}: not a batch journal ({exc})") from None
        except BaseException:
            self._lock.release()
            raise
        self._db = db

    def _sync_rows(self, rows: list[_Row], resubmit_uncertain: bool) -> list[_Record]:
        db = self._db
        assert db is not None
        existing = db.execute("SELECT id, model_id, input FROM rows").fetchall()
        if not existing:
            db.execute("BEGIN IMMEDIATE")
            db.executemany(
                "INSERT INTO rows (seq, id, model_id, input) VALUES (?, ?, ?, ?)",
                [(row.seq, row.id, row.model_id, row.canonical) for row in rows],
            )
            db.execute("COMMIT")
        else:
            _check_same(self.path, rows, existing)
            db.execute("BEGIN IMMEDIATE")
            db.execute(
                "UPDATE rows SET state = 'uncertain', error = ? WHERE state = 'submitting'",
                (_dumps(CRASHED),),
            )
            if resubmit_uncertain:
                db.execute("UPDATE rows SET state = 'pending' WHERE state = 'uncertain'")
            db.execute("COMMIT")
        return [_Record(*record) for record in db.execute(f"SELECT {_COLUMNS} FROM rows ORDER BY seq")]

    def _commit(self, batch: list[tuple[str, tuple[Any, ...]]]) -> None:
        db = self._db
        assert db is not None
        db.execute("BEGIN IMMEDIATE")
        try:
            for sql, params in batch:
                db.execute(sql, params)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _export(self, target: Path) -> None:
        db = self._db
        assert db is not None
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            with open(temporary, "w", encoding="utf-8", newline="\n") as handle:
                for record in db.execute(f"SELECT {_COLUMNS} FROM rows ORDER BY seq"):
                    line = _Record(*record).result().to_json()
                    handle.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        self._lock.release()

    # From the event loop ----------------------------------------------------------------------
    def open(self, rows: list[_Row], *, resubmit_uncertain: bool = False) -> list[_Record]:
        """Open (or create) the journal for these rows; refuse one made for other rows."""
        try:
            self._call(self._connect)
            return list(self._call(self._sync_rows, rows, resubmit_uncertain))
        except sqlite3.Error as exc:
            self.close()
            raise JournalError(f"journal {self.path}: {exc}") from None
        except BaseException:
            self.close()
            raise

    async def write(self, sql: str, params: tuple[Any, ...]) -> None:
        """Apply one change; returns once it is committed (with every change queued beside it)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((sql, params, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush())
        await future

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                await loop.run_in_executor(self._executor, self._commit, [(s, p) for s, p, _ in batch])
            except Exception as exc:
                error = JournalError(f"journal {self.path}: cannot write: {exc}")
                for *_, future in batch:
                    if not future.done():
                        future.set_exception(error)
            else:
                for *_, future in batch:
                    if not future.done():
                        future.set_result(None)

    async def drain(self) -> None:
        """Wait until every queued change is committed."""
        if self._flusher is not None and not self._flusher.done():
            await self._flusher

    def export(self, target: str | os.PathLike[str]) -> None:
        """Write one JSON line per row (in input order) to ``target``, atomically (temp file + rename)."""
        self._call(self._export, Path(target))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._call(self._close)
        self._executor.shutdown(wait=True)


def write_results(journal: str | os.PathLike[str], path: str | os.PathLike[str]) -> None:
    """Write ``path`` from a journal: one JSON line per row, in input order, atomically (temp + rename).

    Rows not finished yet appear with status ``pending`` or ``submitted``; a row whose submit may have
    reached the service without its reply being recorded appears as ``uncertain``.
    """
    handle = Journal(journal)
    try:
        if not handle.path.is_file():
            raise JournalError(f"journal {handle.path}: no such file")
        handle._call(handle._connect)
        handle.export(path)
    finally:
        handle.close()


def _check_same(path: Path, rows: list[_Row], existing: list[tuple[str, str, str]]) -> None:
    stored = {row_id: (model_id, canonical) for row_id, model_id, canonical in existing}
    problems: list[str] = []
    for row in rows:
        found = stored.pop(row.id, None)
        if found is None:
            problems.append(f"row {row.id!r} is not in the journal")
        elif found[0] != row.model_id:
            problems.append(f"row {row.id!r}: model id {row.model_id!r}, the journal has {found[0]!r}")
        elif found[1] != row.canonical:
            problems.append(f"row {row.id!r}: its input differs from the journal's")
        if len(problems) >= 3:
            break
    if not problems and stored:
        problems.append(
            f"the journal has {len(stored)} row(s) this input does not, e.g. {next(iter(stored))!r}"
        )
    if problems:
        raise JournalMismatchError(
            f"journal {path} was made for another input: {'; '.join(problems)}. "
            "Nothing was sent: use a new journal for a new input"
        )


# Pacing and health --------------------------------------------------------------------------------
class _Pacer:
    """AIMD on the in-flight limit: halve on a 429 (once per pause), ``+1/limit`` per accepted submit."""

    def __init__(self, ceiling: int) -> None:
        self.ceiling = float(ceiling)
        self.limit = float(ceiling)
        self.paused_until = 0.0

    def allowed(self) -> int:
        return max(1, int(self.limit))

    def pause_left(self) -> float:
        return max(0.0, self.paused_until - time.monotonic())

    def on_rate_limited(self, retry_after: float | None) -> None:
        if self.pause_left() <= 0:
            self.limit = max(1.0, self.limit / 2)
        self.pause(1.0 if retry_after is None else retry_after)

    def pause(self, seconds: float) -> None:
        """No new submit for ``seconds`` (the jobs in flight go on)."""
        self.paused_until = max(self.paused_until, time.monotonic() + seconds)

    def on_accepted(self) -> None:
        self.limit = min(self.ceiling, self.limit + 1 / self.limit)


class _Health:
    """The service counts as unreachable once every call has failed for ``window`` seconds."""

    def __init__(self, window: float) -> None:
        self.window = window
        self.failing_since: float | None = None

    def ok(self) -> None:
        self.failing_since = None

    def failed(self) -> bool:
        now = time.monotonic()
        if self.failing_since is None:
            self.failing_since = now
        return now - self.failing_since >= self.window


def _never_sent(exc: APIConnectionError) -> bool:
    """Whether a submit's connection error means the request surely never reached the service.

    The client raises ``SubmitUncertainError`` for every failure after a request may have been sent;
    what reaches here as a plain connection error is one of the never-sent kinds, which its message
    names. Anything else counts as sent: wrongly keeping a row uncertain costs a question, wrongly
    sending it again costs a second paid job.
    """
    return any(kind in exc.message for kind in ("ConnectError", "ConnectTimeout", "PoolTimeout"))


def _status_of(result: JobResult) -> str:
    if result.status in DONE_STATES:
        return "succeeded"
    if result.status in FAILED_STATES:
        return "failed"
    return "cancelled"


def _error_of(exc: RunComfyError) -> dict[str, Any]:
    error: dict[str, Any] = {"message": exc.message, "type": type(exc).__name__}
    if exc.status_code is not None:
        error["status_code"] = exc.status_code
    if exc.error_code is not None:
        error["error_code"] = exc.error_code
    return error


def _cost_of(body: Mapping[str, Any]) -> float | None:
    cost = body.get("cost")
    if isinstance(cost, dict):  # {"amount": ..., "currency": "USD"} and similar
        cost = cost.get("amount", cost.get("usd"))
    if isinstance(cost, (int, float)) and not isinstance(cost, bool) and math.isfinite(cost):
        return float(cost)
    if isinstance(cost, str):
        with contextlib.suppress(ValueError):
            value = float(cost)
            return value if math.isfinite(value) else None
    return None


def _plain(url: str) -> str:
    """A URL for messages: without its query (signed media URLs carry credentials there)."""
    return urlsplit(url)._replace(query="", fragment="").geturl()


# The run ------------------------------------------------------------------------------------------
_SET_SUBMITTING = "UPDATE rows SET state = 'submitting', submits = submits + 1, error = NULL WHERE seq = ?"
_SET_PENDING = "UPDATE rows SET state = 'pending' WHERE seq = ?"
_SET_SUBMITTED = "UPDATE rows SET state = 'submitted', request_id = ?, submitted_at = ? WHERE seq = ?"
_SET_UNCERTAIN = "UPDATE rows SET state = 'uncertain', error = ? WHERE seq = ?"
_SET_FINISHED = (
    "UPDATE rows SET state = 'finished', status = ?, request_id = ?, output = ?, error = ?, cost = ?, "
    "finished_at = ? WHERE seq = ?"
)
_SET_FILES = "UPDATE rows SET files = ? WHERE seq = ?"


class Batch:
    """A durable batch on an :class:`AsyncClient`; iterate it to run it (see the module's doc).

    ``async for result in batch`` yields each row's :class:`BatchResult` once: first the rows an
    earlier run finished (or left uncertain), then the rest as they finish. ``batch.stats`` holds live
    counts. If the service refuses the token or stays unreachable, the iteration ends by raising that
    error once the journal is consistent (submitted rows stay submitted: run again to resume).
    """

    def __init__(
        self,
        client: AsyncClient,
        rows: Iterable[Any] | PreparedRows,
        *,
        journal: str | os.PathLike[str],
        concurrency: int = 16,
        resubmit_uncertain: bool = False,
        max_cost: float | None = None,
        output_dir: str | os.PathLike[str] | None = None,
        check_media: bool = True,
        poll_interval: float = 1.0,
        max_poll_interval: float = 10.0,
        unreachable_after: float = 60.0,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if max_cost is not None and not (max_cost >= 0 and math.isfinite(max_cost)):
            raise ValueError("max_cost must be a finite number >= 0")
        self._client = client
        self._items = rows
        self.journal_path = Path(journal)
        self.concurrency = concurrency
        self.resubmit_uncertain = resubmit_uncertain
        self.max_cost = max_cost
        self.output_dir = Path(output_dir) if output_dir is not None else None
        self.check_media = check_media
        self.poll_interval = poll_interval
        self.max_poll_interval = max_poll_interval
        self.stats = BatchStats(concurrency=float(concurrency))
        self._pacer = _Pacer(concurrency)
        self._health = _Health(unreachable_after)
        self._journal: Journal | None = None
        self._phase: dict[int, str] = {}
        self._pending: deque[_Row] = deque()
        self._tasks: dict[asyncio.Task[None], str] = {}
        self._wake = asyncio.Event()
        self._results: asyncio.Queue[BatchResult | None] = asyncio.Queue()
        self._abort: RunComfyError | None = None
        self._prices: dict[str, float | None] = {}
        self._estimates: dict[int, float] = {}
        """Estimated cost of each job in flight (with ``max_cost``), and their sum."""
        self._estimated = 0.0
        self._kinds: Counter[str] = Counter()
        self._downloads = asyncio.Semaphore(DOWNLOADS_AT_ONCE)
        self._started = False

    def __aiter__(self) -> AsyncGenerator[BatchResult, None]:
        if self._started:
            raise RuntimeError("a Batch runs once: call run_batch again to resume it")
        self._started = True
        return self._run()

    def write_results(self, path: str | os.PathLike[str]) -> None:
        """Write ``path`` (JSON lines, one per row, input order) from the journal, atomically."""
        write_results(self.journal_path, path)

    # Bookkeeping ------------------------------------------------------------------------------
    def _set_phase(self, row: _Row, phase: str) -> None:
        before = self._phase.get(row.seq)
        if before is not None:
            setattr(self.stats, before, getattr(self.stats, before) - 1)
        self._phase[row.seq] = phase
        setattr(self.stats, phase, getattr(self.stats, phase) + 1)

    def _spawn(self, work: Any, kind: str) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks[task] = kind
        self._kinds[kind] += 1
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        kind = self._tasks.pop(task, None)
        if kind is not None:
            self._kinds[kind] -= 1
        self._wake.set()
        if not task.cancelled() and task.exception() is not None and self._abort is None:
            exc = task.exception()
            self._abort = exc if isinstance(exc, RunComfyError) else JournalError(f"batch stopped: {exc!r}")

    def _stop(self, error: RunComfyError) -> None:
        if self._abort is None:
            self._abort = error
            self.stats.stopped = error.message
        self._wake.set()

    def _in_flight(self) -> int:
        """Jobs being submitted or followed (a row downloading its files no longer counts)."""
        return len(self._tasks) - self._kinds["files"]

    def _drop_estimate(self, row: _Row) -> None:
        self._estimated -= self._estimates.pop(row.seq, 0.0)

    # Running ----------------------------------------------------------------------------------
    async def _run(self) -> AsyncGenerator[BatchResult, None]:
        reported = isinstance(self._items, PreparedRows)  # the caller prepared them and told the user
        prepared = prepare_rows(self._items, safe_ids=self.output_dir is not None)
        if not reported:
            for note in prepared.warnings:
                warnings.warn(note, UserWarning, stacklevel=2)
        rows = prepared.rows
        journal = Journal(self.journal_path)
        records = journal.open(rows, resubmit_uncertain=self.resubmit_uncertain)
        self._journal = journal
        by_id = {row.id: row for row in rows}
        follow: list[tuple[_Row, str]] = []
        fetch: list[tuple[_Row, BatchResult]] = []
        self.stats.total = len(rows)
        early: list[BatchResult] = []
        for record in records:
            row = by_id[record.id]
            # the journal's numbering wins: the input may list the same rows in another order
            row.seq = record.seq
            if record.state == "pending":
                self._set_phase(row, "pending")
                self._pending.append(row)
            elif record.state == "submitted" and record.request_id:
                self._set_phase(row, "queued")
                follow.append((row, record.request_id))
            elif record.state == "finished":
                self._set_phase(row, record.status or "failed")
                self.stats.cost += record.cost or 0.0
                result = record.result()
                if self.output_dir is not None and result.status == "succeeded" and record.files is None:
                    fetch.append((row, result))
                else:
                    early.append(result)
            else:
                self._set_phase(row, "uncertain")
                self.stats.uncertain_ids.append(row.id)
                early.append(record.result())
        del records
        driver = asyncio.get_running_loop().create_task(self._drive(follow, fetch))
        try:
            for result in early:
                yield result
            del early
            while True:
                item = await self._results.get()
                if item is None:
                    break
                yield item
            await driver
            if self._abort is not None:
                raise self._abort
        finally:
            if not driver.done():
                driver.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await driver
            self._journal = None
            with contextlib.suppress(BaseException):
                await journal.drain()
            journal.close()

    async def _drive(self, follow: list[tuple[_Row, str]], fetch: list[tuple[_Row, BatchResult]]) -> None:
        budget_stop: str | None = None
        try:
            for row, request_id in follow:
                self._spawn(self._job(row, request_id), "job")
            for row, result in fetch:
                self._spawn(self._fetch_files(row, result), "files")
            while self._abort is None:
                pause = self._pacer.pause_left()
                if self._pending and not pause and self._in_flight() < self._pacer.allowed():
                    row = self._pending.popleft()
                    if not await self._within_budget(row):
                        self._pending.appendleft(row)
                        # the count of rows left pending is added once the jobs in flight end (it can
                        # still change: a submit already spawned, or one sent back by a 429)
                        budget_stop = self.stats.stopped = (
                            f"--max-cost ${self.max_cost:g}: recorded ${self.stats.cost:.4f} plus the estimate "
                            f"of the jobs in flight and the next one would pass it"
                        )
                        break
                    self._spawn(self._job(row, None), "job")
                    continue
                if not self._pending and not self._tasks:
                    break
                self._wake.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=pause or None)
            if self._abort is not None:
                for task, kind in list(self._tasks.items()):
                    if kind != "submitting":
                        task.cancel()
            while self._tasks:
                await asyncio.wait(list(self._tasks))
        finally:
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.wait(list(self._tasks))
            if budget_stop is not None and self.stats.stopped == budget_stop:
                self.stats.stopped = (
                    f"{budget_stop}; {self.stats.pending} row(s) left pending for a later run"
                )
            self._results.put_nowait(None)

    def _mark(self, kind: str) -> None:
        task = asyncio.current_task()
        if task is not None and task in self._tasks:
            self._kinds[self._tasks[task]] -= 1
            self._kinds[kind] += 1
            self._tasks[task] = kind

    async def _write(self, sql: str, *params: Any) -> None:
        assert self._journal is not None
        await self._journal.write(sql, params)

    async def _job(self, row: _Row, request_id: str | None) -> None:
        fresh = request_id is None
        if request_id is None:
            request_id = await self._submit(row)
            if request_id is None:
                return
        result = await self._follow(row, request_id, fresh=fresh)
        if result is not None and self.output_dir is not None and result.status == "succeeded":
            self._mark("files")
            await self._fetch_files(row, result)
        elif result is not None:
            self._results.put_nowait(result)

    async def _submit(self, row: _Row) -> str | None:
        if row.model is not None and self.check_media and row.model.runcomfy_media_rules:
            try:
                await self._client.check_media(row.model)
            except (MediaValidationError, MediaProbeError) as exc:  # refused here: nothing is sent
                self._results.put_nowait(
                    await self._finish(row, None, "failed", None, _error_of(exc), None, None)
                )
                return None
        self._mark("submitting")
        await self._write(_SET_SUBMITTING, row.seq)  # committed and synced before anything is sent
        self._set_phase(row, "submitting")
        try:
            body = await self._client._request(
                Call("POST", submit_path(row.model_id), row.payload(), is_submit=True)
            )
        except SubmitUncertainError as exc:
            await self._uncertain(row, exc.message)
            return None
        except RateLimitError as exc:
            self._pacer.on_rate_limited(exc.retry_after)
            self.stats.concurrency = self._pacer.limit
            await self._back_to_pending(row)
            return None
        except (AuthenticationError, PermissionDeniedError) as exc:
            await self._back_to_pending(row)
            self._stop(exc)
            return None
        except InsufficientBalanceError as exc:
            await self._back_to_pending(row)
            if self.stats.stopped is None:
                self.stats.stopped = f"the service refused a submit: {exc.message}"
            self._pending.clear()
            return None
        except APIStatusError as exc:  # 400/404/422...: refused, so no job exists
            self._results.put_nowait(
                await self._finish(row, None, "failed", None, _error_of(exc), None, None)
            )
            return None
        except APIConnectionError as exc:
            if not _never_sent(exc):  # a reply that was not a JSON object, and the like: it did arrive
                await self._uncertain(row, f"{exc.message}; the job may exist")
                return None
            await self._back_to_pending(row)  # it never reached the service (the client retried already)
            self._pacer.pause(UNREACHABLE_PAUSE)
            if self._health.failed():
                self._stop(APIConnectionError(f"the service stayed unreachable: {exc.message}"))
            return None
        request_id = body.get("request_id") if isinstance(body, dict) else None
        if not isinstance(request_id, str) or not request_id:
            await self._uncertain(row, "the submit reply carried no request id; the job may exist")
            return None
        await self._write(_SET_SUBMITTED, request_id, _now(), row.seq)
        self._mark("job")
        self._health.ok()
        self._pacer.on_accepted()
        self.stats.concurrency = self._pacer.limit
        self._set_phase(row, "queued")
        return request_id

    async def _back_to_pending(self, row: _Row) -> None:
        await self._write(_SET_PENDING, row.seq)
        self._drop_estimate(row)
        self._set_phase(row, "pending")
        self._pending.appendleft(row)

    async def _uncertain(self, row: _Row, reason: str) -> None:
        await self._write(_SET_UNCERTAIN, _dumps(reason), row.seq)
        self._drop_estimate(row)
        self._set_phase(row, "uncertain")
        self.stats.uncertain_ids.append(row.id)
        self._results.put_nowait(BatchResult(row.id, row.model_id, None, "uncertain", error=reason))

    async def _follow(self, row: _Row, request_id: str, *, fresh: bool) -> BatchResult | None:
        delay = self.poll_interval
        if fresh:  # a job just submitted is not done yet: do not ask at once
            await asyncio.sleep(delay)
        while self._abort is None:
            try:
                status = await self._client.status(request_id)
                if status.is_final:
                    body = await self._client._request(
                        Call(
                            "GET",
                            request_path(request_id, "result") + "?include_cost=true",
                            request_id=request_id,
                        )
                    )
                    result = JobResult.model_validate(body)
                    if result.status in FINAL_STATES:  # else the result lags the status: ask again
                        self._health.ok()
                        return await self._finish(
                            row, request_id, _status_of(result), result.output, result.error, _cost_of(body),
                            result.finished_at,
                        )  # fmt: skip
                else:
                    self._set_phase(row, "queued" if status.status == QUEUED else "running")
                self._health.ok()
            except NotFoundError as exc:  # expired, or a journal used against another service
                return await self._finish(row, request_id, "failed", None, _error_of(exc), None, None)
            except (AuthenticationError, PermissionDeniedError) as exc:
                self._stop(exc)
                return None
            except (RunComfyError, ValueError) as exc:  # retries spent, or a malformed reply: try later
                if isinstance(exc, RateLimitError):
                    self._pacer.on_rate_limited(exc.retry_after)
                if self._health.failed():
                    message = exc.message if isinstance(exc, RunComfyError) else str(exc).splitlines()[0]
                    self._stop(APIConnectionError(f"the service stayed unreachable: {message}"))
                    return None
            await asyncio.sleep(delay)
            delay = min(delay * POLL_FACTOR, self.max_poll_interval)
        return None

    async def _finish(
        self,
        row: _Row,
        request_id: str | None,
        status: str,
        output: dict[str, Any] | None,
        error: Any,
        cost: float | None,
        finished_at: str | None,
    ) -> BatchResult:
        finished_at = finished_at or _now()
        await self._write(
            _SET_FINISHED, status, request_id, _dumps(output), _dumps(error), cost, finished_at, row.seq
        )
        self._drop_estimate(row)
        self._set_phase(row, status)
        self.stats.cost += cost or 0.0
        self.stats.finished_this_run += 1
        return BatchResult(
            row.id, row.model_id, request_id, status, output, error, cost, finished_at=finished_at
        )

    async def _fetch_files(self, row: _Row, result: BatchResult) -> None:
        assert self.output_dir is not None
        files: list[str] | None = None
        try:
            async with self._downloads:
                files = await self._download_all(row, result.output or {})
            await self._write(_SET_FILES, _dumps(files), row.seq)
        except (OSError, RunComfyError, httpx.HTTPError, asyncio.TimeoutError) as exc:
            self.stats.download_failures += 1
            message = exc.message if isinstance(exc, RunComfyError) else f"{type(exc).__name__}: {exc}"
            result = dataclasses.replace(result, error={"download": message})
            files = None
        self._results.put_nowait(dataclasses.replace(result, files=files))

    async def _download_all(self, row: _Row, output: Mapping[str, Any]) -> list[str]:
        assert self.output_dir is not None
        refused = refused_output_urls(dict(output))
        if refused:  # a javascript:/file: ... output URL is never opened: the row's download fails
            raise DownloadError("; ".join(refused))
        folder = self.output_dir / row.id
        folder.mkdir(parents=True, exist_ok=True)
        files: list[str] = []
        for name, index, url in output_targets(dict(output)):
            target = folder / output_file_name(name, index, url)
            if not target.exists():  # a file that exists was renamed into place complete
                await asyncio.wait_for(self._download(url, target), DOWNLOAD_DEADLINE)
            files.append(target.relative_to(self.output_dir).as_posix())
        return files

    async def _download(self, url: str, target: Path) -> None:
        """One output file, by the package's one download implementation (``_download``): no API
        token (the pooled client's requests carry none), a cap, atomic rename, resumed after a drop."""
        await adownload(
            url, target, max_bytes=DOWNLOAD_CAP, timeout=DOWNLOAD_DEADLINE, http=self._client._http
        )

    # Cost -------------------------------------------------------------------------------------
    async def _price(self, model_id: str) -> float | None:
        if model_id not in self._prices:
            price: float | None = None
            try:
                body = await self._client._request(Call("GET", submit_path(model_id)))
            except RunComfyError:
                body = {}
            value = body.get("base_price_usd") if isinstance(body, dict) else None
            if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                price = float(value)
            self._prices[model_id] = price
        return self._prices[model_id]

    async def _within_budget(self, row: _Row) -> bool:
        if self.max_cost is None:
            return True
        estimate = await self._price(row.model_id)
        if estimate is None:  # no price from the service: the mean recorded cost so far, else nothing
            finished = self.stats.done
            estimate = self.stats.cost / finished if finished and self.stats.cost else 0.0
        if self.stats.cost + self._estimated + estimate > self.max_cost + 1e-9:
            return False
        self._estimates[row.seq] = estimate
        self._estimated += estimate
        return True
