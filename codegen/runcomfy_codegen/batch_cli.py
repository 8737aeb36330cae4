"""``runcomfy-codegen batch``: a durable batch of jobs from a JSON-lines file.

The work is done by the runtime's ``_batch`` module (``AsyncClient.run_batch``); this module reads the
input file, shows progress, writes the results file and maps the outcome to an exit code.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runcomfy_codegen.cli_common import err as _err
from runcomfy_codegen.cli_common import positive_seconds, warn

if TYPE_CHECKING:
    from runcomfy_models._batch import Batch, BatchRow, BatchStats, PreparedRows

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNCERTAIN, EXIT_SERVICE, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130
PLAIN_EVERY = 5.0
"""Seconds between one-line progress summaries when stderr is not a terminal."""
MAX_LISTED = 20
EXIT_CODES_HELP = """exit codes:
  0    every row succeeded
  1    some rows failed or were cancelled, or were left pending (--max-cost, balance), or the
       results file could not be written at the end (the journal has every row: run again)
  2    bad input, no RUNCOMFY_API_TOKEN, an unusable --journal/--results/--output-dir path
       (a folder, a missing or read-only folder), or a journal made for another input: nothing was sent
  3    uncertain rows: their submit may have reached the service (--resubmit-uncertain sends them again)
  4    the service refused the token or stayed unreachable mid-run: nothing more was submitted
  130  interrupted (Ctrl-C)
After any of them the journal is consistent: run the same command again to resume."""


def register(sub: Any) -> None:
    """Add the ``batch`` command to the CLI's sub-parsers."""
    p = sub.add_parser(
        "batch",
        help="run a JSON-lines file of jobs durably: resumable after a crash, never submitted twice",
        description='Each line: {"id": ..., "model_id": ..., "input": {...}} (id defaults to the line '
        "number). Running the same command again resumes the batch from its journal.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", metavar="INPUT.jsonl", help='one job a line: {"id", "model_id", "input"}')
    p.add_argument("--journal", required=True, metavar="FILE", help="SQLite journal (created if missing)")
    p.add_argument("--results", required=True, metavar="OUT.jsonl", help="one JSON line per input row")
    p.add_argument("--concurrency", type=int, default=16, help="jobs in flight at most (default 16)")
    p.add_argument("--output-dir", metavar="DIR", help="download each row's output files to DIR/<id>/")
    p.add_argument(
        "--resubmit-uncertain",
        action="store_true",
        help="submit again rows whose submit may have reached the service",
    )
    p.add_argument(
        "--max-cost", type=float, metavar="USD", help="stop submitting before the cost would pass USD"
    )
    p.add_argument(
        "--no-media-check", action="store_true", help="skip the custom media rules before submitting"
    )
    p.add_argument(
        "--poll-interval",
        type=positive_seconds,
        default=1.0,
        metavar="S",
        help="first status poll delay (default 1)",
    )
    p.add_argument(
        "--unreachable-after", type=positive_seconds, default=60.0, metavar="S",
        help="give up (exit 4) once every call has failed for S seconds (default 60)",
    )  # fmt: skip
    p.set_defaults(func=cmd_batch)


def read_rows(path: Path) -> tuple[list[BatchRow], list[str]]:
    """The rows of a JSON-lines file, and its problems (``FILE:LINE: ...``). Blank lines are skipped."""
    from runcomfy_models._batch import BatchRow

    def no_constant(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    rows: list[BatchRow] = []
    problems: list[str] = []
    with open(path, encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            where = f"{path}:{number}"
            try:
                value = json.loads(text, parse_constant=no_constant)
            except json.JSONDecodeError as exc:
                problems.append(f"{where}: not JSON: {exc.msg} (column {exc.colno})")
                continue
            except ValueError as exc:
                problems.append(f"{where}: {exc}")
                continue
            if not isinstance(value, dict):
                problems.append(f"{where}: a line must be a JSON object, got {type(value).__name__}")
                continue
            unknown = sorted(set(value) - {"id", "model_id", "input"})
            missing = [key for key in ("model_id", "input") if key not in value]
            if unknown or missing:
                parts = [f"missing {', '.join(missing)}"] if missing else []
                parts += [f"unknown key(s) {', '.join(map(repr, unknown))}"] if unknown else []
                problems.append(f"{where}: {'; '.join(parts)} (a line has id, model_id, input)")
                continue
            rows.append(BatchRow(value["model_id"], value["input"], value.get("id"), line=number))
    return rows, problems


def _writable_file(path: Path, what: str, *, makes_folder: bool) -> str | None:
    """Why a file cannot be written at ``path`` (created or replaced there), or ``None``.

    ``makes_folder``: the writer creates missing parent folders (the results file's does)."""
    if path.is_dir():
        return f"{what} {path}: is a folder, not a file"
    if path.exists() and not path.is_file():
        return f"{what} {path}: is not a regular file"
    if makes_folder:
        return _writable_folder(path.parent, what, shown=path)
    parent = path.parent
    if not parent.is_dir():
        return f"{what} {path}: its folder {parent} does not exist"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"{what} {path}: its folder {parent} is not writable"
    return None


def _writable_folder(path: Path, what: str, *, shown: Path | None = None) -> str | None:
    """Why a folder cannot be used (or created) at ``path``, or ``None``."""
    shown = path if shown is None else shown
    if path.exists():
        if not path.is_dir():
            return f"{what} {shown}: {path} exists and is not a folder"
        return None if os.access(path, os.W_OK | os.X_OK) else f"{what} {shown}: {path} is not writable"
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"{what} {shown}: {ancestor} is not a folder"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f"{what} {shown}: cannot create {path} in {ancestor} (not writable)"
    return None


def check_paths(args: argparse.Namespace) -> list[str]:
    """Problems with ``--journal``, ``--results`` and ``--output-dir``, found before anything is sent."""
    journal, results = Path(args.journal), Path(args.results)
    problems = [
        problem
        for problem in (
            _writable_file(journal, "--journal", makes_folder=False),
            _writable_file(results, "--results", makes_folder=True),
            _writable_folder(Path(args.output_dir), "--output-dir") if args.output_dir is not None else None,
        )
        if problem is not None
    ]
    if not problems:
        given = Path(args.input).resolve()
        if journal.resolve() == results.resolve():
            problems.append(f"--results {results}: is the journal itself; give another file")
        for option, path in (("--journal", journal), ("--results", results)):
            if path.resolve() == given:
                problems.append(f"{option} {path}: is the input file itself; give another file")
    return problems


def _prepare(args: argparse.Namespace) -> PreparedRows | int:
    from runcomfy_models._batch import BatchInputError, prepare_rows

    path = Path(args.input)
    try:
        rows, problems = read_rows(path)
    except (OSError, UnicodeDecodeError) as exc:
        _err(f"{path}: cannot read: {exc}")
        return EXIT_USAGE
    if not problems:
        try:
            prepared = prepare_rows(rows, safe_ids=args.output_dir is not None)
        except BatchInputError as exc:
            problems = [f"{path}: {problem}" for problem in exc.problems]
    for problem in problems[:MAX_LISTED]:
        _err(problem)
    if problems:
        more = f" ({len(problems) - MAX_LISTED} more not shown)" if len(problems) > MAX_LISTED else ""
        _err(f"{len(problems)} bad line(s){more}; nothing was sent")
        return EXIT_USAGE
    if not prepared.rows:
        _err(f"{path}: no rows; nothing to do")
        return EXIT_USAGE
    for note in prepared.warnings:
        warn(note)
    return prepared


class _Progress:
    """A rich bar on a terminal; otherwise a one-line summary every few seconds (both on stderr)."""

    def __init__(self, stats: BatchStats) -> None:
        self.stats = stats
        self.bar: Any = None
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn("batch"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[counts]}"),
                TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
                console=Console(stderr=True), transient=True,
            )  # fmt: skip
            self.task = self.bar.add_task("batch", total=None, counts="", rate="")

    async def run(self) -> None:
        import asyncio

        if self.bar is None:
            while True:
                await asyncio.sleep(PLAIN_EVERY)
                print(f"batch: {self.stats.line()}", file=sys.stderr, flush=True)
        with self.bar:
            while True:
                self.refresh()
                await asyncio.sleep(0.2)

    def refresh(self) -> None:
        s = self.stats
        counts = (
            f"queued {s.queued + s.submitting} running {s.running} done {s.succeeded} failed {s.failed + s.cancelled}"
            + (f" uncertain {s.uncertain}" if s.uncertain else "")
        )
        self.bar.update(
            self.task, total=s.total, completed=s.done + s.uncertain, counts=counts, rate=f"{s.rate():.1f}/s"
        )


async def _drive(
    args: argparse.Namespace, prepared: PreparedRows, holder: dict[str, Batch]
) -> BaseException | None:
    import asyncio  # here, not at the top: every CLI command imports this module (check stays fast)

    import runcomfy_models

    async with runcomfy_models.AsyncClient() as client:
        batch = holder["batch"] = client.run_batch(
            prepared,
            journal=args.journal,
            concurrency=args.concurrency,
            resubmit_uncertain=args.resubmit_uncertain,
            max_cost=args.max_cost,
            output_dir=args.output_dir,
            check_media=not args.no_media_check,
            poll_interval=args.poll_interval,
            unreachable_after=args.unreachable_after,
        )
        progress = _Progress(batch.stats)
        reporter = asyncio.get_running_loop().create_task(progress.run())
        try:
            async with contextlib.aclosing(batch.__aiter__()) as results:
                async for result in results:
                    if isinstance(result.error, dict) and "download" in result.error:
                        print(
                            f"batch: row {result.id}: files not downloaded: {result.error['download']}",
                            file=sys.stderr,
                        )
        except runcomfy_models.RunComfyError as exc:
            return exc
        finally:
            reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporter
        return None


def _summary(stats: BatchStats, results: str, elapsed: float) -> None:
    s = stats
    print(
        f"batch: {s.total} row(s): {s.succeeded} succeeded, {s.failed} failed, {s.cancelled} cancelled, "
        f"{s.uncertain} uncertain, {s.pending} pending, {s.queued + s.running + s.submitting} in flight; "
        f"cost ${s.cost:.4f}; {elapsed:.1f} s; results in {results}",
        file=sys.stderr,
    )
    if s.stopped:
        print(f"batch: stopped submitting: {s.stopped}", file=sys.stderr)
    if s.download_failures:
        print(f"batch: {s.download_failures} row(s) whose files did not download: run again", file=sys.stderr)
    if s.uncertain_ids:
        listed = ", ".join(s.uncertain_ids[:MAX_LISTED]) + (
            " ..." if len(s.uncertain_ids) > MAX_LISTED else ""
        )
        print(
            f"batch: {len(s.uncertain_ids)} uncertain row(s), whose submit may have reached the service: {listed}. "
            "Check your RunComfy requests, then run again with --resubmit-uncertain to submit them again",
            file=sys.stderr,
        )


def cmd_batch(args: argparse.Namespace) -> int:
    try:
        return _batch(args)
    except KeyboardInterrupt:
        print("batch: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _batch(args: argparse.Namespace) -> int:
    import asyncio
    import os

    if args.concurrency < 1:
        _err("--concurrency must be at least 1")
        return EXIT_USAGE
    if args.max_cost is not None and not (math.isfinite(args.max_cost) and args.max_cost >= 0):
        _err("--max-cost must be a number >= 0")
        return EXIT_USAGE
    if not os.environ.get("RUNCOMFY_API_TOKEN"):
        _err("no API token: set RUNCOMFY_API_TOKEN; nothing was sent")
        return EXIT_USAGE
    problems = check_paths(args)
    for problem in problems:
        _err(f"{problem}; nothing was sent")
    if problems:
        return EXIT_USAGE
    from runcomfy_models import RunComfyError
    from runcomfy_models._batch import JournalError, write_results

    prepared = _prepare(args)
    if isinstance(prepared, int):
        return prepared
    started = time.monotonic()
    holder: dict[str, Batch] = {}
    interrupted = False
    error: BaseException | None = None
    try:
        error = asyncio.run(_drive(args, prepared, holder))
    except KeyboardInterrupt:
        interrupted = True
    except RunComfyError as exc:  # the client could not be built (a bad token or base URL)
        _err(exc.message)
        return EXIT_USAGE
    batch = holder.get("batch")
    if batch is None or (isinstance(error, JournalError) and batch.stats.total == 0):
        # the journal could not be opened (another input's, in use, not a journal): nothing was sent
        _err(error.message if isinstance(error, RunComfyError) else "interrupted before the batch began")
        return EXIT_INTERRUPTED if interrupted else EXIT_USAGE
    results_error: str | None = None
    try:
        write_results(args.journal, args.results)
    except (JournalError, OSError) as exc:
        results_error = f"--results {args.results}: not written: {exc}"
    stats = batch.stats
    _summary(stats, args.results if results_error is None else "(not written)", time.monotonic() - started)
    code = _exit_code(interrupted, error, stats)
    if results_error is not None:
        _err(
            f"{results_error}; every row is in the journal: fix the path and run the same command again "
            "to write them (nothing is sent again)"
        )
        return code if code != EXIT_OK else EXIT_FAILED
    return code


def _exit_code(interrupted: bool, error: BaseException | None, stats: BatchStats) -> int:
    from runcomfy_models import APIConnectionError, APIStatusError, RunComfyError

    if interrupted:
        print(
            "batch: interrupted; the journal is consistent: run the same command again to resume",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    if error is not None:
        _err(error.message if isinstance(error, RunComfyError) else str(error))
        if isinstance(error, (APIConnectionError, APIStatusError)):
            print("batch: nothing more was submitted; run the same command again to resume", file=sys.stderr)
            return EXIT_SERVICE
        return EXIT_USAGE
    if stats.uncertain:
        return EXIT_UNCERTAIN
    if stats.failed or stats.cancelled or stats.pending or stats.download_failures or stats.in_flight:
        return EXIT_FAILED
    return EXIT_OK


__all__ = ["cmd_batch", "read_rows", "register"]
