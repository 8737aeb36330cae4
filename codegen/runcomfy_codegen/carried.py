"""The runtime modules the generator runs itself, from the ``runcomfy_models`` package it carries.

Where the generator and the client share code there is one definition, in ``runtime/``: the rule
grammar (``_rules``), ECMA-262 patterns (``_patterns``) and URL paths (``_urls``). The generator
uses them from the ``runcomfy_models`` package it carries, the same files a client runs.

Those three import only the standard library, but importing them the usual way runs the package's
``__init__`` first, and with it pydantic (about 70 ms, more than a ``generate`` that renders one
model takes in all). :func:`load` runs them alone, each under its own name in ``sys.modules``; a
later ``import runcomfy_models`` finds them there and reuses them, so ``RuleSyntaxError`` or
``PatternError`` is the same class whichever way it was reached.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

PACKAGE = "runcomfy_models"
STANDALONE = ("_rules", "_patterns", "_urls")
"""Runtime modules that import nothing from the package (tested): they can run without it."""


def load() -> None:
    """Make ``import runcomfy_models.<name>`` of each :data:`STANDALONE` module work without
    running the package's ``__init__``. Does nothing once the package itself is loaded."""
    if PACKAGE in sys.modules:
        return
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return  # not installed: the import that follows fails with Python's own message
    folder = Path(next(iter(spec.submodule_search_locations)))
    for name in STANDALONE:
        full = f"{PACKAGE}.{name}"
        if full in sys.modules:
            continue
        path = folder / f"{name}.py"
        if not path.is_file():  # a module added to runtime/ since the last generate, which copies it
            path = Path(__file__).parent / "runtime" / f"{name}.py"
        module_spec = importlib.util.spec_from_file_location(full, path)
        assert module_spec is not None and module_spec.loader is not None
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[full] = module
        try:
            module_spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[full]
            raise


def unload() -> None:
    """Forget the modules :func:`load` ran when the package itself was never imported, so that an
    ``import runcomfy_models`` from another folder (``--out DIR``) loads its own copies."""
    if PACKAGE not in sys.modules:
        for name in STANDALONE:
            sys.modules.pop(f"{PACKAGE}.{name}", None)
