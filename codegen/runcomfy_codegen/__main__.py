"""``python -m runcomfy_codegen`` and the ``runcomfy-codegen`` command: :func:`runcomfy_codegen.cli.main`,
with one thing done before the command line module is even imported: ``generate`` forks its warm
renderer first (:mod:`runcomfy_codegen.render_worker`), so that the child loads the schema parser
and the templates while this process loads the CLI and the pipeline and stats the tree."""

from __future__ import annotations

import sys


def main() -> int:
    renderer = None
    if sys.argv[1:2] == ["generate"]:
        from runcomfy_codegen import render_worker

        renderer = render_worker.start()
    from runcomfy_codegen.cli import main as run

    return run(renderer=renderer)


if __name__ == "__main__":
    raise SystemExit(main())
