"""``runcomfy-codegen import``: bring a model's schemas into the store.

A source is either a RunComfy model API doc page, as scraped (the format of ``tests/data/seed/``), or
a plain JSON schema file (then ``--model-id`` names the model). From a page:

* the model id is the path after ``/v1/models/`` in the submit URL (every such URL must agree);
* the input schema is the JSON object right after the ``modelApiDoc_hostedFileBody`` marker;
* the output schema is the ``{"output": {...}}`` object right after it.

Both are decoded with a JSON decoder from those positions, never guessed at. Files are written in
one stable format: keys in their original order, 2-space indent, UTF-8, newline at the end.

Quirk handled on import: a name in ``required`` that is missing from ``properties`` (RunComfy's own
example requests omit such names) is dropped from ``required``, with a warning.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from runcomfy_codegen._errors import SchemaError, SourceError
from runcomfy_codegen.model_id import check_model_id
from runcomfy_codegen.schema.loader import load_document, parse_json
from runcomfy_codegen.write import atomic_write

MARKER = "modelApiDoc_hostedFileBody"
_SUBMIT_URL = re.compile(r"https?://[^\s\"'/]+/v1/models/([^\s\"'\\]+)")

# RunComfy's common output schema, used when importing a bare input schema file.
DEFAULT_OUTPUT: dict[str, Any] = {
    "output": {
        "type": "object",
        "properties": {
            "image": {"type": "string", "format": "uri"},
            "video": {"type": "string", "format": "uri"},
            "images": {"type": "array", "items": {"type": "string", "format": "uri"}},
            "videos": {"type": "array", "items": {"type": "string", "format": "uri"}},
        },
    }
}


@dataclass
class ImportResult:
    model_id: str
    folder: Path
    written: list[Path] = field(default_factory=list)
    """Files written (or, with ``check_only``, that would be)."""
    unchanged: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    is_new: bool = False

    @property
    def status(self) -> str:
        if self.is_new:
            return "added"
        return "changed" if self.written else "unchanged"


def expand_sources(sources: list[Path]) -> list[Path]:
    """Files as given; a folder stands for every file in it (sorted, hidden files skipped)."""
    found: list[Path] = []
    for source in sources:
        if source.is_dir():
            found.extend(
                p
                for p in sorted(source.rglob("*"))
                if p.is_file() and not any(part.startswith(".") for part in p.parts)
            )
        else:
            found.append(source)
    return found


def dump_schema(document: Any) -> str:
    """The store's one stable format."""
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def parse_doc_page(text: str, source: str) -> tuple[str, Any, Any]:
    """(model id, input schema, output document) from a RunComfy model API doc page."""
    ids = {unquote(m.group(1)) for m in _SUBMIT_URL.finditer(text)}
    if not ids:
        raise SourceError(f"{source}: no submit URL (…/v1/models/<model_id>) found in the page")
    if len(ids) > 1:
        raise SourceError(f"{source}: the page's submit URLs disagree on the model id: {sorted(ids)}")
    position = text.find(MARKER)
    if position < 0:
        raise SourceError(f"{source}: no {MARKER!r} marker: not a RunComfy model API doc page")
    decoder = json.JSONDecoder()
    documents = []
    index = position + len(MARKER)
    for what in ("input schema", "output schema"):
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text) or text[index] != "{":
            raise SourceError(f"{source}: expected the {what} (a JSON object) at offset {index}")
        try:
            _, end = decoder.raw_decode(text, index)
        except json.JSONDecodeError as exc:
            raise SourceError(f"{source}: the {what} is not valid JSON: {exc}") from None
        # Decode the same span again strictly (no NaN, no duplicate keys).
        try:
            documents.append(parse_json(text[index:end], source))
        except SchemaError as exc:
            raise SourceError(f"{source}: the {what}: {exc.reason}") from None
        index = end
    input_schema, output_document = documents
    if not (isinstance(output_document, dict) and "output" in output_document):
        raise SourceError(f'{source}: the object after the input schema is not an {{"output": ...}} schema')
    return ids.pop(), input_schema, output_document


def _drop_undeclared_required(schema: Any, source: str) -> list[str]:
    warnings = []
    if isinstance(schema, dict) and isinstance(schema.get("required"), list):
        declared = schema.get("properties", {})
        missing = [name for name in schema["required"] if name not in declared]
        if missing:
            schema["required"] = [name for name in schema["required"] if name in declared]
            for name in missing:
                warnings.append(
                    f"{source}: required property {name!r} is not in 'properties'; "
                    "dropped from 'required' (RunComfy's example requests omit it)"
                )
    return warnings


def read_source(source: Path, model_id: str | None) -> tuple[str, Any, Any]:
    try:
        text = source.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"{source}: cannot read: {exc}") from None
    if MARKER in text:
        page_id, input_schema, output_document = parse_doc_page(text, str(source))
        if model_id is not None and model_id != page_id:
            raise SourceError(f"{source}: the page is for {page_id!r}, not --model-id {model_id!r}")
        return page_id, input_schema, output_document
    try:
        document = parse_json(text, str(source))
    except SchemaError as exc:
        raise SourceError(f"{source}: neither a RunComfy doc page nor a JSON schema: {exc.reason}") from None
    if model_id is None:
        raise SourceError(f"{source}: a plain JSON schema file needs --model-id")
    if isinstance(document, dict) and set(document) == {"input", "output"}:
        return model_id, document["input"], {"output": document["output"]}
    return model_id, document, DEFAULT_OUTPUT


def import_source(
    source: Path,
    schemas: Path,
    *,
    model_id: str | None = None,
    allow_unknown: bool = False,
    check_only: bool = False,
) -> ImportResult:
    """Read one source and write ``schemas/<model_id>/input.json`` and ``output.json``
    (with ``check_only``, only report what would change)."""
    found_id, input_schema, output_document = read_source(source, model_id)
    check_model_id(found_id)
    warnings = _drop_undeclared_required(input_schema, str(source))
    folder = schemas / found_id
    load_document(input_schema, f"{source} (input schema)", allow_unknown=allow_unknown)
    load_document(output_document, f"{source} (output schema)", allow_unknown=allow_unknown)
    result = ImportResult(found_id, folder, warnings=warnings, is_new=not (folder / "input.json").exists())
    if schemas.exists() and not schemas.is_dir():
        raise SourceError(f"{schemas}: the schema store path is a file")
    for name, document in (("input.json", input_schema), ("output.json", output_document)):
        path = folder / name
        data = dump_schema(document).encode("utf-8")
        if path.exists() and path.read_bytes() == data:
            result.unchanged.append(path)
            continue
        if not check_only:
            atomic_write(path, data)
        result.written.append(path)
    return result
