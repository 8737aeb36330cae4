"""Model API doc pages served by the mock, so ``import URL`` and ``sync`` run offline.

For every model of the schema store the mock is given (``schemas/<model_id>/input.json`` and
``output.json``, read on each request), ``GET /models/<model_id>/api`` and language variants
(``/fr/models/<model_id>/api``, ``/pt-BR/…``) answer the model's doc page in one of two renderings:

* **text** (``text/plain``): the page as a scraper's text extraction gives it, the format of
  ``tests/data/seed/`` (labels, curl examples, the ``modelApiDoc_hostedFileBody`` marker followed by
  the input schema and the ``{"output": ...}`` object);
* **HTML** (``text/html``): the same page as markup. The JSON sits in ``<pre><code>`` with every
  token in its own ``<span>``, long strings split across two spans, and each ``"`` written in turn as
  ``&quot;``, ``&#34;`` and ``&#x22;``; a ``<script>`` holds a decoy marker and another model's submit
  URL, which a correct reader ignores.

Which one: ``?format=text`` or ``?format=html`` when given; otherwise HTML when the ``Accept`` header
names ``text/html`` (as browsers and this tool's fetcher do), else text.

Switches, for tests and demos (``server.docs`` is a :class:`DocPages`):

* ``drift(model_id, kind)`` changes the schema served for a model, as if RunComfy had changed it
  upstream: ``breaking`` adds a required property without default, ``warning`` adds a required
  property with a default, ``info`` adds an optional property; ``set_schema`` serves any schema;
* ``break_page(model_id, kind)`` serves a bad page: ``no-marker``, ``truncated`` (the JSON cut in
  half), ``404``, ``login-redirect`` (302 to ``/login``, which answers a sign-in form) or
  ``wrong-id`` (the submit URL names another model); or a redirect: ``moved`` (301 from
  ``/models/…`` to ``/en/models/…``, which serves the page) or ``redirect-loop`` (302 to itself);
* ``reset()`` undoes both. ``user_agents`` lists the User-Agent of every page request.
"""

from __future__ import annotations

import copy
import html
import json
import re
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from runcomfy_codegen._errors import CodegenError
from runcomfy_codegen.importer import DEFAULT_OUTPUT  # RunComfy's common output schema
from runcomfy_codegen.model_id import check_model_id

MARKER = "modelApiDoc_hostedFileBody"
DRIFT_KINDS = ("breaking", "warning", "info")
PAGE_FAULTS = ("no-marker", "truncated", "404", "login-redirect", "wrong-id", "moved", "redirect-loop")
_PAGE_PATH = re.compile(r"^/(?:(?P<lang>[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})?)/)?models/(?P<id>.+?)/api/?$")
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|\s+|[^\s{}\[\]:,"]+')
_QUOTES = ("&quot;", "&#34;", "&#x22;")
_FOOTER = (
    "RunComfy is the premier ComfyUI platform, offering ComfyUI online environment and services, "
    "along with ComfyUI workflows featuring stunning visuals."
)

Reply = tuple[int, bytes, str, dict[str, str]]
"""(status, body, content type, extra headers)."""


def _drifted(schema: Any, kind: str) -> Any:
    changed = copy.deepcopy(schema)
    if not isinstance(changed, dict):
        return {"type": "object", "properties": {"drift_note": {"type": "string"}}}
    properties = changed.setdefault("properties", {})
    if kind == "info":
        properties["drift_note"] = {"type": "string", "description": "added upstream (mock drift)"}
    else:
        name = "drift_required" if kind == "breaking" else "drift_seed"
        properties[name] = (
            {"type": "string", "description": "required upstream (mock drift)"}
            if kind == "breaking"
            else {"type": "integer", "default": 1, "description": "required upstream (mock drift)"}
        )
        changed["required"] = [*changed.get("required", []), name]
    return changed


class DocPages:
    """The doc pages of one schema store; thread-safe."""

    def __init__(self, schemas: Path, api_base: Callable[[], str]) -> None:
        self.schemas = schemas
        self._api_base = api_base
        self._lock = threading.Lock()
        self._schemas: dict[str, tuple[Any, Any]] = {}
        self._faults: dict[str, str] = {}
        self.user_agents: deque[str] = deque(maxlen=1000)
        """User-Agent of the latest page requests (the last 1,000)."""

    # Switches ---------------------------------------------------------------------------------
    def drift(self, model_id: str, kind: str = "breaking") -> None:
        """Serve a changed input schema for ``model_id`` (``breaking``, ``warning`` or ``info``)."""
        if kind not in DRIFT_KINDS:
            raise ValueError(f"unknown drift {kind!r}; known: {', '.join(DRIFT_KINDS)}")
        input_schema, output_document = self._documents(model_id) or (None, None)
        if input_schema is None:
            raise ValueError(f"{model_id!r} is not in the mock's schema store {self.schemas}")
        self.set_schema(model_id, _drifted(input_schema, kind), output_document)

    def set_schema(self, model_id: str, input_schema: Any, output_document: Any = None) -> None:
        """Serve these schemas for ``model_id`` (output: the store's, else RunComfy's common one)."""
        if output_document is None:
            output_document = (self._documents(model_id) or (None, DEFAULT_OUTPUT))[1]
        with self._lock:
            self._schemas[model_id] = (input_schema, output_document)

    def break_page(self, model_id: str, kind: str) -> None:
        if kind not in PAGE_FAULTS:
            raise ValueError(f"unknown page fault {kind!r}; known: {', '.join(PAGE_FAULTS)}")
        with self._lock:
            self._faults[model_id] = kind

    def reset(self) -> None:
        with self._lock:
            self._schemas.clear()
            self._faults.clear()

    # Serving ----------------------------------------------------------------------------------
    def respond(self, method: str, target: str, accept: str, user_agent: str) -> Reply | None:
        """The reply for a doc page request, or None when ``target`` is not a doc page path."""
        if method not in ("GET", "HEAD"):
            return None
        parts = urlsplit(target)
        if parts.path == "/login":
            body = (
                '<!DOCTYPE html><html><body><form method="post"><input type="password"></form></body></html>'
            )
            return 200, body.encode(), "text/html; charset=utf-8", {}
        match = _PAGE_PATH.match(parts.path)
        if match is None:
            return None
        with self._lock:
            self.user_agents.append(user_agent)
        model_id, lang = unquote(match.group("id")), match.group("lang") or "en"
        fault = self._faults.get(model_id)
        if fault == "404":
            return _not_found(model_id)
        if fault == "login-redirect":
            return 302, b"", "text/plain", {"Location": f"/login?next={quote(parts.path)}"}
        if fault == "redirect-loop":
            return 302, b"", "text/plain", {"Location": target}
        if fault == "moved" and match.group("lang") is None:
            return 301, b"", "text/plain", {"Location": f"/en{target}"}
        documents = self._documents(model_id)
        if documents is None:
            return _not_found(model_id)
        wanted = parse_qs(parts.query).get("format", [""])[0]
        as_html = wanted == "html" or (wanted != "text" and "text/html" in accept.lower())
        page_id = f"{model_id}-elsewhere" if fault == "wrong-id" else model_id
        if as_html:
            body = self._html(model_id, page_id, lang, *documents, fault)
            return 200, body.encode("utf-8"), "text/html; charset=utf-8", {}
        body = self._text(model_id, page_id, *documents, fault)
        return 200, body.encode("utf-8"), "text/plain; charset=utf-8", {}

    def _documents(self, model_id: str) -> tuple[Any, Any] | None:
        with self._lock:
            if model_id in self._schemas:
                return self._schemas[model_id]
        try:
            check_model_id(model_id)
        except CodegenError:
            return None
        folder = self.schemas / model_id
        try:
            input_schema = json.loads((folder / "input.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        try:
            output_document = json.loads((folder / "output.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            output_document = DEFAULT_OUTPUT
        return input_schema, output_document

    def _example(self, input_schema: Any) -> str:
        properties = input_schema.get("properties", {}) if isinstance(input_schema, dict) else {}
        required = input_schema.get("required", []) if isinstance(input_schema, dict) else []
        example = {
            name: properties[name]["default"]
            for name in required
            if isinstance(properties.get(name), dict) and "default" in properties[name]
        }
        return json.dumps(example, ensure_ascii=False, indent=0)

    def _curl(self, page_id: str, input_schema: Any) -> list[str]:
        return [
            "curl --request POST \\",
            f"--url {self._api_base()}/v1/models/{page_id} \\",
            '--header "Content-Type: application/json" \\',
            '--header "Authorization: Bearer <token>" \\',
            f"--data '{self._example(input_schema)}'",
        ]

    def _text(
        self, model_id: str, page_id: str, input_schema: Any, output_document: Any, fault: str | None
    ) -> str:
        schemas = _dump(input_schema) + _dump(output_document)
        if fault == "truncated":  # the input schema cut in half, nothing after it
            schemas = _dump(input_schema)[: len(_dump(input_schema)) // 2]
        marker = "modelApiDoc_navigation" if fault == "no-marker" else MARKER
        curl = "\n".join(self._curl(page_id, input_schema))
        return (
            f"modelApiDoc_getStartedBeforeModel{model_id}modelApiDoc_getStartedAfterModel "
            f"modelApiDoc_schemaLinkmodelApiDoc_getStartedAfterSchema\n{curl}"
            f"modelApiDoc_authP1 YOUR_API_TOKEN modelApiDoc_authP2\nmodelApiDoc_submitBody\n{curl}"
            f"modelApiDoc_monitorBody\ncurl --request GET \\\n"
            f"--url {self._api_base()}/v1/requests/{{request_id}}/status \\\n"
            f'--header "Authorization: Bearer <token>"{marker}\n{schemas}{_FOOTER}'
        )

    def _html(
        self,
        model_id: str,
        page_id: str,
        lang: str,
        input_schema: Any,
        output_document: Any,
        fault: str | None,
    ) -> str:
        esc = html.escape
        input_html, output_html = _json_html(input_schema), _json_html(output_document)
        if fault == "truncated":
            input_html, output_html = _json_html(input_schema, truncate=True), ""
        marker = "modelApiDoc_navigation" if fault == "no-marker" else MARKER
        curl = "\n".join(esc(line, quote=False) for line in self._curl(page_id, input_schema))
        decoy = json.dumps({MARKER: "{not the schema", "url": "https://x.invalid/v1/models/decoy/model"})
        decoy = decoy.replace("</", "<\\/")
        return (
            f'<!DOCTYPE html>\n<html lang="{esc(lang)}"><head><meta charset="utf-8">'
            f"<title>{esc(model_id)} API | RunComfy (mock)</title>"
            f"<style>pre {{ white-space: pre-wrap }}</style>"
            f"<script>window.__DOC__ = {decoy};</script></head>\n"
            f'<body><nav><a href="/models">Models</a> / <b>{esc(model_id)}</b></nav><main>'
            f"<h1>modelApiDoc_getStartedBeforeModel{esc(model_id)}modelApiDoc_getStartedAfterModel</h1>"
            f"<section><h2>modelApiDoc_submitBody</h2><pre><code>{curl}</code></pre></section>"
            f"<section><h2>{marker}</h2>"
            f'<pre><code class="language-json">{input_html}</code></pre>'
            f'<pre><code class="language-json">{output_html}</code></pre></section>'
            f"<footer><p>{esc(_FOOTER)}</p></footer></main></body></html>\n"
        )


def _dump(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False, indent=0)


def _json_html(document: Any, truncate: bool = False) -> str:
    """JSON as syntax-highlighted markup: a span per token, long strings split in two, quotes
    entity-encoded three ways in turn."""
    text = json.dumps(document, ensure_ascii=False, indent=2)
    if truncate:
        text = text[: len(text) // 2]
    out: list[str] = []
    quotes = 0
    for token in _JSON_TOKEN.findall(text):
        if token.isspace():
            out.append(token)
            continue
        if token.startswith('"'):
            pieces = [token[: len(token) // 2], token[len(token) // 2 :]] if len(token) > 8 else [token]
            for piece in pieces:
                encoded = []
                for char in piece:
                    if char == '"':
                        encoded.append(_QUOTES[quotes % len(_QUOTES)])
                        quotes += 1
                    else:
                        encoded.append(html.escape(char, quote=False))
                out.append(f'<span class="s">{"".join(encoded)}</span>')
        else:
            out.append(f'<span class="p">{html.escape(token, quote=False)}</span>')
    return "".join(out)


def _not_found(model_id: str) -> Reply:
    body = f"<!DOCTYPE html><html><body><h1>404</h1><p>No model {html.escape(model_id)}</p></body></html>"
    return 404, body.encode("utf-8"), "text/html; charset=utf-8", {}
