"""Typed end to end (issue 13): the model's own ``Output`` from every client call (checked by mypy),
output files that download themselves, local files as inputs, any model id, and F6 (numbers).

Everything runs against the embedded mock or a local file server on 127.0.0.1, with deadlines.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import runcomfy_models
from runcomfy_codegen.mock import MockServer
from runcomfy_models import DownloadError, LocalFileError, MediaURL, UntypedModelWarning, UntypedOutput
from runcomfy_models._download import RESUME_ATTEMPTS
from tests.conftest import ROOT, SEED_ID

DEADLINE = 180
BLOB = bytes(range(256)) * 4096  # 1 MiB, every offset distinguishable


# A local file server: Range support, dropped connections on demand, every request's headers kept --
class _Files(ThreadingHTTPServer):
    daemon_threads = True
    blob = BLOB
    ranges = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.drop_after: list[int] = []  # per request, in order: close the connection after this many bytes
        self.seen: list[dict[str, str]] = []


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Files

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        server = self.server
        server.seen.append({k.lower(): v for k, v in self.headers.items()})
        if self.path.startswith("/missing"):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data, start = server.blob, 0
        wanted = self.headers.get("Range")
        if wanted and server.ranges:
            start = int(wanted.removeprefix("bytes=").split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        cut = server.drop_after.pop(0) if server.drop_after else None
        if cut is not None:
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            import socket

            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)


@pytest.fixture
def files() -> Iterator[_Files]:
    server = _Files(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def url_of(server: _Files, name: str = "out/video.mp4") -> MediaURL:
    return MediaURL(f"http://127.0.0.1:{server.server_address[1]}/{name}")


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with MockServer(queue_seconds=0.02, run_seconds=0.02) as server:
        yield server


def client(mock: MockServer, **options: Any) -> runcomfy_models.Client:
    return runcomfy_models.Client(base_url=mock.base_url, token=mock.token, **options)


seedance = runcomfy_models.get(SEED_ID)


# Types ---------------------------------------------------------------------------------------------
CHECKED = """
import asyncio
from pathlib import Path

import runcomfy_models

seedance = runcomfy_models.get("bytedance/seedance-v1.5-pro/image-to-video")
request = seedance.Input(prompt="a cat", first_frame_image_url=Path("cat.png"))
with runcomfy_models.Client() as client:
    reveal_type(client.run(request))
    job = client.submit(request)
    reveal_type(job)
    reveal_type(client.wait(job))
    reveal_type(client.run(("vendor/new-model", {"a": 1})))
    output = client.run(request)
    if output.video is not None:
        reveal_type(output.video.download("out/"))


async def main() -> None:
    async with runcomfy_models.AsyncClient() as client:
        reveal_type(await client.run(request))
        reveal_type(await client.run_many([request]))
        reveal_type(await client.run_many([request], return_exceptions=True))


seedance.Input(prompt="a cat", first_frame_image_url="u", durration=7)
seedance.Input(prompt="a cat", first_frame_image_url="u", resolution="4k")
seedance.Input(prompt="a cat")
"""


def mypy(folder: Path, *files: Path) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--cache-dir", str(folder / ".mypy"),
         *map(str, files)],
        capture_output=True, text=True, timeout=DEADLINE, check=False, cwd=folder,
    )  # fmt: skip
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout.splitlines()


def test_mypy_reveals_each_models_own_output_and_flags_bad_inputs(tmp_path: Path) -> None:
    script = tmp_path / "typed.py"
    script.write_text(CHECKED, encoding="utf-8")
    lines = mypy(tmp_path, script)
    model = "runcomfy_models.catalog._typed.bytedance__seedance_v1_5_pro__image_to_video"
    revealed = [line.split("Revealed type is ", 1)[1].strip('"') for line in lines if "Revealed type" in line]
    assert revealed == [
        f"{model}.Output",
        f"runcomfy_models._models.Job[{model}.Output]",
        f"{model}.Output",
        "runcomfy_models._base.RunComfyOutput",
        "pathlib.Path",
        f"{model}.Output",
        f"list[{model}.Output]",
        f"list[{model}.Output | BaseException]",
    ], lines
    errors = [line for line in lines if ": error:" in line]
    assert any(
        'Unexpected keyword argument "durration"' in e and 'did you mean "duration"' in e for e in errors
    )
    assert any('"resolution"' in e and "Literal['480p', '720p', '1080p']" in e for e in errors)
    assert any('Missing named argument "first_frame_image_url"' in e for e in errors)
    assert len(errors) == 3, errors


def test_input_knows_its_output_and_the_stub_matches_the_catalog() -> None:
    assert seedance.Input.runcomfy_output is seedance.Output
    assert issubclass(seedance.Input, runcomfy_models.RunComfyInput)
    stub = (ROOT / "generated/runcomfy_models/catalog/_typed.pyi").read_text(encoding="utf-8")
    for model_id in runcomfy_models.models():
        assert f"def get(model_id: Literal[{json.dumps(model_id)}])" in stub


def test_a_subset_generate_keeps_the_other_models_typed(tmp_path: Path) -> None:
    from runcomfy_codegen.pipeline import check, generate

    schemas = tmp_path / "schemas"
    for name in ("acme/one", "acme/two"):
        (schemas / name).mkdir(parents=True)
        (schemas / name / "input.json").write_text(
            '{"type": "object", "properties": {"x": {"type": "number"}}}'
        )
        (schemas / name / "output.json").write_text('{"output": {"type": "object"}}')
    assert not generate(schemas, tmp_path / "out").errors
    (schemas / "acme/two/input.json").write_text(
        '{"type": "object", "properties": {"y": {"type": "string"}}}'
    )
    assert not generate(schemas, tmp_path / "out", ["acme/two"]).errors
    stub = (tmp_path / "out/runcomfy_models/catalog/_typed.pyi").read_text(encoding="utf-8")
    assert "class acme__one:" in stub and "x: float | None = ..." in stub and "y: str | None = ..." in stub
    assert stub.count("@overload") == 3
    diff = check(schemas, tmp_path / "out").diff
    assert diff is not None and not (diff.added or diff.changed or diff.removed)  # check agrees


# F6 -------------------------------------------------------------------------------------------------
def test_a_number_keeps_an_integer_given_and_is_sent_unchanged(compile_schema: Any) -> None:
    module = compile_schema({"type": "object", "properties": {"n": {"type": "number", "minimum": 0}}})
    big = 2**53 + 1
    assert module.Input.model_validate({"n": big}).to_payload() == {"n": big}
    assert json.dumps(module.Input(n=big).to_payload()) == f'{{"n": {big}}}'
    assert module.Input.model_validate({"n": 1.5}).to_payload() == {"n": 1.5}
    for bad in (True, "1", -1):
        with pytest.raises(Exception, match="n"):
            module.Input.model_validate({"n": bad})


# Output files ---------------------------------------------------------------------------------------
def test_an_output_url_is_a_str_that_downloads_itself(mock: MockServer, tmp_path: Path) -> None:
    with client(mock) as c:
        output = c.run(
            seedance.Input(prompt="a cat", first_frame_image_url=f"{mock.base_url}/media/cat.png"),
            poll_interval=0.02,
        )
    assert isinstance(output.video, MediaURL) and isinstance(output.video, str)
    assert output.model_dump(mode="json")["video"] == str(output.video)  # JSON keeps working
    path = output.video.download(tmp_path)  # a folder: the URL's file name
    assert path == tmp_path / "output.mp4" and path.read_bytes() == output.video.read()
    assert path.read_bytes()[4:8] == b"ftyp"
    assert [p.name for p in tmp_path.iterdir()] == ["output.mp4"]  # no temporary file left


def test_download_resumes_with_range_after_a_dropped_connection(files: _Files, tmp_path: Path) -> None:
    files.drop_after = [300_000, 200_000]
    seen: list[tuple[int, int | None]] = []
    path = url_of(files).download(tmp_path / "v.mp4", progress=lambda done, total: seen.append((done, total)))
    assert path.read_bytes() == BLOB
    ranges = [h.get("range") for h in files.seen]
    assert ranges[0] is None and len(ranges) == 3  # then resumed twice, from what had been written
    first, second = (int(r.removeprefix("bytes=").rstrip("-")) for r in ranges[1:])
    assert 0 < first <= 300_000 < second <= first + 200_000
    assert seen[-1] == (len(BLOB), len(BLOB))
    files.seen.clear()
    files.drop_after = [100_000]
    assert asyncio.run(url_of(files).aread()) == BLOB
    assert [h.get("range", "")[:6] for h in files.seen] == ["", "bytes="]


def test_a_server_without_range_starts_over(files: _Files, tmp_path: Path) -> None:
    files.ranges = False
    files.drop_after = [300_000]
    try:
        assert url_of(files).download(tmp_path / "v.bin").read_bytes() == BLOB
    finally:
        files.ranges = True


def test_a_connection_that_keeps_dropping_gives_up_and_leaves_nothing(files: _Files, tmp_path: Path) -> None:
    files.drop_after = [1000] * (RESUME_ATTEMPTS + 1)
    with pytest.raises(DownloadError, match="resume"):
        url_of(files).download(tmp_path / "v.bin")
    assert list(tmp_path.iterdir()) == []


def test_over_the_cap_stops_and_removes_the_partial_file(files: _Files, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="over the cap of 1000"):
        url_of(files).download(tmp_path / "v.bin", max_bytes=1000)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(DownloadError, match="cap"):
        asyncio.run(url_of(files).adownload(tmp_path, max_bytes=1000))
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(DownloadError, match="HTTP 404"):
        url_of(files, "missing.png").read()


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "javascript:alert(1)", "data:,x"])
def test_only_http_urls_are_downloaded(url: str, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="not an http"):
        MediaURL(url).download(tmp_path)
    with pytest.raises(DownloadError, match="not an http"):
        asyncio.run(MediaURL(url).aread())
    assert list(tmp_path.iterdir()) == []


def test_streaming_and_the_token_is_never_sent(files: _Files, tmp_path: Path) -> None:
    assert b"".join(url_of(files).iter_bytes()) == BLOB

    async def collect() -> bytes:
        return b"".join([chunk async for chunk in url_of(files).aiter_bytes()])

    assert asyncio.run(collect()) == BLOB
    from runcomfy_codegen.downloads import download_outputs

    output = {"video": str(url_of(files)), "images": [str(url_of(files, "a.png"))], "seed": 5}
    found = download_outputs(output, tmp_path / "out")
    assert found == {"video": str(tmp_path / "out/video.mp4"), "images": [str(tmp_path / "out/images-0.png")]}
    assert all("authorization" not in h and "mock-token" not in str(h) for h in files.seen)


# Local files ----------------------------------------------------------------------------------------
def _png(path: Path, size: tuple[int, int]) -> Path:
    from PIL import Image

    Image.new("RGB", size, (200, 100, 50)).save(path)
    return path


def test_a_local_file_is_checked_locally_and_sent_as_a_data_uri(mock: MockServer, tmp_path: Path) -> None:
    request = seedance.Input(prompt="a cat", first_frame_image_url=_png(tmp_path / "cat.png", (640, 480)))
    with client(mock) as c:
        job = c.submit(request)
        assert isinstance(c.wait(job, poll_interval=0.02), seedance.Output)
    sent = mock.jobs.get(job.request_id).payload["first_frame_image_url"]  # type: ignore[union-attr]
    assert sent.startswith("data:image/png;base64,")
    assert isinstance(request.first_frame_image_url, Path)  # the Input itself is left as given


def test_local_file_problems_name_the_path_and_nothing_is_sent(mock: MockServer, tmp_path: Path) -> None:
    before = len(mock.jobs)
    missing = seedance.Input(prompt="a", first_frame_image_url=tmp_path / "nope.png")  # no I/O here
    small = seedance.Input(prompt="a", first_frame_image_url=_png(tmp_path / "small.png", (64, 64)))
    big = seedance.Input(prompt="a", first_frame_image_url=_png(tmp_path / "big.png", (640, 480)))
    with client(mock) as c:
        with pytest.raises(LocalFileError, match=r"first_frame_image_url: '.*nope.png': no such file"):
            c.submit(missing)
        with pytest.raises(runcomfy_models.MediaValidationError, match="width_pixels"):
            c.submit(small)  # the media rules, on the local bytes
        with pytest.raises(LocalFileError):
            c.submit(seedance.Input(prompt="a", first_frame_image_url=tmp_path))  # a folder
    with client(mock, max_file_bytes=100) as c, pytest.raises(LocalFileError, match="larger than 100 bytes"):
        c.submit(big)
    with client(mock, max_request_bytes=100) as c, pytest.raises(LocalFileError, match="over the cap of 100"):
        c.submit(big)
    with pytest.raises(ValueError, match="to_payload"):
        big.to_payload()
    assert len(mock.jobs) == before


def test_cli_run_sends_a_local_file_and_downloads_the_outputs(mock: MockServer, tmp_path: Path) -> None:
    from tests.test_cli_run import cli

    _png(tmp_path / "cat.png", (640, 480))
    result = cli(
        mock, "run", SEED_ID, "--input", "prompt=a cat", "--input", f"first_frame_image_url=@{tmp_path / 'cat.png'}",
        "--wait", "--output-dir", str(tmp_path / "out"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert Path(document["files"]["video"]).read_bytes()[4:8] == b"ftyp"
    assert "video.mp4" in result.stderr  # the progress bar names the file


# Any model id ---------------------------------------------------------------------------------------
def test_any_model_id_runs_untyped_with_one_warning(mock: MockServer) -> None:
    big = 2**60 + 1
    with client(mock) as c, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = c.run(
            ("mock/new-model", {"prompt": "x", "n": big, "any": [1, {"b": None}]}), poll_interval=0.02
        )
        c.run(("mock/new-model", {"prompt": "y"}), poll_interval=0.02)
        job = c.submit(("mock/new-model", {"prompt": "z"}))
        later = c.wait(job.request_id, model_id="mock/new-model", poll_interval=0.02)
    notices = [w for w in caught if issubclass(w.category, UntypedModelWarning)]
    assert len(notices) == 1 and "runcomfy-codegen import" in str(notices[0].message)
    assert isinstance(first, UntypedOutput) and isinstance(later, UntypedOutput)
    assert first.model_dump()["echo"] == {"prompt": "x", "n": big, "any": [1, {"b": None}]}  # sent as is
    assert first.image.endswith("/output.png")


def test_cli_run_takes_an_id_outside_the_catalog_but_not_a_typo(mock: MockServer) -> None:
    from tests.test_cli_run import cli

    result = cli(mock, "run", "mock/new-model", "--input", "prompt=x", "--input", "steps=4", "--wait")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["output"]["echo"] == {"prompt": "x", "steps": 4}
    assert "not in the generated catalog" in result.stderr
    before = len(mock.jobs)
    typo = cli(mock, "run", SEED_ID.replace("seedance", "seedanse"), "--input", "prompt=x")
    assert typo.returncode == 2 and "did you mean" in typo.stderr and len(mock.jobs) == before


def test_check_media_measures_a_local_file_without_the_network(tmp_path: Path) -> None:
    small = seedance.Input(prompt="a", first_frame_image_url=_png(tmp_path / "small.png", (64, 64)))
    ok = seedance.Input(prompt="a", first_frame_image_url=_png(tmp_path / "ok.png", (640, 480)))
    assert {v.metric for v in runcomfy_models.check_media(small)} == {"width_pixels", "height_pixels"}
    assert asyncio.run(runcomfy_models.acheck_media(ok)) == []
