"""Developer sessions: ``nox -s tests lint typecheck regenerate drift bench bench-issues``."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests", "drift"]
nox.options.default_venv_backend = "venv"

LINTED = ["codegen", "generated", "tests", "benchmarks", "examples", "noxfile.py"]


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite."""
    session.install("-e", ".[dev]")
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check (everything) and ruff format --check (hand-written code; generated/ is excluded)."""
    session.install("ruff")
    session.run("ruff", "check", *LINTED)
    session.run("ruff", "format", "--check", *LINTED)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the generator and on the generated package."""
    session.install("-e", ".[dev]")
    session.run("mypy", "codegen/runcomfy_codegen", "generated/runcomfy_models")


@nox.session
def regenerate(session: nox.Session) -> None:
    """Regenerate generated/runcomfy_models from schemas/."""
    session.install("-e", ".")
    session.run("runcomfy-codegen", "generate")


@nox.session
def drift(session: nox.Session) -> None:
    """Fail when generated/ is out of step with schemas/ (the CI schema-drift check)."""
    session.install("-e", ".")
    session.run("runcomfy-codegen", "check")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks: every target against its baseline, measured in the same run."""
    session.install("-e", ".[dev]")
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session(name="bench-issues")
def bench_issues(session: nox.Session) -> None:
    """The other benchmark scripts: real-schema corpus, type checking, batch, upstream sync.

    (``benchmarks/install_size.py`` needs the package index and is run by hand.)
    """
    session.install("-e", ".[dev]")
    for script in ("real_corpus.py", "typecheck.py", "batch.py", "sync.py"):
        session.run("python", f"benchmarks/{script}")
