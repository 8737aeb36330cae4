"""The ``runcomfy-codegen`` command line (also ``python -m runcomfy_codegen``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from runcomfy_codegen import pipeline
from runcomfy_codegen._errors import CodegenError
from runcomfy_codegen.importer import import_source

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def _err(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def cmd_import(args: argparse.Namespace) -> int:
    status = EXIT_OK
    for source in args.sources:
        try:
            result = import_source(
                Path(source), Path(args.schemas), model_id=args.model_id, allow_unknown=args.allow_unknown
            )
        except CodegenError as exc:
            _err(str(exc))
            status = EXIT_USAGE
            continue
        for warning in result.warnings:
            _warn(warning)
        if result.written:
            names = ", ".join(p.name for p in result.written)
            print(f"{result.model_id}: wrote {names} in {result.folder}")
        else:
            print(f"{result.model_id}: unchanged in {result.folder}")
    return status


def _progress_bar(total: int):  # type: ignore[no-untyped-def]
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("generating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True
    )


def cmd_generate(args: argparse.Namespace) -> int:
    schemas, out = Path(args.schemas), Path(args.out)
    wanted = args.model_ids or None
    try:
        if sys.stderr.isatty():
            total = len(pipeline.discover(schemas))
            with _progress_bar(total) as bar:
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
    schemas, out = Path(args.schemas), Path(args.out)
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
    try:
        found = pipeline.discover(Path(args.schemas))
    except CodegenError as exc:
        _err(str(exc))
        return EXIT_USAGE
    for model_id, _folder in found:
        print(model_id)
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
    p.add_argument("--allow-unknown", action="store_true")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("list", help="model ids in the store, one a line")
    p.add_argument("--schemas", default="schemas")
    p.set_defaults(func=cmd_list)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on a bad argument, 0 on --help
        return int(exc.code or 0)
    code: int = args.func(args)
    return code
