"""``runcomfy-codegen sync``: the command line of :mod:`runcomfy_codegen.sync`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runcomfy_codegen.cli_common import exit_codes

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sync`` to the ``runcomfy-codegen`` subcommands."""
    p = sub.add_parser(
        "sync",
        help="re-fetch every model's doc page (RUNCOMFY_DOCS_URL) and update the store, or --check",
        description=(
            "Fetch each model's API doc page from RUNCOMFY_DOCS_URL (a URL template with {model_id}; "
            "default https://www.runcomfy.com/models/{model_id}/api), compare it with the store and "
            "report each model: unchanged, changed (breaking / warning / info) or unreachable. "
            "Exit 0 no change, 1 changed, 2 a page could not be fetched or read."
        ),
        epilog=exit_codes(
            "no model changed upstream (with --fail-on: none of that class or worse)",
            one="a model changed (with --fail-on: a change of that class or worse); written unless --check",
            two="a page could not be fetched or read (that model's folder untouched), or no store",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--schemas", default="schemas", help="schema store folder (default: schemas)")
    p.add_argument("--check", action="store_true", help="write nothing; only report what changed upstream")
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text", help="report format")
    p.add_argument(
        "--fail-on",
        choices=("breaking", "warning"),
        default=None,
        help="exit 1 only for changes of this class or worse (default: any change)",
    )
    p.add_argument(
        "--concurrency", type=int, default=4, metavar="N", help="pages fetched at once (1-32, default 4)"
    )
    p.add_argument(
        "--timeout", type=float, default=30.0, metavar="S", help="read timeout per request (default 30 s)"
    )
    p.add_argument("--allow-unknown", action="store_true", help="accept unknown keywords and rules")
    p.set_defaults(func=cmd_sync)


def cmd_sync(args: argparse.Namespace) -> int:
    from runcomfy_codegen._errors import CodegenError
    from runcomfy_codegen.sync import MAX_CONCURRENCY, sync_store
    from runcomfy_codegen.upstream import Fetcher

    if not 1 <= args.concurrency <= MAX_CONCURRENCY:
        print(f"error: --concurrency {args.concurrency}: must be 1 to {MAX_CONCURRENCY}", file=sys.stderr)
        return EXIT_USAGE
    if not args.timeout > 0:
        print(f"error: --timeout {args.timeout}: must be more than 0", file=sys.stderr)
        return EXIT_USAGE
    try:
        with Fetcher(timeout=args.timeout, max_connections=args.concurrency) as fetcher:
            report = sync_store(
                Path(args.schemas),
                check=args.check,
                fetcher=fetcher,
                concurrency=args.concurrency,
                allow_unknown=args.allow_unknown,
            )
    except (CodegenError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    for model in report.models:
        for warning in model.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        if model.error is not None:
            print(f"error: {model.model_id}: {model.error}", file=sys.stderr)
    if args.format == "json":
        print(report.to_json())
    elif args.format == "markdown":
        print(report.to_markdown())
    else:
        print(report.to_text())
    return report.exit_code(args.fail_on)
