"""``runcomfy-codegen import``: bring a model's schemas into the store.

A source is a RunComfy model API doc page, saved (the format of ``tests/data/seed/``) or fetched from
its http(s) URL (``https://www.runcomfy.com/models/<model_id>/api``, ``…/fr/models/…``; see
:mod:`.upstream`), or a plain JSON schema file (then ``--model-id`` names the model). A page may be the
text rendering or the HTML one (:mod:`.docpage` reduces HTML to the same text). From a page:

* the model id is the path after ``/v1/models/`` in the submit URL (every such URL must agree);
* the input schema is the JSON object right after the ``modelApiDoc_hostedFileBody`` marker;
* the output schema is the ``{"output": {...}}`` object right after it.

Both are decoded with a JSON decoder from those positions, never guessed at. A page fetched from a
``…/models/<model_id>/api`` URL must name that model in its submit URL. Files are written in
one stable format: keys in their original order, 2-space indent, UTF-8, newline at the end.

Quirk handled on import: a name in ``required`` that is missing from ``properties`` (RunComfy's own
example requests omit such names) is dropped from ``required``, with a warning.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from runcomfy_codegen._errors import SchemaError, SourceError
from runcomfy_codegen.docpage import is_html, model_id_from_docs_url, page_text
from runcomfy_codegen.model_id import check_model_id
from runcomfy_codegen.schema.loader import load_document, parse_json
from runcomfy_codegen.upstream import Fetcher, is_url  # httpx itself loads on the first fetch
from runcomfy_codegen.write import atomic_write

MARKER = "modelApiDoc_hostedFileBody"
_SUBMIT_URL = re.compile(r"https?://[^\s\"'/]+/v1/models/([^\s\"'\\]+)")
# pathlib collapses the "//" of a URL given as a path ("https://a/b" -> "https:/a/b").
_COLLAPSED_URL = re.compile(r"^(https?):/(?!/)", re.IGNORECASE)

Source = Path | str
"""A file (a path) or a doc page URL (a string starting with http:// or https://)."""

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


_OTHER_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):/")  # ftp://, file:///, ... (also collapsed: ftp:/)
DOC_SUFFIXES = (".txt", ".html", ".htm", ".json")
"""What a file must end with to be taken from a folder source: a saved doc page or a schema."""


def _as_url(source: str | Path) -> str | None:
    text = _COLLAPSED_URL.sub(r"\1://", str(source)) if isinstance(source, Path) else source
    if is_url(text):
        return text
    other = _OTHER_SCHEME.match(str(source))
    if other is not None:
        shown = re.sub(r"//[^/@]*@", "//***@", str(source), count=1)  # no credentials in messages
        raise SourceError(
            f"{shown}: only http(s) URLs can be imported, not {other.group(1)}:; give an http(s) URL or a local file"
        )
    return None


def expand_sources(sources: Sequence[str | Path]) -> list[Source]:
    """URLs and files as given; a folder stands for every file under it that looks like a doc page or
    a schema (``DOC_SUFFIXES``: ``.txt``, ``.html``, ``.htm``, ``.json``), sorted, hidden ones skipped,
    so a README or ``SOURCE.md`` beside saved pages is left alone. A URL that is not http(s), or a
    folder with no such file, is a :class:`SourceError`."""
    found: list[Source] = []
    for given in sources:
        url = _as_url(given)
        if url is not None:
            found.append(url)
            continue
        source = Path(given)
        if source.is_dir():
            files = [
                p
                for p in sorted(source.rglob("*"))
                if p.is_file()
                and p.suffix.lower() in DOC_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(source).parts)
            ]
            if not files:
                raise SourceError(
                    f"{source}: a folder with no doc page or schema in it (files ending in "
                    f"{', '.join(DOC_SUFFIXES)})"
                )
            found.extend(files)
        else:
            found.append(source)
    return found


def dump_schema(document: Any) -> str:
    """The store's one stable format."""
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def parse_doc_page(text: str, source: str) -> tuple[str, Any, Any]:
    """(model id, input schema, output document) from a RunComfy model API doc page.

    Submit URLs are read from the page's examples, before the marker: a URL quoted inside a schema
    (a description) or after it names nothing."""
    position = text.find(MARKER)
    if position < 0:
        raise SourceError(f"{source}: no {MARKER!r} marker: not a RunComfy model API doc page")
    ids = {unquote(m.group(1)) for m in _SUBMIT_URL.finditer(text, 0, position)}
    if not ids:
        raise SourceError(f"{source}: no submit URL (…/v1/models/<model_id>) found before the marker")
    if len(ids) > 1:
        raise SourceError(f"{source}: the page's submit URLs disagree on the model id: {sorted(ids)}")
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


def decode_page(
    text: str, source: str, *, content_type: str | None = None, expected_id: str | None = None
) -> tuple[str, Any, Any]:
    """(model id, input schema, output document) from a page in either rendering; with
    ``expected_id``, the page's submit URL must name that model."""
    text = page_text(text, content_type)
    if MARKER not in text:
        raise SourceError(f"{source}: no {MARKER!r} marker: not a RunComfy model API doc page")
    page_id, input_schema, output_document = parse_doc_page(text, source)
    if expected_id is not None and page_id != expected_id:
        raise SourceError(f"{source}: the page's submit URL names model {page_id!r}, not {expected_id!r}")
    return page_id, input_schema, output_document


def read_url(url: str, model_id: str | None, fetcher: Fetcher | None = None) -> tuple[str, Any, Any]:
    """Fetch a doc page and decode it; the model is ``--model-id``, else the one the URL names."""
    if fetcher is None:
        with Fetcher() as own:
            page = own.get(url)
    else:
        page = fetcher.get(url)
    expected = model_id or model_id_from_docs_url(url)
    return decode_page(page.text, url, content_type=page.content_type, expected_id=expected)


def read_source(source: Source, model_id: str | None) -> tuple[str, Any, Any]:
    if isinstance(source, str):
        url = _as_url(source)
        if url is not None:
            return read_url(url, model_id)
        source = Path(source)
    try:
        text = source.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"{source}: cannot read: {exc}") from None
    if is_html(text):
        text = page_text(text, "text/html")
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


@dataclass
class Imported:
    """A model's schemas as read from a source, checked, in the store's format."""

    model_id: str
    input_schema: Any
    output_document: Any
    warnings: list[str] = field(default_factory=list)

    def files(self) -> dict[str, bytes]:
        """``input.json`` and ``output.json``, as the store holds them."""
        return {
            "input.json": dump_schema(self.input_schema).encode("utf-8"),
            "output.json": dump_schema(self.output_document).encode("utf-8"),
        }


def check_imported(
    found_id: str, input_schema: Any, output_document: Any, source: str, *, allow_unknown: bool = False
) -> Imported:
    """Check the model id and both schemas; drop undeclared ``required`` names (with a warning)."""
    check_model_id(found_id)
    warnings = _drop_undeclared_required(input_schema, source)
    load_document(input_schema, f"{source} (input schema)", allow_unknown=allow_unknown)
    load_document(output_document, f"{source} (output schema)", allow_unknown=allow_unknown)
    return Imported(found_id, input_schema, output_document, warnings)


def import_source(
    source: Source,
    schemas: Path,
    *,
    model_id: str | None = None,
    allow_unknown: bool = False,
    check_only: bool = False,
) -> ImportResult:
    """Read one source and write ``schemas/<model_id>/input.json`` and ``output.json``
    (with ``check_only``, only report what would change)."""
    found_id, input_schema, output_document = read_source(source, model_id)
    imported = check_imported(
        found_id, input_schema, output_document, str(source), allow_unknown=allow_unknown
    )
    folder = schemas / found_id
    result = ImportResult(
        found_id, folder, warnings=imported.warnings, is_new=not (folder / "input.json").exists()
    )
    if schemas.exists() and not schemas.is_dir():
        raise SourceError(f"{schemas}: the schema store path is a file")
    for name, data in imported.files().items():
        path = folder / name
        if path.exists() and path.read_bytes() == data:
            result.unchanged.append(path)
            continue
        if not check_only:
            atomic_write(path, data)
        result.written.append(path)
    return result
