"""The ``runcomfy-codegen`` command line (also ``python -m runcomfy_codegen``)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runcomfy_codegen._errors import CodegenError
from runcomfy_codegen.cli_common import (
    EXIT_BROKEN_PIPE,
    EXIT_CODES_HELP,
    EXIT_FAIL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    err,
    exit_codes,
    note,
    warn,
)

if TYPE_CHECKING:
    from rich.progress import Progress

    from runcomfy_codegen.render_worker import WarmRenderer


def _store(folder: str, option: str = "--schemas") -> Path:
    """The schema store folder, or a usage error that says where it looked and what to do."""
    path = Path(folder)
    if path.is_dir():
        return path
    from runcomfy_codegen.schema.store import missing_store

    raise missing_store(path, option)


def cmd_import(args: argparse.Namespace) -> int:
    from runcomfy_codegen.importer import expand_sources, import_source

    sources = expand_sources(args.sources)  # strings: a URL keeps its '//'
    if args.model_id and len(sources) > 1:
        err("--model-id names one model: give one source with it")
        return EXIT_USAGE
    errors = changed = 0
    for source in sources:
        try:
            result = import_source(
                source,
                Path(args.schemas),
                model_id=args.model_id,
                allow_unknown=args.allow_unknown,
                check_only=args.check,
            )
        except CodegenError as exc:
            err(str(exc))
            errors += 1
            continue
        for warning in result.warnings:
            warn(warning)
        if result.status != "unchanged":
            changed += 1
        verb = {"added": "would add", "changed": "would change"}.get(result.status) if args.check else None
        files = f" ({', '.join(p.name for p in result.written)})" if result.written else ""
        print(f"{source}: {result.model_id}: {verb or result.status}{files}")
    if errors:
        return EXIT_USAGE
    return EXIT_FAIL if args.check and changed else EXIT_OK


def _progress_bar() -> Progress:
    """A transient progress bar on stderr (stdout keeps the one-line summary)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("generating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, console=Console(stderr=True), transient=True)


class _LazyProgress:
    """The progress bar of ``generate`` on a terminal, shown from the first model reported: a
    ``generate`` that renders one model, or none, reports none, and never loads rich or counts
    the store."""

    def __init__(self, total: Callable[[], int]) -> None:
        self._total = total
        self._bar: Progress | None = None
        self._task: Any = None

    def __call__(self, _model_id: str) -> None:
        if self._bar is None:
            self._bar = _progress_bar()
            self._bar.start()
            self._task = self._bar.add_task("generate", total=self._total())
        self._bar.advance(self._task)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def cmd_generate(args: argparse.Namespace) -> int:
    # main() started the warm renderer first thing (a child loading the schema parser and the
    # templates while this process loads the pipeline and stats the tree; see render_worker).
    renderer = args.renderer if args.model_ids == [] else None
    from runcomfy_codegen import pipeline

    wanted = args.model_ids or None

    out = Path(args.out)
    progress = None
    try:
        schemas = _store(args.schemas)
        if sys.stderr.isatty():
            progress = _LazyProgress(lambda: len(wanted) if wanted else len(pipeline.discover(schemas)))
        result = pipeline.generate(
            schemas,
            out,
            wanted,
            allow_unknown=args.allow_unknown,
            keep_going=args.keep_going,
            progress=progress,
            renderer=renderer,
        )
    except CodegenError as exc:
        err(str(exc))
        return EXIT_USAGE
    finally:
        if progress is not None:
            progress.close()
    for warning in result.warnings:
        warn(warning)
    for error in result.errors:
        err(f"refused: {error}")
    if result.diff is None:
        print(f"nothing written: {len(result.errors)} schema(s) refused (use --keep-going to write the rest)")
        return EXIT_USAGE
    diff = result.diff
    print(
        f"generated {len(result.models)} model(s) into {out / pipeline.PACKAGE}: "
        f"{len(diff.added)} added, {len(diff.changed)} changed, {len(diff.removed)} removed, "
        f"{diff.unchanged} unchanged" + (f"; {len(result.errors)} refused" if result.errors else "")
    )
    return EXIT_USAGE if result.errors else EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    import time

    started = time.time_ns()  # anything changed after this is racy in the state recorded below
    try:
        schemas = _store(args.schemas)
    except CodegenError as exc:
        err(str(exc))
        return EXIT_USAGE
    out = Path(args.out)
    package = out / "runcomfy_models"
    clean = f"no drift: {package} matches {schemas} (tree state and manifest hashes; --full to render and compare)"
    if not args.full:
        from runcomfy_codegen.treestate import recorded

        state = recorded(out, "runcomfy_models", schemas)
        if state is not None and (args.allow_unknown or not state.lenient):  # see treestate
            now = state.scan()
            suspects = state.suspects(now)
            if not suspects:
                print(clean)
                return EXIT_OK
            from runcomfy_codegen.incremental import judge, refresh

            if judge(state, now, suspects).clean:
                refresh(state, now, suspects, started)
                print(clean)
                return EXIT_OK
        from runcomfy_codegen.hashcache import HashCache, cache_path
        from runcomfy_codegen.incremental import record_clean
        from runcomfy_codegen.manifest import MANIFEST, is_up_to_date

        cache = HashCache(cache_path(out, "runcomfy_models"))
        # A module built with --allow-unknown (the cache or the last state says so): a strict check
        # renders, as a strict generate would, and may refuse it.
        lenient = bool(cache.lenient) or (state is not None and state.lenient)
        if (args.allow_unknown or not lenient) and is_up_to_date(schemas, package, cache):
            record_clean(schemas, package, (package / MANIFEST).read_bytes(), started, lenient)
            cache.save()  # like git's index refresh: the next check reads only what changed
            print(clean)
            return EXIT_OK
    from runcomfy_codegen import pipeline

    try:
        result = pipeline.check(schemas, out, allow_unknown=args.allow_unknown)
    except CodegenError as exc:
        err(str(exc))
        return EXIT_USAGE
    if result.errors:
        for error in result.errors:
            err(str(error))
        return EXIT_USAGE
    assert result.diff is not None
    diff = result.diff
    if diff.clean:
        print(f"no drift: {out / pipeline.PACKAGE} matches {schemas} ({len(result.models)} models)")
        return EXIT_OK
    print(f"drift: {out / pipeline.PACKAGE} is out of date with {schemas}; run `runcomfy-codegen generate`")
    for label, paths in (("added", diff.added), ("changed", diff.changed), ("removed", diff.removed)):
        for rel in paths:
            print(f"  {label}: {rel}")
    return EXIT_FAIL


def cmd_list(args: argparse.Namespace) -> int:
    from runcomfy_codegen import pipeline
    from runcomfy_codegen.model_id import catalog_module

    try:
        found = pipeline.discover(_store(args.schemas))
    except CodegenError as exc:
        err(str(exc))
        return EXIT_USAGE
    modules: dict[str, str] = {}
    refused = 0
    for model_id, _folder in found:  # the ids generate takes on stdout; the ones it refuses on stderr
        try:
            catalog_module(model_id, modules)
        except CodegenError as exc:
            err(f"refused: {exc}")
            refused += 1
            continue
        print(model_id)
    return EXIT_USAGE if refused else EXIT_OK


def cmd_mock_server(args: argparse.Namespace) -> int:
    import math
    import signal

    from runcomfy_codegen.mock import Fault, MockServer

    for option, value in (("--queue-seconds", args.queue_seconds), ("--run-seconds", args.run_seconds)):
        if not (math.isfinite(value) and value >= 0):
            err(f"mock-server: {option} {value}: must be a number of seconds >= 0")
            return EXIT_USAGE
    if not 0 <= args.port <= 65535:
        err(f"mock-server: --port {args.port}: must be 0 (a free port) to 65535")
        return EXIT_USAGE
    if args.schemas is None:  # the default: ./schemas when there is one (its doc pages), else none
        args.schemas = "schemas"
    elif not Path(args.schemas).is_dir():
        what = "is not a folder" if Path(args.schemas).exists() else "does not exist"
        err(f"mock-server: --schemas {args.schemas}: {what} (the schema store whose doc pages it serves)")
        return EXIT_USAGE
    try:
        faults = [Fault.parse(text) for text in args.fault]
        server = MockServer(
            host=args.host,
            port=args.port,
            token=args.token,
            queue_seconds=args.queue_seconds,
            run_seconds=args.run_seconds,
            schemas=args.schemas,
        )
    except (ValueError, OSError) as exc:
        err(f"mock-server: {exc}")
        return EXIT_USAGE
    for fault in faults:
        server.inject(fault)
    print(server.base_url, flush=True)  # alone on the first line: scripts read it
    print(
        f"export RUNCOMFY_BASE_URL={shlex.quote(server.base_url)} RUNCOMFY_API_TOKEN={shlex.quote(args.token)}",
        flush=True,
    )
    note(
        f"mock RunComfy Model API at {server.base_url} (token {args.token!r}); media it serves: "
        f"{server.base_url}/media/<name>.png (an image the seed's rules accept) and /media/<name>.mp4; "
        "Ctrl-C stops it"
    )

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._httpd.server_close()
    return EXIT_OK


def cmd_diff(args: argparse.Namespace) -> int:
    from runcomfy_codegen.diff import BREAKING, WARNING, diff_stores
    from runcomfy_codegen.store import read_git_store, read_store

    try:
        if args.git:
            old_rev, sep, new_rev = args.git.partition("..")
            if not sep or not old_rev:
                raise CodegenError(
                    f"--git {args.git!r}: expected REV1..REV2 (REV2 may be empty for the work tree)"
                )
            old = read_git_store(old_rev, args.schemas)
            new = read_git_store(new_rev, args.schemas) if new_rev else read_store(Path(args.schemas))
        else:
            if len(args.stores) != 2:
                raise CodegenError("diff needs OLD_SCHEMAS_DIR NEW_SCHEMAS_DIR (or --git REV1..REV2)")
            old, new = read_store(Path(args.stores[0])), read_store(Path(args.stores[1]))
    except (CodegenError, OSError) as exc:
        err(str(exc))
        return EXIT_USAGE
    report = diff_stores(old, new)
    if args.format == "json":
        print(report.to_json())
    elif args.format == "markdown":
        print(report.to_markdown())
    else:
        from rich.console import Console

        console = Console(highlight=False, soft_wrap=True)
        colours = {BREAKING: "bold red", WARNING: "yellow", "info": "green"}
        for model in report.models:
            console.print(f"[bold]{model.model_id}[/bold] ({model.change})", markup=True)
            for c in model.changes:
                console.print(
                    f"  [{colours[c.severity]}]{c.severity:8}[/] {c.code:36} {c.where or '/'}  {c.message}",
                    markup=True,
                )
        console.print(
            f"{report.breaking} breaking, {report.warnings} warning(s), {len(report.models)} model(s) changed"
        )
    failing = report.breaking + (report.warnings if args.fail_on == "warning" else 0)
    return EXIT_FAIL if failing else EXIT_OK


def cmd_openapi(args: argparse.Namespace) -> int:
    import json

    from runcomfy_codegen.openapi import build_openapi
    from runcomfy_codegen.store import read_store

    try:
        document = build_openapi(read_store(_store(args.schemas)))
    except CodegenError as exc:
        err(str(exc))
        return EXIT_USAGE
    print(json.dumps(document, indent=2, ensure_ascii=False))
    return EXIT_OK


CORE_COMMANDS = ("check", "generate")
"""Commands whose parser is built without the job, batch and sync commands' modules."""


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The CLI's parser; ``command="check"`` or ``"generate"`` builds only what the core commands
    need (``check`` on an unchanged store, or ``generate`` after one edit, takes a few tens of
    milliseconds; the other commands' modules would add a third to it)."""
    parser = argparse.ArgumentParser(
        prog="runcomfy-codegen",
        description="Typed Python clients for the RunComfy Model API: generate them from JSON schemas, "
        "check them for drift, run jobs, serve a mock API.",
        epilog=EXIT_CODES_HELP.replace("exit codes:", "exit codes of run, wait, status, result, cancel:")
        + "\nother commands: 0 ok, 1 their documented negative result (drift, breaking change, store "
        "changed), 2 error (nothing written)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    store = "schema store folder (default: schemas)"

    p = sub.add_parser(
        "import",
        help="import a RunComfy model API doc page or JSON schema into the store",
        description="Import each SOURCE into the store: a saved doc page (text or HTML), a JSON schema "
        "file (with --model-id), an http(s) URL of a model's doc page (no other scheme), or a folder. A "
        "folder contributes the files under it that look like doc pages or schemas, *.txt, *.html, "
        "*.htm and *.json (hidden ones skipped); other files, such as a README or SOURCE.md, are left "
        "alone.",
        epilog=exit_codes("imported (or unchanged); with --check: the store would not change",
                          one="with --check: the store would change (nothing written)",
                          two="a source could not be read, fetched or decoded (nothing written for it)"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument(
        "sources", nargs="+", metavar="SOURCE", help="saved doc pages, JSON schema files or folders"
    )
    p.add_argument("--model-id", help="model id, required for a plain JSON schema file")
    p.add_argument("--schemas", default="schemas", help=store)
    p.add_argument("--allow-unknown", action="store_true", help="accept unknown keywords and rules")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if the store would change")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser(
        "generate",
        help="write the client package from the schema store",
        epilog=exit_codes("written", two="a schema or model id refused (the message names the file, "
                          "JSON pointer and reason), no store, or another generate holds the output folder"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("model_ids", nargs="*", metavar="MODEL_ID", help="only these models (default: all)")
    p.add_argument("--schemas", default="schemas", help=store)
    p.add_argument(
        "--out", default="generated", help="folder that receives runcomfy_models/ (default: generated)"
    )
    p.add_argument("--keep-going", action="store_true", help="leave refused schemas out and write the rest")
    p.add_argument(
        "--allow-unknown", action="store_true", help="accept unknown keywords and rules, recorded as warnings"
    )
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser(
        "check",
        help="schema-drift check: would generate change anything? (exit 1: drift)",
        epilog=exit_codes("no drift: generate would change nothing", one="drift (each file that differs is listed)",
                          two="a bad schema or no store"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("--schemas", default="schemas", help=store)
    p.add_argument(
        "--out", default="generated", help="folder holding the runcomfy_models/ to check (default: generated)"
    )
    p.add_argument(
        "--full", action="store_true", help="always render everything and compare (skip the manifest)"
    )
    p.add_argument("--allow-unknown", action="store_true", help="accept unknown keywords and rules")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser(
        "list",
        help="model ids in the store, one a line",
        description="Print the model id of every model in the store, one a line, sorted. An id that "
        "generate refuses (a segment Windows reserves such as CON or nul.txt, one ending in '.', two ids "
        "mapping to one module ...) is not printed: it is reported on stderr, one line each, and the "
        "exit code is 2.",
        epilog=exit_codes("every model id listed (each one generate takes)",
                          two="no store, or an id generate refuses (the others are still listed)"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("--schemas", default="schemas", help=store)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser(
        "diff",
        help="client-breaking changes between two schema stores (exit 1: breaking)",
        epilog=exit_codes("no breaking change (with --fail-on warning: no warning either)",
                          one="one or more breaking changes (with --fail-on warning: or warnings)",
                          two="a store or git revision could not be read, or a bad schema"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("stores", nargs="*", metavar="SCHEMAS_DIR", help="OLD_SCHEMAS_DIR NEW_SCHEMAS_DIR")
    p.add_argument(
        "--git", metavar="REV1..REV2", help="compare --schemas at two git revisions (REV2 empty: work tree)"
    )
    p.add_argument("--schemas", default="schemas", help="store folder inside the repository, for --git")
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text", help="report format")
    p.add_argument(
        "--fail-on", choices=("breaking", "warning"), default="breaking", help="what makes the exit code 1"
    )
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser(
        "openapi",
        help="an OpenAPI 3.1 document for every model, on stdout",
        epilog=exit_codes("the document was printed", two="a bad schema or no store"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("--schemas", default="schemas", help=store)
    p.set_defaults(func=cmd_openapi)

    p = sub.add_parser(
        "mock-server",
        help="run the embedded mock RunComfy Model API",
        description="Serve the mock RunComfy Model API until stopped. Stdout: the base URL alone on the "
        "first line, then an export line for RUNCOMFY_BASE_URL and RUNCOMFY_API_TOKEN. It serves "
        "/media/<name>.png and /media/<name>.mp4 (real media) for any name.",
        epilog="exit codes:\n  0    stopped (Ctrl-C or SIGTERM)\n  2    a bad option (negative --queue-seconds, "
        "a --schemas folder that does not exist, a bad --fault, a port in use); one line on stderr",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default)")
    p.add_argument("--token", default="mock-token", help="the bearer token it accepts (default: mock-token)")
    p.add_argument(
        "--schemas",
        default=None,
        help="schema store whose doc pages it serves at /models/<model_id>/api (default: ./schemas if "
        "present; a folder given here must exist)",
    )
    p.add_argument(
        "--queue-seconds", type=float, default=0.2, help="how long a job stays in_queue (default: 0.2)"
    )
    p.add_argument(
        "--run-seconds", type=float, default=0.3, help="how long a job stays in_progress (default: 0.3)"
    )
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        help="inject a fault, e.g. 503:2 or delay;seconds=5 (repeatable)",
    )
    p.set_defaults(func=cmd_mock_server)

    if command in CORE_COMMANDS:
        return parser
    from runcomfy_codegen import batch_cli, jobs_cli, sync_cli

    jobs_cli.register(sub)  # run, wait, status, result, cancel
    sync_cli.register(sub)  # sync (import URL goes through import)
    batch_cli.register(sub)  # batch
    for name in PACKAGE_COMMANDS:
        sub.choices[name].add_argument(
            "--out",
            dest="package_out",
            metavar="DIR",
            help="use the runcomfy_models package in DIR (what `generate --out DIR` wrote); "
            "default: the one installed with this generator (the project's generated/)",
        )
    return parser


PACKAGE_COMMANDS = ("mock-server", "run", "wait", "status", "result", "cancel", "batch")
"""Commands that run the generated package: ``--out DIR`` picks which one."""


def use_package(out: Path) -> None:
    """Make ``import runcomfy_models`` load ``OUT/runcomfy_models`` (what ``generate --out OUT``
    wrote) instead of the package this generator carries; before anything has imported it."""
    package = (out / "runcomfy_models").resolve()
    if not (package / "__init__.py").is_file():
        raise CodegenError(
            f"--out {str(out)!r}: no runcomfy_models package in it; run `runcomfy-codegen generate --out {out}`"
        )
    loaded = sys.modules.get("runcomfy_models")
    if loaded is not None and Path(loaded.__file__ or "").resolve().parent != package:
        raise CodegenError(f"--out {str(out)!r}: runcomfy_models is already loaded from {loaded.__file__}")
    from runcomfy_codegen import carried

    carried.unload()  # the rule grammar etc. the generator ran from its own copy: reload from OUT
    sys.path.insert(0, str(package.parent))
    import importlib

    importlib.invalidate_caches()


def _expected_failure(exc: BaseException) -> str | None:
    """The one-line message of a failure the CLI expects (no traceback), or None for a bug."""
    if isinstance(exc, CodegenError):
        return str(exc)
    if isinstance(exc, UnicodeDecodeError):
        return f"cannot decode {exc.encoding} text: {exc.reason} at byte {exc.start}"
    if isinstance(exc, OSError):
        name = exc.filename if exc.filename is not None else ""
        return f"{name}: {exc.strerror or exc}" if name else f"{exc.strerror or exc}"
    if isinstance(exc, RecursionError):
        return "input nested too deeply to process"
    if isinstance(exc, ImportError) and exc.name == "runcomfy_models":
        return (
            "the generated package runcomfy_models cannot be imported; run `runcomfy-codegen generate` "
            "in the project folder (and install it: python -m pip install -e .)"
        )
    return None


def main(argv: Sequence[str] | None = None, *, renderer: WarmRenderer | None = None) -> int:
    """Run the command line; returns the exit code. ``renderer``: the warm renderer ``__main__``
    started for ``generate`` (otherwise ``generate`` starts one here); closed before this returns."""
    for name in ("stdout", "stderr"):  # closed (`>&-`): what would go there goes nowhere
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115
    words = sys.argv[1:] if argv is None else list(argv)
    if renderer is None and words[:1] == ["generate"]:  # before anything else: see render_worker
        from runcomfy_codegen import render_worker

        renderer = render_worker.start()
    try:
        return _main(argv, words, renderer)
    finally:
        if renderer is not None:
            renderer.close(wait=False)  # the command is about to exit: the system reaps it


def _main(argv: Sequence[str] | None, words: list[str], renderer: WarmRenderer | None) -> int:
    parser = build_parser(words[0] if words[:1] and words[0] in CORE_COMMANDS else None)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on a bad argument, 0 on --help
        return int(exc.code or 0)
    args.renderer = renderer
    try:
        if getattr(args, "package_out", None):
            use_package(Path(args.package_out))
        code: int = args.func(args)
    except KeyboardInterrupt:
        err("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # stdout closed early (| head): exit as a shell reports SIGPIPE, quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as exc:
        message = _expected_failure(exc)
        if message is None:
            raise
        err(message)
        return EXIT_USAGE
    return code
