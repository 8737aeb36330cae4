"""``import URL`` and ``sync`` against the embedded mock's doc pages (127.0.0.1 only, bounded)."""

from __future__ import annotations

import contextlib
import gzip
import json
import random
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from runcomfy_codegen import __version__
from runcomfy_codegen._errors import SourceError
from runcomfy_codegen.cli import main
from runcomfy_codegen.docpage import html_to_text, is_html, model_id_from_docs_url
from runcomfy_codegen.importer import decode_page, expand_sources
from runcomfy_codegen.mock import Fault, MockServer
from runcomfy_codegen.sync import sync_store
from runcomfy_codegen.upstream import (
    DEFAULT_DOCS_URL,
    Fetcher,
    FetchError,
    docs_url,
    is_login_url,
    retry_after_seconds,
)
from tests.conftest import ROOT, SEED_ID

HOSTILE_ID = "acme/hostile-strings"
OTHER_ID = "acme/other"
HOSTILE = {
    "type": "object",
    "required": ["prompt"],
    "properties": {
        "prompt": {
            "title": 'Quote " and &quot; and &#34; and <b>bold</b>',
            "description": "</code></pre><script>alert(1)</script> <!-- --> ]]> \\ back\\slash\nnew\tline é 🎬 {{ x }}",
            "type": "string",
            "default": 'it\'s "quoted" & <tagged>',
        },
        "mode": {"type": "string", "enum": ["a<b", "c&d", 'e"f', "g'h", "modelApiDoc_hostedFileBody"]},
        "strength": {"type": "number", "minimum": -1.5e-3, "maximum": 1e21, "default": 0.25},
    },
}


@pytest.fixture
def stores(tmp_path: Path) -> tuple[Path, Path]:
    """(upstream store served by the mock, local store to sync): same three models."""
    upstream = tmp_path / "upstream"
    shutil.copytree(ROOT / "schemas", upstream)
    for model_id, schema in ((HOSTILE_ID, HOSTILE), (OTHER_ID, {"type": "object", "properties": {}})):
        folder = upstream / model_id
        folder.mkdir(parents=True)
        (folder / "input.json").write_text(json.dumps(schema, ensure_ascii=False, indent=2) + "\n", "utf-8")
        shutil.copy(upstream / SEED_ID / "output.json", folder / "output.json")
    local = tmp_path / "local"
    shutil.copytree(upstream, local)
    return upstream, local


@pytest.fixture
def server(stores: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[MockServer]:
    with MockServer(schemas=stores[0]) as mock:
        monkeypatch.setenv("RUNCOMFY_DOCS_URL", f"{mock.base_url}/models/{{model_id}}/api")
        yield mock


def page_url(server: MockServer, model_id: str, query: str = "", lang: str = "") -> str:
    return f"{server.base_url}{'/' + lang if lang else ''}/models/{model_id}/api{query}"


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def quick_fetcher(**kwargs: float) -> Fetcher:
    options: dict[str, float] = {"backoff": 0.01, "max_backoff": 0.05, "timeout": 5.0, "deadline": 20.0}
    options.update(kwargs)
    return Fetcher(**options)  # type: ignore[arg-type]


# Both renderings ------------------------------------------------------------------------------


@pytest.mark.parametrize("model_id", [SEED_ID, HOSTILE_ID])
@pytest.mark.parametrize(
    ("query", "lang"),
    [("?format=text", ""), ("?format=html", ""), ("", ""), ("?format=html", "fr"), ("", "pt-BR")],
)
def test_import_url_both_renderings_give_byte_identical_stores(
    server: MockServer, stores: tuple[Path, Path], tmp_path: Path, model_id: str, query: str, lang: str
) -> None:
    out = tmp_path / "imported"
    assert main(["import", page_url(server, model_id, query, lang), "--schemas", str(out)]) == 0
    for name in ("input.json", "output.json"):
        assert (out / model_id / name).read_bytes() == (stores[0] / model_id / name).read_bytes()


def test_the_two_renderings_really_differ(server: MockServer) -> None:
    with quick_fetcher() as fetcher:
        text = fetcher.get(page_url(server, HOSTILE_ID, "?format=text"))
        page = fetcher.get(page_url(server, HOSTILE_ID, "?format=html"))
        default = fetcher.get(page_url(server, HOSTILE_ID))
    assert text.content_type.startswith("text/plain") and not is_html(text.text, text.content_type)
    assert page.content_type.startswith("text/html") and default.content_type.startswith("text/html")
    for encoding in ("&quot;", "&#34;", "&#x22;", "&lt;", "&amp;", "</span><span"):
        assert encoding in page.text
    assert "&lt;/code&gt;&lt;/pre&gt;" in page.text  # hostile strings stay text, never markup
    assert decode_page(text.text, "t", content_type=text.content_type) == decode_page(
        page.text, "h", content_type=page.content_type
    )


def test_html_text_extraction_decodes_entities_joins_spans_and_skips_scripts() -> None:
    html = (
        "<!-- c --><!DOCTYPE html><html><head><title>modelApiDoc_hostedFileBody</title>"
        "<script>var x = '--url https://x/v1/models/evil/one modelApiDoc_hostedFileBody {}'</script></head>"
        "<body><div>--url https://model-api.runcomfy.net/v1/models/a/b</div><div>modelApiDoc_hostedFileBody</div>"
        '<pre>{<span>&quot;ty</span><span>pe&#34;</span>: &#x22;object&#x22;, "title": "&lt;&amp;&gt;"}'
        '{"output": {}}</pre></body></html>'
    )
    assert is_html(html)
    text = html_to_text(html)
    assert "evil" not in text and text.count("modelApiDoc_hostedFileBody") == 1
    assert decode_page(html, "page.html", content_type="text/html") == (
        "a/b",
        {"type": "object", "title": "<&>"},
        {"output": {}},
    )


def test_html_that_is_not_valid_json_is_refused_not_repaired() -> None:
    # a double-escaped quote decodes to the text "&quot;", which is not JSON: refused, never guessed
    html = (
        "<html><body><p>--url https://h/v1/models/a/b</p><p>modelApiDoc_hostedFileBody</p>"
        "<pre>{&amp;quot;type&amp;quot;: 1}</pre></body></html>"
    )
    with pytest.raises(SourceError, match=r"^page\.html: the input schema is not valid JSON"):
        decode_page(html, "page.html", content_type="text/html")


def test_saved_html_page_imports_like_the_text_one(server: MockServer, tmp_path: Path) -> None:
    with quick_fetcher() as fetcher:
        html = fetcher.get(page_url(server, SEED_ID, "?format=html")).text
    saved = tmp_path / "page.html"
    saved.write_text(html, encoding="utf-8")
    out = tmp_path / "imported"
    assert main(["import", str(saved), "--schemas", str(out)]) == 0
    assert (out / SEED_ID / "input.json").read_bytes() == (
        ROOT / "schemas" / SEED_ID / "input.json"
    ).read_bytes()


def test_urls_survive_being_given_as_paths() -> None:
    url = "https://www.runcomfy.com/fr/models/a/b/api?format=html"
    assert expand_sources([Path(url)]) == [url]
    assert expand_sources([url]) == [url]
    assert model_id_from_docs_url(url) == "a/b"
    assert model_id_from_docs_url("https://www.runcomfy.com/models/bytedance/x-1/image-to-video/api") == (
        "bytedance/x-1/image-to-video"
    )
    assert model_id_from_docs_url("https://example.com/other/page") is None


def test_docs_url_template(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNCOMFY_DOCS_URL", raising=False)
    assert docs_url("a/b c") == DEFAULT_DOCS_URL.replace("{model_id}", "a/b%20c")
    monkeypatch.setenv("RUNCOMFY_DOCS_URL", "http://127.0.0.1:1/fr/models/{model_id}/api?format=html")
    assert docs_url("a/b") == "http://127.0.0.1:1/fr/models/a/b/api?format=html"


@pytest.mark.parametrize("template", ["http://127.0.0.1:1/models/api", "ftp://h/{model_id}", "{model_id}"])
def test_bad_docs_url_template_exits_2(
    stores: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    template: str,
) -> None:
    monkeypatch.setenv("RUNCOMFY_DOCS_URL", template)
    assert main(["sync", "--schemas", str(stores[1]), "--check"]) == 2
    err = capsys.readouterr().err
    assert "RUNCOMFY_DOCS_URL" in err and "Traceback" not in err


# Drift -----------------------------------------------------------------------------------------


def test_sync_with_no_upstream_change_exits_0_and_touches_nothing(
    server: MockServer, stores: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(stores[1])
    assert main(["sync", "--schemas", str(stores[1])]) == 0
    assert snapshot(stores[1]) == before
    out = capsys.readouterr().out
    assert out.count(": unchanged") == 3
    assert "0 changed" in out and "0 unreachable" in out


@pytest.mark.parametrize(
    ("kind", "code", "exit_any", "exit_warning", "exit_breaking"),
    [
        ("breaking", "required-property-added", 1, 1, 1),
        ("warning", "required-property-added-with-default", 1, 1, 0),
        ("info", "optional-property-added", 1, 0, 0),
    ],
)
def test_drift_is_detected_and_classified(
    server: MockServer,
    stores: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
    kind: str,
    code: str,
    exit_any: int,
    exit_warning: int,
    exit_breaking: int,
) -> None:
    local = stores[1]
    server.docs.drift(SEED_ID, kind)
    before = snapshot(local)
    assert main(["sync", "--schemas", str(local), "--check", "--format", "json"]) == exit_any
    report = json.loads(capsys.readouterr().out)
    assert (report["changed"], report["unchanged"], report["unreachable"]) == (1, 2, 0)
    (changed,) = [m for m in report["models"] if m["status"] == "changed"]
    assert changed["model_id"] == SEED_ID and changed["severity"] == kind
    assert changed["files"] == ["input.json"] and changed["written"] is False
    assert [c["code"] for c in changed["changes"]] == [code]
    assert main(["sync", "--schemas", str(local), "--check", "--fail-on", "warning"]) == exit_warning
    assert main(["sync", "--schemas", str(local), "--check", "--fail-on", "breaking"]) == exit_breaking
    assert snapshot(local) == before  # --check writes nothing

    capsys.readouterr()
    assert main(["sync", "--schemas", str(local)]) == 1  # changed, and written
    assert f"{SEED_ID}: changed, {kind}" in capsys.readouterr().out
    written = json.loads((local / SEED_ID / "input.json").read_text(encoding="utf-8"))
    assert set(written["properties"]) - set(json.loads(before[f"{SEED_ID}/input.json"][0])["properties"])
    assert snapshot(local)[f"{OTHER_ID}/input.json"] == before[f"{OTHER_ID}/input.json"]  # untouched
    assert main(["sync", "--schemas", str(local)]) == 0  # now in step


def test_drift_from_the_constructor_and_markdown_report(
    stores: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with MockServer(schemas=stores[0], drift={HOSTILE_ID: "breaking", OTHER_ID: "info"}) as mock:
        monkeypatch.setenv("RUNCOMFY_DOCS_URL", f"{mock.base_url}/fr/models/{{model_id}}/api?format=html")
        assert main(["sync", "--schemas", str(stores[1]), "--check", "--format", "markdown"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("### Upstream sync: 2 changed (1 breaking, 0 warning, 1 info), 1 unchanged")
    assert f"| `{HOSTILE_ID}` | changed | **breaking** |" in out
    assert f"| `{SEED_ID}` | unchanged |" in out
    assert f"#### `{HOSTILE_ID}` (breaking)" in out
    assert "| breaking | required-property-added | input/properties/drift_required |" in out


def test_output_schema_drift_is_classified(server: MockServer, stores: tuple[Path, Path]) -> None:
    upstream_input = json.loads((stores[0] / OTHER_ID / "input.json").read_text(encoding="utf-8"))
    server.docs.set_schema(OTHER_ID, upstream_input, {"output": {"type": "object", "properties": {}}})
    with quick_fetcher() as fetcher:
        report = sync_store(stores[1], check=True, fetcher=fetcher)
    (changed,) = [m for m in report.models if m.status == "changed"]
    assert changed.files == ["output.json"] and changed.severity == "breaking"
    assert {c.code for c in changed.changes} == {"output-field-removed"}
    assert report.exit_code("breaking") == 1


# Bad pages -------------------------------------------------------------------------------------

BAD_PAGES = [
    ("no-marker", "no 'modelApiDoc_hostedFileBody' marker"),
    ("truncated", "the input schema is not valid JSON"),
    ("404", "HTTP 404 Not Found"),
    ("login-redirect", "redirected to a login page"),
    ("wrong-id", f"the page's submit URL names model '{SEED_ID}-elsewhere', not '{SEED_ID}'"),
    ("redirect-loop", "more than 5 redirects"),
]


@pytest.mark.parametrize("rendering", ["?format=text", "?format=html"])
@pytest.mark.parametrize(("kind", "message"), BAD_PAGES)
def test_import_url_bad_page_exits_2_naming_the_url_and_writes_nothing(
    server: MockServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    kind: str,
    message: str,
    rendering: str,
) -> None:
    server.docs.break_page(SEED_ID, kind)
    url = page_url(server, SEED_ID, rendering)
    out = tmp_path / "imported"
    assert main(["import", url, "--schemas", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {url}: ") and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize(("kind", "message"), BAD_PAGES)
def test_sync_bad_page_is_a_per_model_error_and_that_folder_is_untouched(
    server: MockServer,
    stores: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
    kind: str,
    message: str,
) -> None:
    local = stores[1]
    server.docs.break_page(SEED_ID, kind)
    server.docs.drift(OTHER_ID, "info")  # the other models are still synced
    before = snapshot(local)
    assert main(["sync", "--schemas", str(local), "--format", "json"]) == 2
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    by_id = {m["model_id"]: m for m in report["models"]}
    url = page_url(server, SEED_ID)
    assert by_id[SEED_ID]["status"] == "unreachable"
    assert by_id[SEED_ID]["error"].startswith(f"{url}: ") and message in by_id[SEED_ID]["error"]
    assert f"error: {SEED_ID}: {url}: " in captured.err
    assert by_id[OTHER_ID]["status"] == "changed" and by_id[OTHER_ID]["written"] is True
    assert by_id[HOSTILE_ID]["status"] == "unchanged"
    after = snapshot(local)
    for name in ("input.json", "output.json"):
        assert after[f"{SEED_ID}/{name}"] == before[f"{SEED_ID}/{name}"]


def test_a_redirect_that_is_not_a_login_is_followed(server: MockServer, tmp_path: Path) -> None:
    server.docs.break_page(SEED_ID, "moved")
    assert main(["import", page_url(server, SEED_ID), "--schemas", str(tmp_path / "s")]) == 0
    assert ("GET", f"/en/models/{SEED_ID}/api", 200) in server.requests


def test_import_url_check_reports_upstream_drift_and_writes_nothing(
    server: MockServer, stores: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    local, url = stores[1], page_url(server, SEED_ID)
    assert main(["import", url, "--schemas", str(local), "--check"]) == 0
    server.docs.drift(SEED_ID, "info")
    before = snapshot(local)
    assert main(["import", url, "--schemas", str(local), "--check"]) == 1
    assert f"{url}: {SEED_ID}: would change (input.json)" in capsys.readouterr().out
    assert snapshot(local) == before
    assert main(["import", url, "--schemas", str(local)]) == 0
    assert snapshot(local) != before


def test_login_urls() -> None:
    assert is_login_url("https://www.runcomfy.com/login?next=/models/a/b/api")
    assert is_login_url("https://auth.example.com/u/sign-in")
    assert is_login_url("https://example.com/oauth2/authorize?client_id=x")
    assert not is_login_url("https://www.runcomfy.com/en/models/acme/auth/api")  # a model named 'auth'
    assert not is_login_url("https://www.runcomfy.com/models/a/b/api")


def test_import_url_with_another_model_id_is_refused(server: MockServer, tmp_path: Path) -> None:
    url = page_url(server, SEED_ID)
    assert main(["import", url, "--model-id", "acme/other-one", "--schemas", str(tmp_path / "s")]) == 2
    assert not (tmp_path / "s").exists()


def test_unreachable_host_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with MockServer() as mock:
        url = page_url(mock, SEED_ID)
    # the server is gone: connection refused, retried, then a one-line error
    with (
        quick_fetcher(max_retries=1) as fetcher,
        pytest.raises(FetchError, match=r"ConnectError.*2 attempts"),
    ):
        fetcher.get(url)
    assert url.startswith("http://127.0.0.1:")


# Fetching: retries, Retry-After, caps, timeouts, User-Agent ------------------------------------


def test_retries_5xx_and_429_then_succeeds(server: MockServer, stores: tuple[Path, Path]) -> None:
    server.inject(Fault("503", times=2, path=f"/models/{SEED_ID}/api"))
    server.inject(Fault("429", times=1, path=f"/models/{OTHER_ID}/api", retry_after="0"))
    with quick_fetcher() as fetcher:
        report = sync_store(stores[1], check=True, fetcher=fetcher, concurrency=2)
    assert [m.status for m in report.models] == ["unchanged"] * 3
    assert server.count("GET", f"/models/{SEED_ID}/api") == 3
    assert server.count("GET", f"/models/{OTHER_ID}/api") == 2


def test_gives_up_after_max_retries(server: MockServer) -> None:
    server.inject(Fault("503", times=10, path="/models/"))
    url = page_url(server, SEED_ID)
    with quick_fetcher(max_retries=2) as fetcher, pytest.raises(FetchError) as caught:
        fetcher.get(url)
    assert str(caught.value) == f"{url}: HTTP 503 Service Unavailable (gave up after 3 attempts)"
    assert server.count("GET", "/models/") == 3


def test_retry_after_is_honoured_and_bounded(server: MockServer) -> None:
    server.inject(Fault("429", times=1, path="/models/", retry_after="3600"))
    url = page_url(server, SEED_ID)
    with quick_fetcher(max_retry_after=5) as fetcher, pytest.raises(FetchError, match="Retry-After 3600 s"):
        fetcher.get(url)
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480.0) == 0.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after_seconds("soon") is None


def test_size_cap(server: MockServer) -> None:
    url = page_url(server, SEED_ID)
    with quick_fetcher(max_bytes=2000) as fetcher, pytest.raises(FetchError, match="2,000-byte cap"):
        fetcher.get(url)


def test_read_timeout_is_an_error_naming_the_url(server: MockServer) -> None:
    server.inject(Fault("delay", times=1, path="/models/", seconds=1.5))
    url = page_url(server, SEED_ID)
    with quick_fetcher(timeout=0.3, max_retries=0) as fetcher, pytest.raises(FetchError) as caught:
        fetcher.get(url)
    assert str(caught.value).startswith(f"{url}: ReadTimeout")


def test_user_agent_names_the_tool_and_its_version(server: MockServer, stores: tuple[Path, Path]) -> None:
    assert main(["sync", "--schemas", str(stores[1]), "--check", "--concurrency", "2"]) == 0
    assert len(server.docs.user_agents) == 3
    assert all(ua.startswith(f"runcomfy-codegen/{__version__} ") for ua in server.docs.user_agents)


@pytest.mark.parametrize("argv", [["--concurrency", "0"], ["--concurrency", "33"], ["--timeout", "0"]])
def test_bad_options_exit_2(stores: tuple[Path, Path], argv: list[str]) -> None:
    assert main(["sync", "--schemas", str(stores[1]), *argv]) == 2


def test_missing_store_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sync", "--schemas", str(tmp_path / "nowhere")]) == 2
    assert "not a schema store folder" in capsys.readouterr().err


def test_cli_process_reports_markdown_and_exits_1_then_2(
    server: MockServer, stores: tuple[Path, Path]
) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "RUNCOMFY_DOCS_URL": f"{server.base_url}/models/{{model_id}}/api"}
    command = [sys.executable, "-m", "runcomfy_codegen", "sync", "--schemas", str(stores[1]), "--check"]
    server.docs.drift(SEED_ID, "warning")
    done = subprocess.run(
        [*command, "--format", "markdown"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("### Upstream sync: 1 changed (0 breaking, 1 warning, 0 info)")
    assert done.stderr == ""
    server.docs.break_page(OTHER_ID, "404")
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr == f"error: {OTHER_ID}: {page_url(server, OTHER_ID)}: HTTP 404 Not Found\n"
    assert "Traceback" not in done.stdout + done.stderr


# A hostile page server: what a broken or malicious host might send --------------------------


class _HostileHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return

    def _head(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()

    def do_GET(self) -> None:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._serve()

    def _serve(self) -> None:
        path = self.path
        if path == "/endless":  # chunked, never ends (at most 64 MiB, then the server gives up)
            self._head(200, {"Content-Type": "text/plain", "Transfer-Encoding": "chunked"})
            chunk = b"x" * 65536
            for _ in range(1024):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        elif path == "/gzip-bomb":  # 16 KiB on the wire, 16 MiB once decoded
            body = gzip.compress(b"\0" * (16 * 1024 * 1024), compresslevel=9)
            self._head(
                200,
                {"Content-Type": "text/plain", "Content-Encoding": "gzip", "Content-Length": str(len(body))},
            )
            self.wfile.write(body)
        elif path == "/trickle":  # a byte every 50 ms: each read is quick, the page never arrives
            self._head(200, {"Content-Type": "text/plain", "Content-Length": "100000"})
            for _ in range(200):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.05)
        elif path == "/huge-declared":
            self._head(200, {"Content-Type": "text/plain", "Content-Length": str(10**12)})
        elif path == "/latin1":
            self._head(200, {"Content-Type": "text/plain", "Content-Length": "4"})
            self.wfile.write(b"\xff\xfe\xfd\xfc")
        elif path == "/to-ftp":
            self._head(302, {"Location": "ftp://example.invalid/page", "Content-Length": "0"})
        elif path == "/to-signin":
            self._head(
                303, {"Location": "https://auth.example.invalid/u/sign-in?return=x", "Content-Length": "0"}
            )
        else:
            self._head(404, {"Content-Length": "0"})


@pytest.fixture(scope="module")
def hostile() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _HostileHandler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize(
    ("path", "options", "message"),
    [
        ("/endless", {}, "larger than the 1,000,000-byte cap"),
        ("/gzip-bomb", {}, "larger than the 1,000,000-byte cap"),
        ("/trickle", {"deadline": 1.0}, "did not arrive within the deadline"),
        ("/huge-declared", {}, "the page is 1,000,000,000,000 bytes, more than the 1,000,000-byte cap"),
        ("/latin1", {}, "not valid utf-8 text"),
        ("/to-ftp", {}, "redirected to a non-http(s) URL 'ftp://example.invalid/page'"),
        ("/to-signin", {}, "redirected to a login page (https://auth.example.invalid/u/sign-in?return=x)"),
    ],
)
def test_hostile_pages_are_refused_in_bounded_time(
    hostile: str, path: str, options: dict[str, float], message: str
) -> None:
    url = hostile + path
    with (
        quick_fetcher(max_bytes=1_000_000, max_retries=0, **options) as fetcher,
        pytest.raises(FetchError) as caught,
    ):
        fetcher.get(url)
    assert str(caught.value).startswith(f"{url}: ") and message in str(caught.value)


# Both renderings, fuzzed -----------------------------------------------------------------------

_PIECES = [
    '"', "\\", "<", ">", "&", "'", "\n", "\t", "\x00", "\x7f", "\x85", "é", "🎬", "\u2028", "&quot;", "&#34;",
    "&amp;", "</span>", "<!--", "-->", "<script>", "]]>", "{", "}", "[", ":", ",", " ", "  ", "a", "Z", "0",
    "modelApiDoc_hostedFileBody", "https://model-api.runcomfy.net/v1/models/x/y", "{{ x }}", "\u00a0",
]  # fmt: skip


def _random_value(rng: random.Random, depth: int) -> object:
    kind = rng.randrange(8 if depth < 3 else 5)
    if kind == 0:
        return "".join(rng.choice(_PIECES) for _ in range(rng.randrange(12)))
    if kind == 1:
        return rng.randrange(-(10**18), 10**18)
    if kind == 2:
        return rng.choice([0.5, -1.25e-7, 1e21, 3.141592653589793, 0.1])
    if kind == 3:
        return rng.choice([True, False, None])
    if kind == 4:
        return ""
    if kind == 5:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {
        "".join(rng.choice(_PIECES) for _ in range(rng.randrange(1, 5))): _random_value(rng, depth + 1)
        for _ in range(rng.randrange(5))
    }


def test_both_renderings_round_trip_any_json(tmp_path: Path) -> None:
    """200 seeded random documents (hostile strings, deep nesting): the text page and the HTML page
    decode to the same documents, equal to the ones served."""
    from runcomfy_codegen.mock.docs import DocPages

    rng = random.Random(16)
    docs = DocPages(tmp_path, lambda: "http://127.0.0.1:1")
    for case in range(200):
        schema = {"type": "object", "x-fuzz": _random_value(rng, 0), "properties": {}}
        output = {"output": {"type": "object", "x-fuzz": _random_value(rng, 0)}}
        model_id = f"fuzz/case-{case}"
        docs.set_schema(model_id, schema, output)
        found = []
        for query in ("?format=text", "?format=html"):
            reply = docs.respond("GET", f"/models/{model_id}/api{query}", "", "test")
            assert reply is not None and reply[0] == 200
            found.append(
                decode_page(reply[1].decode("utf-8"), query, content_type=reply[2], expected_id=model_id)
            )
        assert found[0] == found[1] == (model_id, schema, output), case
