"""A whole schema store, loaded (for ``diff`` and ``openapi``): model id -> both loaded schemas.

Finding the models is :mod:`runcomfy_codegen.schema.store`'s job, loading them
:mod:`runcomfy_codegen.schema.loader`'s; this module only puts the two together.
"""

from __future__ import annotations

from pathlib import Path

from runcomfy_codegen.schema.loader import LoadedModel, load_model
from runcomfy_codegen.schema.store import ModelFiles, discover, discover_git

Store = dict[str, LoadedModel]
"""model id -> its loaded input and output schemas (``.resolved`` is what the generator sees)."""


def load_store(models: list[ModelFiles]) -> Store:
    # Unknown keywords are let through: comparing or describing a store must not refuse it.
    return {m.model_id: load_model(m, allow_unknown=True, require_output=False) for m in models}


def read_store(folder: Path) -> Store:
    return load_store(discover(folder))


def read_git_store(revision: str, folder: str = "schemas", cwd: Path | None = None) -> Store:
    """The store as it was at a git revision (``folder`` relative to the repository root)."""
    return load_store(discover_git(revision, folder, cwd))
