"""The two renderings of a RunComfy model API doc page, reduced to one text.

A page comes either as the *text rendering* (what a scraper's text extraction gives: the format of
``tests/data/seed/``) or as *HTML*, in which the same JSON is HTML-escaped (``&quot;``),
entity-encoded (``&#34;``, ``&#x22;``) or split across tags (``<span>"pro</span><span>mpt"</span>``).
:func:`page_text` turns an HTML page into the text a browser would show, with the standard
library's :class:`html.parser.HTMLParser` (character references decoded by the parser itself, the
contents of ``<script>``, ``<style>``, ``<template>`` and ``<title>`` left out, a line break at each block-level
element); the importer then decodes the JSON in that text exactly as in the text rendering. Nothing
is repaired or guessed: a page whose text is not valid JSON at the marker is refused.

Which rendering a page is: its ``Content-Type`` when it came over HTTP (``text/html`` or
``application/xhtml+xml``); otherwise (a saved file, or no usable header) an HTML document starts
with ``<!doctype html`` or ``<html``, which the text rendering never does.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

# Elements whose content is not page text.
_SKIPPED = frozenset({"script", "style", "template", "title"})
# Elements that start a new line in a browser's rendering (innerText); inline elements (span, code,
# a, b, em, ...) do not, so a JSON string split across spans comes back whole.
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "details", "dialog", "div", "dl", "dt",
        "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
        "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody",
        "td", "tfoot", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
_HTML_START = re.compile(r"\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html[\s>])", re.IGNORECASE | re.DOTALL)
_HTML_TYPES = ("text/html", "application/xhtml+xml")
# /models/<id>/api, optionally after a language segment (/fr/, /pt-BR/, /zh-Hans/).
_DOCS_PATH = re.compile(r"^/(?:[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})?/)?models/(.+?)/api/?$")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skipping.append(tag)
        elif tag in _BLOCKS and not self._skipping:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS and not self._skipping:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            if tag in self._skipping:  # close it (and anything left open inside it)
                del self._skipping[self._skipping.index(tag) :]
        elif tag in _BLOCKS and not self._skipping:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """The text of an HTML document, as a browser shows it (character references decoded)."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return "".join(extractor.parts)


def is_html(text: str, content_type: str | None = None) -> bool:
    """Whether a page is the HTML rendering (by its media type when known, else by its start)."""
    if content_type:
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type in _HTML_TYPES:
            return True
        if media_type.startswith("text/") and media_type != "text/plain":
            return _HTML_START.match(text) is not None
        if media_type == "text/plain":
            return False
    return _HTML_START.match(text) is not None


def page_text(text: str, content_type: str | None = None) -> str:
    """The text rendering of a page, whichever rendering it came in."""
    return html_to_text(text) if is_html(text, content_type) else text


def model_id_from_docs_url(url: str) -> str | None:
    """The model id a doc page URL names (``…/models/<model_id>/api``, ``…/fr/models/…``), if any."""
    match = _DOCS_PATH.match(urlsplit(url).path)
    return unquote(match.group(1)) if match else None
