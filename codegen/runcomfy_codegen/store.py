"""Reading a whole schema store: from a folder, or from a git revision of one."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from runcomfy_codegen._errors import CodegenError, SchemaError
from runcomfy_codegen.load import parse_json, unwrap_output

Store = dict[str, tuple[Any, Any]]
"""model id -> (input schema, output schema unwrapped from ``{"output": ...}``)."""


def read_store(folder: Path) -> Store:
    if not folder.is_dir():
        raise SchemaError(folder, "", "not a schema store folder")
    store: Store = {}
    for input_file in sorted(folder.rglob("input.json")):
        model_id = input_file.parent.relative_to(folder).as_posix()
        output_file = input_file.parent / "output.json"
        inp = parse_json(input_file.read_text(encoding="utf-8"), str(input_file))
        out = (
            parse_json(output_file.read_text(encoding="utf-8"), str(output_file))
            if output_file.exists()
            else {}
        )
        store[model_id] = (inp, unwrap_output(out)[0])
    return store


def _git(args: list[str], cwd: Path) -> str:
    try:
        result = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
        )
    except OSError as exc:
        raise CodegenError(f"git: {exc}") from None
    if result.returncode != 0:
        raise CodegenError(f"git {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def read_git_store(revision: str, folder: str = "schemas", cwd: Path | None = None) -> Store:
    """The store as it was at a git revision (``folder`` relative to the repository root)."""
    root = Path(_git(["rev-parse", "--show-toplevel"], cwd or Path.cwd()).strip())
    prefix = folder.strip("/") + "/"
    names = _git(["ls-tree", "-r", "--name-only", revision, "--", prefix], root).splitlines()
    store: Store = {}
    for name in sorted(names):
        if not name.endswith("/input.json"):
            continue
        model_id = name[len(prefix) : -len("/input.json")]
        inp = parse_json(_git(["show", f"{revision}:{name}"], root), f"{revision}:{name}")
        out_name = name[: -len("input.json")] + "output.json"
        out = (
            parse_json(_git(["show", f"{revision}:{out_name}"], root), f"{revision}:{out_name}")
            if out_name in names
            else {}
        )
        store[model_id] = (inp, unwrap_output(out)[0])
    return store
