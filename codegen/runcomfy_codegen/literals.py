"""Python literals for JSON values, shared by the module templates and the typed stub.

Kept apart from :mod:`runcomfy_codegen.render` so that code which only assembles text (the typed
stub of an incremental ``generate``) does not import jinja2.
"""

from __future__ import annotations

from typing import Any


def py_literal(value: Any) -> str:
    """A Python literal for a JSON value; strings prefer double quotes, as ruff format does."""
    if type(value) is str:  # the common case first
        text = repr(value)
        if text.startswith("'") and '"' not in value:
            text = '"' + text[1:-1] + '"'
        return text
    if isinstance(value, dict):
        return "{" + ", ".join(f"{py_literal(k)}: {py_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(py_literal(v) for v in value) + "]"
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    raise TypeError(f"not a JSON value: {type(value).__name__}")
