"""The ``runcomfy-codegen`` command line (also ``python -m runcomfy_codegen``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from runcomfy_codegen._errors import CodegenError

if TYPE_CHECKING:
    from rich.progress import Progress

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def _err(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def cmd_import(args: argparse.Namespace) -> int:
    from runcomfy_codegen.importer import expand_sources, import_source

    sources = expand_sources([Path(s) for s in args.sources])
    if args.model_id and len(sources) > 1:
        _err("--model-id names one model: give one source with it")
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
            _err(str(exc))
            errors += 1
            continue
        for warning in result.warnings:
            _warn(warning)
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


def cmd_generate(args: argparse.Namespace) -> int:
    from runcomfy_codegen import pipeline

    schemas, out = Path(args.schemas), Path(args.out)
    wanted = args.model_ids or None
    try:
        if sys.stderr.isatty():
            total = len(wanted) if wanted else len(pipeline.discover(schemas))
            with _progress_bar() as bar:
                task = bar.add_task("generate", total=total)
                result = pipeline.generate(
                    schemas,
                    out,
                    wanted,
                    allow_unknown=args.allow_unknown,
                    keep_going=args.keep_going,
                    progress=lambda _model: bar.advance(task),
                )
        else:
            result = pipeline.generate(
                schemas, out, wanted, allow_unknown=args.allow_unknown, keep_going=args.keep_going
            )
    except CodegenError as exc:
        _err(str(exc))
        return EXIT_USAGE
    for warning in result.warnings:
        _warn(warning)
    for error in result.errors:
        _err(f"refused: {error}")
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
    from runcomfy_codegen.manifest import is_up_to_date

    schemas, out = Path(args.schemas), Path(args.out)
    package = out / "runcomfy_models"
    if not args.full and schemas.is_dir() and is_up_to_date(schemas, package):
        print(f"no drift: {package} matches {schemas} (manifest hashes; --full to render and compare)")
        return EXIT_OK
    from runcomfy_codegen import pipeline

    try:
        result = pipeline.check(schemas, out, allow_unknown=args.allow_unknown)
    except CodegenError as exc:
        _err(str(exc))
        return EXIT_USAGE
    if result.errors:
        for error in result.errors:
            _err(str(error))
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

    try:
        found = pipeline.discover(Path(args.schemas))
    except CodegenError as exc:
        _err(str(exc))
        return EXIT_USAGE
    for model_id, _folder in found:
        print(model_id)
    return EXIT_OK


def cmd_mock_server(args: argparse.Namespace) -> int:
    import signal

    from runcomfy_codegen.mock import Fault, MockServer

    try:
        faults = [Fault.parse(text) for text in args.fault]
        server = MockServer(
            host=args.host,
            port=args.port,
            token=args.token,
            queue_seconds=args.queue_seconds,
            run_seconds=args.run_seconds,
        )
    except (ValueError, OSError) as exc:
        _err(f"mock-server: {exc}")
        return EXIT_USAGE
    for fault in faults:
        server.inject(fault)
    print(server.base_url, flush=True)
    print(
        f"token: {args.token}  (export RUNCOMFY_BASE_URL={server.base_url} RUNCOMFY_API_TOKEN=...)",
        flush=True,
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


def _parse_inputs(pairs: list[str], json_file: str | None) -> dict[str, object]:
    import json

    payload: dict[str, object] = {}
    if json_file is not None:
        try:
            loaded = json.loads(Path(json_file).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"--json {json_file}: {exc}") from None
        if not isinstance(loaded, dict):
            raise ValueError(f"--json {json_file}: must hold a JSON object")
        payload.update(loaded)
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--input {pair!r}: expected key=value")
        try:
            payload[key] = json.loads(raw)  # 5 -> 5, true -> True, "x" -> "x"
        except json.JSONDecodeError:
            payload[key] = raw  # plain text
    return payload


def cmd_run(args: argparse.Namespace) -> int:
    import json

    import pydantic

    import runcomfy_models
    from runcomfy_models import JobCancelledError, JobFailedError, MediaValidationError, RunComfyError

    try:
        payload = _parse_inputs(args.input, args.json)
        model = runcomfy_models.validate_input(args.model_id, payload)
    except pydantic.ValidationError as exc:
        _err(f"invalid input for {args.model_id}:\n{exc}")
        return EXIT_USAGE
    except (ValueError, KeyError) as exc:
        _err(str(exc).strip("'\""))
        return EXIT_USAGE
    try:
        with runcomfy_models.Client() as client:
            job = client.submit(model, check_media=not args.no_media_check)
            print(f"submitted {args.model_id}: request_id {job.request_id}", file=sys.stderr)
            if not args.wait:
                print(json.dumps(job.model_dump(mode="json"), indent=2))
                return EXIT_OK
            output = client.wait(
                job,
                timeout=args.timeout,
                on_status=lambda s: print(
                    f"  {s.status}"
                    + (f" (queue position {s.queue_position})" if s.queue_position is not None else ""),
                    file=sys.stderr,
                ),
            )
    except MediaValidationError as exc:
        _err(str(exc))
        return EXIT_USAGE
    except (JobFailedError, JobCancelledError) as exc:
        _err(str(exc))
        return EXIT_FAIL
    except RunComfyError as exc:
        _err(str(exc))
        return EXIT_FAIL
    print(repr(output))
    print(json.dumps(output.model_dump(mode="json", by_alias=True, exclude_unset=True), indent=2))
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
        _err(str(exc))
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
        document = build_openapi(read_store(Path(args.schemas)))
    except CodegenError as exc:
        _err(str(exc))
        return EXIT_USAGE
    print(json.dumps(document, indent=2, ensure_ascii=False))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="runcomfy-codegen", description="Typed Python clients for the RunComfy Model API."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("import", help="import a RunComfy model API doc page or JSON schema into the store")
    p.add_argument("sources", nargs="+", metavar="SOURCE")
    p.add_argument("--model-id", help="model id, required for a plain JSON schema file")
    p.add_argument("--schemas", default="schemas", help="schema store folder (default: schemas)")
    p.add_argument("--allow-unknown", action="store_true", help="accept unknown keywords and rules")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if the store would change")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("generate", help="write the client package from the schema store")
    p.add_argument("model_ids", nargs="*", metavar="MODEL_ID", help="only these models (default: all)")
    p.add_argument("--schemas", default="schemas")
    p.add_argument(
        "--out", default="generated", help="folder that receives runcomfy_models/ (default: generated)"
    )
    p.add_argument("--keep-going", action="store_true", help="leave refused schemas out and write the rest")
    p.add_argument(
        "--allow-unknown", action="store_true", help="accept unknown keywords and rules, recorded as warnings"
    )
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("check", help="schema-drift check: would generate change anything?")
    p.add_argument("--schemas", default="schemas")
    p.add_argument("--out", default="generated")
    p.add_argument(
        "--full", action="store_true", help="always render everything and compare (skip the manifest)"
    )
    p.add_argument("--allow-unknown", action="store_true")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("list", help="model ids in the store, one a line")
    p.add_argument("--schemas", default="schemas")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("diff", help="client-breaking changes between two schema stores")
    p.add_argument("stores", nargs="*", metavar="SCHEMAS_DIR", help="OLD_SCHEMAS_DIR NEW_SCHEMAS_DIR")
    p.add_argument(
        "--git", metavar="REV1..REV2", help="compare --schemas at two git revisions (REV2 empty: work tree)"
    )
    p.add_argument("--schemas", default="schemas", help="store folder inside the repository, for --git")
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    p.add_argument("--fail-on", choices=("breaking", "warning"), default="breaking")
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser("openapi", help="an OpenAPI 3.1 document for every model, on stdout")
    p.add_argument("--schemas", default="schemas")
    p.set_defaults(func=cmd_openapi)

    p = sub.add_parser("mock-server", help="run the embedded mock RunComfy Model API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    p.add_argument("--token", default="mock-token")
    p.add_argument("--queue-seconds", type=float, default=0.2)
    p.add_argument("--run-seconds", type=float, default=0.3)
    p.add_argument(
        "--fault", action="append", default=[], help="inject a fault, e.g. 503:2 or delay;seconds=5"
    )
    p.set_defaults(func=cmd_mock_server)

    p = sub.add_parser("run", help="submit a job to RUNCOMFY_BASE_URL and print its result")
    p.add_argument("model_id", metavar="MODEL_ID")
    p.add_argument(
        "--input", action="append", default=[], metavar="KEY=VALUE", help="a JSON value or plain text"
    )
    p.add_argument("--json", metavar="FILE", help="a JSON file holding the input object")
    p.add_argument("--wait", action="store_true", help="wait for the job and print its typed output")
    p.add_argument("--timeout", type=float, default=1800.0, help="overall deadline in seconds for --wait")
    p.add_argument("--no-media-check", action="store_true", help="skip the custom media rules")
    p.set_defaults(func=cmd_run)
    __import__("runcomfy_codegen.batch_cli").batch_cli.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on a bad argument, 0 on --help
        return int(exc.code or 0)
    code: int = args.func(args)
    return code
