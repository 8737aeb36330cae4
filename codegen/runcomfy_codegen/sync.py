"""``runcomfy-codegen sync``: re-fetch every model's doc page and say what changed upstream.

For each model of the store, its page URL is ``$RUNCOMFY_DOCS_URL`` (a template with
``{model_id}``; default ``https://www.runcomfy.com/models/{model_id}/api``). Pages are fetched by a
bounded pool of threads sharing one :class:`~runcomfy_codegen.upstream.Fetcher` (retries, backoff,
timeouts, size cap), decoded exactly as ``import`` decodes them (the page must name the model it was
fetched for), and written to a private staging store. The project's diff
(:func:`runcomfy_codegen.diff.diff_stores`) then compares the store with the staging store, which
classifies each change ``breaking`` / ``warning`` / ``info``. Each model ends:

* ``unchanged``: its files would not change, byte for byte;
* ``changed``: its files differ; ``severity`` is the worst of its changes (``info`` when the bytes
  changed but nothing the diff classifies did, e.g. a vendor ``x-`` keyword); its files are written
  atomically, unless ``check``;
* ``unreachable``: the page could not be fetched or read (the error names the URL); its folder is
  left untouched.

JSON output (``--format json``), stable keys: ``{"schemas", "check", "changed", "unchanged",
"unreachable", "breaking", "warnings", "models": [{"model_id", "url", "status", "severity",
"files", "written", "changes": [{"severity", "code", "where", "message"}], "error",
"warnings"}]}``.
"""

from __future__ import annotations

import json
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from runcomfy_codegen._errors import CodegenError
from runcomfy_codegen.diff import BREAKING, INFO, WARNING, diff_stores
from runcomfy_codegen.importer import Imported, check_imported, decode_page
from runcomfy_codegen.store import read_store
from runcomfy_codegen.upstream import Fetcher, check_docs_template, docs_url
from runcomfy_codegen.write import atomic_write

UNCHANGED, CHANGED, UNREACHABLE = "unchanged", "changed", "unreachable"
RANK = {INFO: 0, WARNING: 1, BREAKING: 2}
MAX_CONCURRENCY = 32


@dataclass
class ChangeEntry:
    severity: str
    code: str
    where: str
    message: str


@dataclass
class ModelSync:
    model_id: str
    url: str
    status: str
    severity: str | None = None
    files: list[str] = field(default_factory=list)
    """Store files that differ from upstream (``input.json``, ``output.json``)."""
    written: bool = False
    changes: list[ChangeEntry] = field(default_factory=list)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class SyncReport:
    schemas: str
    check: bool
    models: list[ModelSync] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for m in self.models if m.status == status)

    def count_severity(self, severity: str) -> int:
        return sum(1 for m in self.models if m.status == CHANGED and m.severity == severity)

    def exit_code(self, fail_on: str | None = None) -> int:
        """2 a page failed; else 1 a change of ``fail_on``'s class or worse (any change without it); else 0."""
        if self.count(UNREACHABLE):
            return 2
        threshold = RANK[fail_on] if fail_on else RANK[INFO]
        failing = any(m.status == CHANGED and RANK[m.severity or INFO] >= threshold for m in self.models)
        return 1 if failing else 0

    def summary(self) -> str:
        changed = self.count(CHANGED)
        kinds = ", ".join(f"{self.count_severity(s)} {s}" for s in (BREAKING, WARNING, INFO))
        text = (
            f"{changed} changed ({kinds}), {self.count(UNCHANGED)} unchanged, "
            f"{self.count(UNREACHABLE)} unreachable"
        )
        if changed:
            written = sum(1 for m in self.models if m.written)
            text += "; nothing written (--check)" if self.check else f"; {written} written to {self.schemas}"
        return text

    def to_json(self) -> str:
        data = {
            "schemas": self.schemas,
            "check": self.check,
            "changed": self.count(CHANGED),
            "unchanged": self.count(UNCHANGED),
            "unreachable": self.count(UNREACHABLE),
            "breaking": self.count_severity(BREAKING),
            "warnings": self.count_severity(WARNING),
            "models": [asdict(m) for m in self.models],
        }
        return json.dumps(data, indent=2, ensure_ascii=False)

    def to_text(self) -> str:
        lines = []
        for m in self.models:
            if m.status == UNCHANGED:
                lines.append(f"{m.model_id}: unchanged")
            elif m.status == UNREACHABLE:
                lines.append(f"{m.model_id}: unreachable: {m.error}")
            else:
                action = "written" if m.written else "not written (--check)"
                lines.append(f"{m.model_id}: changed, {m.severity} ({', '.join(m.files)}; {action})")
                for c in m.changes:
                    lines.append(f"  {c.severity:8} {c.code:36} {c.where or '/'}  {c.message}")
        lines.append(f"sync: {self.summary()}")
        return "\n".join(lines)

    def to_markdown(self) -> str:
        lines = [f"### Upstream sync: {self.summary()}", ""]
        lines += ["| model | status | severity | detail |", "|---|---|---|---|"]
        for m in self.models:
            if m.status == CHANGED:
                action = "written" if m.written else "not written"
                detail = f"{len(m.changes)} change(s) in {', '.join(m.files)}; {action}"
                severity = f"**{m.severity}**" if m.severity == BREAKING else str(m.severity)
            elif m.status == UNREACHABLE:
                detail, severity = _cell(m.error or ""), ""
            else:
                detail, severity = "", ""
            lines.append(f"| `{m.model_id}` | {m.status} | {severity} | {detail} |")
        for m in self.models:
            if m.status != CHANGED or not m.changes:
                continue
            lines += ["", f"#### `{m.model_id}` ({m.severity})", ""]
            lines += ["| severity | change | where | detail |", "|---|---|---|---|"]
            for c in m.changes:
                lines.append(f"| {c.severity} | {c.code} | {_cell(c.where or '/')} | {_cell(c.message)} |")
        return "\n".join(lines)


def _cell(text: str) -> str:
    """Text safe in a Markdown table cell: one line, no markup, no column breaks."""
    import html

    return html.escape(" ".join(text.split()), quote=False).replace("|", "\\|").replace("`", "\\`")


@dataclass
class _Fetched:
    imported: Imported
    files: dict[str, bytes]
    """The model's files as upstream has them, in the store's format."""
    differing: list[str]
    """Names of the files whose bytes differ from the store's."""


def _fetch_one(
    fetcher: Fetcher, schemas: Path, model_id: str, url: str, allow_unknown: bool
) -> _Fetched | str:
    """The model's schemas from its page, compared with the store; or the error (naming the URL)."""
    try:
        page = fetcher.get(url)
        found = decode_page(page.text, url, content_type=page.content_type, expected_id=model_id)
        imported = check_imported(*found, url, allow_unknown=allow_unknown)
    except CodegenError as exc:
        message = str(exc)
        return message if url in message else f"{url}: {message}"
    files = imported.files()
    differing = [name for name, data in files.items() if _read(schemas / model_id / name) != data]
    return _Fetched(imported, files, differing)


def sync_store(
    schemas: Path,
    *,
    check: bool = False,
    template: str | None = None,
    fetcher: Fetcher | None = None,
    concurrency: int = 4,
    allow_unknown: bool = False,
) -> SyncReport:
    """Fetch every model's page, classify what changed, and (unless ``check``) write it."""
    if template is not None:
        check_docs_template(template)
    old = read_store(schemas)
    report = SyncReport(str(schemas), check)
    if not old:
        return report
    urls = {model_id: docs_url(model_id, template) for model_id in sorted(old)}
    workers = max(1, min(concurrency, MAX_CONCURRENCY, len(urls)))
    own = fetcher is None
    active = fetcher or Fetcher(max_connections=workers)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="runcomfy-sync")
    try:
        futures = {
            model_id: pool.submit(_fetch_one, active, schemas, model_id, url, allow_unknown)
            for model_id, url in urls.items()
        }
        fetched = {model_id: future.result() for model_id, future in futures.items()}
    except BaseException:  # Ctrl-C: drop the pages not started; those in flight end by their deadline
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    else:
        pool.shutdown()
    finally:
        if own:
            active.close()
    changed = {k: v for k, v in fetched.items() if isinstance(v, _Fetched) and v.differing}
    diff = _classify(old, changed)
    for model_id, result in fetched.items():
        entry = ModelSync(model_id, urls[model_id], UNCHANGED)
        report.models.append(entry)
        if isinstance(result, str):
            entry.status, entry.error = UNREACHABLE, result
            continue
        entry.warnings = result.imported.warnings
        entry.files = result.differing
        if not entry.files:
            continue
        entry.status = CHANGED
        model_diff = diff.get(model_id)
        entry.changes = [
            ChangeEntry(c.severity, c.code, c.where, c.message)
            for c in (model_diff.changes if model_diff else [])
        ]
        entry.severity = max((c.severity for c in entry.changes), key=RANK.__getitem__, default=INFO)
        if not check:
            for name in entry.files:
                atomic_write(schemas / model_id / name, result.files[name])
            entry.written = True
    return report


def _classify(old: Any, changed: dict[str, _Fetched]) -> dict[str, Any]:
    """The diff's verdict on each changed model: the changed models are written to a private
    staging store, read back like any store and compared with the store by ``diff_stores``.

    Only ``read_store``, ``diff_stores`` and the report's ``models[].model_id/changes[].severity,
    code, where, message`` are relied on (``Any`` here on purpose: the diff's types are its own)."""
    if not changed:
        return {}
    with tempfile.TemporaryDirectory(prefix="runcomfy-sync-") as staging_dir:
        staging = Path(staging_dir)
        for model_id, result in changed.items():
            for name, data in result.files.items():
                atomic_write(staging / model_id / name, data)
        report = diff_stores(old, read_store(staging))
    # models not staged are missing from the staging store, not removed upstream
    return {m.model_id: m for m in report.models if m.model_id in changed}


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
