"""``run``, ``wait``, ``status``, ``result`` and ``cancel`` as processes against the embedded mock.

Each command prints exactly one JSON object on stdout; everything else goes to stderr; the exit
codes are the documented ones. Every process has a deadline.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runcomfy_codegen.mock import Fault, MockServer
from tests.conftest import SEED_ID

CLI = [sys.executable, "-m", "runcomfy_codegen"]
DEADLINE = 120


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with MockServer(queue_seconds=0.05, run_seconds=0.05) as server:
        yield server


def env_for(server: MockServer | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNCOMFY_")}
    if server is not None:
        env.update(RUNCOMFY_BASE_URL=server.base_url, RUNCOMFY_API_TOKEN=server.token)
    env.update(extra)
    return env


def cli(server: MockServer | None, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        env=env_for(server, **env),
        timeout=DEADLINE,
        check=False,
    )


def image(server: MockServer, name: str = "x") -> str:
    return f"first_frame_image_url={server.base_url}/media/{name}.png"


def one_json(stdout: str) -> dict[str, Any]:
    document = json.loads(stdout)  # the whole of stdout is one JSON object
    assert isinstance(document, dict)
    return document


# run -----------------------------------------------------------------------------------------------


def test_run_wait_prints_one_json_object_and_status_on_stderr(mock: MockServer) -> None:
    result = cli(
        mock,
        "run",
        SEED_ID,
        "--input",
        "prompt=a cat",
        "--input",
        image(mock),
        "--input",
        "duration=6",
        "--wait",
    )
    assert result.returncode == 0, result.stderr
    document = one_json(result.stdout)
    assert set(document) == {"request_id", "model_id", "status", "output"}
    assert document["model_id"] == SEED_ID
    assert document["status"] == "completed"
    assert document["output"]["video"].endswith(".mp4")  # by the schema's names, only what was sent
    assert "status: completed" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_without_wait_prints_the_submitted_job(mock: MockServer) -> None:
    result = cli(mock, "run", SEED_ID, "--input", "prompt=x", "--input", image(mock))
    assert result.returncode == 0, result.stderr
    document = one_json(result.stdout)
    assert document["status"] == "submitted" and document["output"] is None
    assert document["request_id"] in result.stderr


def test_a_string_field_takes_the_text_and_others_json(mock: MockServer) -> None:
    result = cli(
        mock, "run", SEED_ID, "--input", "prompt=5", "--input", "duration=7", "--input", "camera_fixed=false",
        "--input", "resolution=720p", "--input", image(mock), "--no-media-check",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rid = one_json(result.stdout)["request_id"]
    payload = mock.jobs.get(rid).payload  # type: ignore[union-attr]
    assert payload["prompt"] == "5" and payload["duration"] == 7 and payload["camera_fixed"] is False
    assert payload["resolution"] == "720p"


def test_at_path_reads_json_from_a_file_and_at_at_escapes(mock: MockServer, tmp_path: Path) -> None:
    (tmp_path / "duration.json").write_text("8\n", encoding="utf-8")
    (tmp_path / "prompt.json").write_text('"from a file"', encoding="utf-8")
    result = cli(
        mock, "run", SEED_ID, "--input", f"duration=@{tmp_path / 'duration.json'}",
        "--input", f"prompt=@{tmp_path / 'prompt.json'}", "--input", "extra=@@handle", "--input", image(mock),
        "--no-media-check",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    payload = mock.jobs.get(one_json(result.stdout)["request_id"]).payload  # type: ignore[union-attr]
    assert payload["duration"] == 8 and payload["prompt"] == "from a file" and payload["extra"] == "@handle"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--input", "prompt=x", "--input", "first_frame_image_url=u", "--input", "duration=3"], "duration"),
        (["--input", "oops"], "expected KEY=VALUE"),
        (["--json", "/no/such/file.json"], "cannot read /no/such/file.json"),
        (["--input", "duration=@/no/such.json"], "cannot read /no/such.json"),
        (["--input", "first_frame_image_url=@cat.png", "--input", "prompt=x"], "'cat.png': no such file"),
        (["--input", "prompt=x"], "first_frame_image_url: Field required"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_sends_nothing(
    mock: MockServer, args: list[str], message: str
) -> None:
    before = len(mock.jobs)
    result = cli(mock, "run", SEED_ID, *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stdout == ""
    assert len(mock.jobs) == before


def test_json_files_that_are_not_json_or_too_deep_exit_2(mock: MockServer, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{nope", encoding="utf-8")
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'{"prompt": "caf\xe9"}')
    for path, message in ((bad, "is not JSON"), (deep, "too deeply"), (latin, "not UTF-8")):
        result = cli(mock, "run", SEED_ID, "--json", str(path))
        assert result.returncode == 2, result.stderr
        assert message in result.stderr and str(path) in result.stderr
        assert "Traceback" not in result.stderr


def test_unknown_model_exits_2(mock: MockServer) -> None:
    # Outside the catalog it runs untyped (issue 13); this service does not know it either: 404, exit 2.
    result = cli(mock, "run", "acme/none", "--input", "prompt=x")
    assert result.returncode == 2
    assert "not in the generated catalog" in result.stderr and "model 'acme/none' not found" in result.stderr
    result = cli(mock, "run", "nonsense", "--input", "prompt=x")
    assert result.returncode == 2 and "unknown model id" in result.stderr


def test_a_misspelt_key_is_sent_with_a_warning_naming_the_closest_key(mock: MockServer) -> None:
    result = cli(
        mock, "run", SEED_ID, "--input", "prompt=x", "--input", image(mock), "--input", "durration=7"
    )
    assert result.returncode == 0, result.stderr
    assert "unknown input 'durration' (did you mean 'duration'?)" in result.stderr
    assert "--strict" in result.stderr and "strict_inputs" not in result.stderr
    assert mock.jobs.get(one_json(result.stdout)["request_id"]).payload["durration"] == 7  # type: ignore[union-attr]


def test_strict_refuses_a_misspelt_key_before_sending(mock: MockServer) -> None:
    before = len(mock.jobs)
    result = cli(
        mock,
        "run",
        SEED_ID,
        "--strict",
        "--input",
        "prompt=x",
        "--input",
        image(mock),
        "--input",
        "durration=7",
    )
    assert result.returncode == 2
    assert "did you mean 'duration'?" in result.stderr and "nothing was sent" in result.stderr
    assert len(mock.jobs) == before


def test_a_media_violation_exits_2_before_any_submit(mock: MockServer) -> None:
    import io

    from PIL import Image

    from tests.media_server import MediaServer

    tiny = io.BytesIO()
    Image.new("RGB", (100, 100)).save(tiny, format="PNG")
    before = len(mock.jobs)
    with MediaServer() as media:
        url = media.add("/tiny.png", tiny.getvalue())
        result = cli(mock, "run", SEED_ID, "--input", "prompt=x", "--input", f"first_frame_image_url={url}")
    assert result.returncode == 2
    assert "width_pixels>" in result.stderr
    assert len(mock.jobs) == before


def test_unmeasurable_media_exits_2_and_names_the_flag(mock: MockServer) -> None:
    gone = f"first_frame_image_url={mock.base_url}/media/missing.gif"  # the mock serves .png and .mp4 only
    result = cli(mock, "run", SEED_ID, "--input", "prompt=x", "--input", gone)
    assert result.returncode == 2, result.stderr
    assert "--no-media-check" in result.stderr and "check_media=False" not in result.stderr


def test_a_failed_job_exits_1_with_its_json() -> None:
    with MockServer(queue_seconds=0.05, run_seconds=0.05) as server:
        server.inject(Fault.parse("job-failed"))
        result = cli(server, "run", SEED_ID, "--input", "prompt=x", "--input", image(server), "--wait")
    assert result.returncode == 1, result.stderr
    assert one_json(result.stdout)["status"] == "failed"
    assert "failed" in result.stderr


# exit codes 3, 4, 5 --------------------------------------------------------------------------------


def test_no_token_exits_3_naming_the_environment_variable(mock: MockServer) -> None:
    result = cli(
        None, "run", SEED_ID, "--input", "prompt=x", "--input", image(mock), RUNCOMFY_BASE_URL=mock.base_url
    )
    assert result.returncode == 3
    assert "RUNCOMFY_API_TOKEN" in result.stderr and "token=" not in result.stderr


def test_a_refused_token_exits_3(mock: MockServer) -> None:
    result = cli(None, "status", "x", RUNCOMFY_BASE_URL=mock.base_url, RUNCOMFY_API_TOKEN="wrong")
    assert result.returncode == 3
    assert "401" in result.stderr


def test_an_unreachable_service_exits_4_naming_its_address() -> None:
    url = "http://127.0.0.1:9"  # discard port: nothing listens
    result = cli(None, "status", "x", RUNCOMFY_BASE_URL=url, RUNCOMFY_API_TOKEN="t")
    assert result.returncode == 4, result.stderr
    assert f"cannot reach the service at {url}" in result.stderr


def test_a_token_without_base_url_is_told_it_goes_to_the_real_service() -> None:
    # Every request goes through this proxy, where nothing listens: the real service is never reached.
    dead = "http://127.0.0.1:9"
    env = {k: v for k, v in env_for(None).items() if "proxy" not in k.lower()}
    for name in ("https_proxy", "http_proxy", "all_proxy"):
        env[name] = env[name.upper()] = dead
    result = subprocess.run(
        [*CLI, "status", "x"], capture_output=True, text=True, timeout=DEADLINE, check=False,
        env={**env, "RUNCOMFY_API_TOKEN": "t"},
    )  # fmt: skip
    assert "RUNCOMFY_BASE_URL is not set" in result.stderr and "billed" in result.stderr
    assert "cannot reach the service at https://model-api.runcomfy.net" in result.stderr
    assert result.returncode == 4


def test_timeout_exits_5_with_the_command_that_resumes() -> None:
    with MockServer(queue_seconds=30, run_seconds=1) as server:
        result = cli(
            server,
            "run",
            SEED_ID,
            "--input",
            "prompt=x",
            "--input",
            image(server),
            "--wait",
            "--timeout",
            "0.2",
        )
        assert result.returncode == 5, result.stderr
        document = one_json(result.stdout)
        rid = document["request_id"]
        assert document["status"] == "in_queue"
        assert f"runcomfy-codegen wait {rid} --model {SEED_ID}" in result.stderr
        assert "client.wait" not in result.stderr


# status, result, cancel, wait -----------------------------------------------------------------------


def test_follow_a_job_by_request_id() -> None:
    with MockServer(queue_seconds=0.05, run_seconds=0.05) as server:
        rid = one_json(cli(server, "run", SEED_ID, "--input", "prompt=x", "--input", image(server)).stdout)[
            "request_id"
        ]
        waited = cli(server, "wait", rid, "--model", SEED_ID, "--timeout", "60")
        assert waited.returncode == 0, waited.stderr
        assert one_json(waited.stdout)["output"]["video"]
        status = cli(server, "status", rid)
        assert status.returncode == 0 and one_json(status.stdout)["status"] == "completed"
        result = cli(server, "result", rid)
        assert result.returncode == 0 and one_json(result.stdout)["output"]["image"]
        cancel = cli(server, "cancel", rid)
        assert cancel.returncode == 1  # finished: not cancellable
        assert one_json(cancel.stdout)["outcome"] == "not_cancellable"
        assert f"runcomfy-codegen wait {rid}" in cancel.stderr


def test_cancel_a_queued_job_and_result_of_an_unfinished_one() -> None:
    with MockServer(queue_seconds=30, run_seconds=1) as server:
        first = one_json(cli(server, "run", SEED_ID, "--input", "prompt=x", "--input", image(server)).stdout)
        second = one_json(cli(server, "run", SEED_ID, "--input", "prompt=y", "--input", image(server)).stdout)
        pending = cli(server, "result", first["request_id"])
        assert pending.returncode == 5
        assert f"runcomfy-codegen wait {first['request_id']}" in pending.stderr
        cancel = cli(server, "cancel", second["request_id"])
        assert cancel.returncode == 0, cancel.stderr
        assert one_json(cancel.stdout)["outcome"] == "cancelled"
        status = cli(server, "status", second["request_id"])
        assert status.returncode == 1 and one_json(status.stdout)["status"] == "cancelled"


def test_an_unknown_request_id_exits_2(mock: MockServer) -> None:
    for command in ("status", "result", "cancel", "wait"):
        result = cli(mock, command, "no-such-request")
        assert result.returncode == 2, (command, result.stderr)
        assert "not found" in result.stderr and result.stderr.count("\n") == 1


def test_a_malformed_reply_exits_4_without_a_traceback() -> None:
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            body = b'{"status": 5}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        for command in ("status", "result", "wait"):
            result = cli(None, command, "x", RUNCOMFY_BASE_URL=url, RUNCOMFY_API_TOKEN="t")
            assert result.returncode == 4, (command, result.stderr)
            assert "expected shape" in result.stderr and "Traceback" not in result.stderr
    finally:
        server.shutdown()
        server.server_close()


def test_output_dir_downloads_the_files_and_lists_them(mock: MockServer, tmp_path: Path) -> None:
    out = tmp_path / "files"
    result = cli(
        mock,
        "run",
        SEED_ID,
        "--input",
        "prompt=x",
        "--input",
        image(mock),
        "--wait",
        "--output-dir",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    document = one_json(result.stdout)
    assert set(document) == {"request_id", "model_id", "status", "output", "files"}
    files = document["files"]
    assert files["image"] == str(out / "image.png") and files["videos"] == [str(out / "videos-0.mp4")]
    assert Path(files["image"]).read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in out.iterdir()) == ["image.png", "images-0.png", "video.mp4", "videos-0.mp4"]


def test_output_dir_needs_wait(mock: MockServer, tmp_path: Path) -> None:
    before = len(mock.jobs)
    result = cli(
        mock, "run", SEED_ID, "--input", "prompt=x", "--input", image(mock), "--output-dir", str(tmp_path)
    )
    assert result.returncode == 2 and "--wait" in result.stderr
    assert len(mock.jobs) == before


def test_downloads_fail_cleanly_and_leave_no_partial_file(tmp_path: Path) -> None:
    from runcomfy_codegen.downloads import DownloadError, download_outputs, file_name
    from tests.media_server import MediaServer

    assert file_name("a/../b", None, "https://h/x/out.PNG?sig=1") == "a_.._b.png"
    assert file_name("videos", 2, "https://h/x/noext") == "videos-2.bin"
    with MediaServer() as media:
        good = media.add("/ok.png", b"\x89PNG" + b"0" * 100)
        with pytest.raises(
            DownloadError, match=r"image: download http://127\.0\.0\.1:\d+/gone\.png\?\*\*\*: HTTP 404"
        ) as info:
            download_outputs({"video": good, "image": f"{media.base_url}/gone.png?token=secret"}, tmp_path)
    assert "secret" not in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["video.png"]  # no .part file left behind
