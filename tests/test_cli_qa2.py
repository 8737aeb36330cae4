"""Second QA round of the job commands: ``--output-dir`` checked before anything is sent, non-http(s)
output URLs reported (exit 4), numeric options checked up front, ``run --timeout`` one deadline that
covers the media check, empty request ids refused, ``cancel`` of a finished job, and a store whose
``input.json`` is a folder. Servers run on 127.0.0.1; every wait is bounded."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runcomfy_codegen.cli import main
from runcomfy_codegen.mock import MockServer
from tests.conftest import SEED_ID
from tests.hostile_server import HostileServer, json_reply, trickle
from tests.test_cli_run import cli, image, one_json

HANG_BOUND = 20.0  # "no hang" bound; the media probe's own deadline (30 s) is what --timeout must beat


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with MockServer(queue_seconds=0.05, run_seconds=0.05) as server:
        yield server


def run_args(server: MockServer, *extra: str) -> list[str]:
    return ["run", SEED_ID, "--input", "prompt=x", "--input", image(server), *extra]


# 1. --output-dir ----------------------------------------------------------------------------------


def test_an_output_dir_that_is_a_file_is_refused_before_submitting(mock: MockServer, tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x", encoding="utf-8")
    before = len(mock.jobs)
    for target in (a_file, a_file / "below"):
        result = cli(mock, *run_args(mock, "--wait", "--output-dir", str(target)))
        assert result.returncode == 2, result.stderr
        assert result.stdout == "" and result.stderr.count("\n") == 1
        assert "nothing was sent" in result.stderr and "Traceback" not in result.stderr
    waited = cli(mock, "wait", "some-id", "--output-dir", str(a_file))
    assert waited.returncode == 2 and "is not a folder" in waited.stderr
    assert len(mock.jobs) == before


def test_a_download_that_fails_after_the_job_ran_exits_4_with_the_json(
    mock: MockServer, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    (out / "video.mp4").mkdir(parents=True)  # a folder stands where a file goes: the write fails
    result = cli(mock, *run_args(mock, "--wait", "--output-dir", str(out)))
    assert result.returncode == 4, result.stderr
    document = one_json(result.stdout)
    assert document["request_id"] and document["status"] == "completed" and document["files"] is None
    assert "could not be downloaded" in result.stderr and "Traceback" not in result.stderr


def test_a_folder_that_fails_after_the_check_exits_4_with_the_json(
    mock: MockServer, monkeypatch: pytest.MonkeyPatch, capsys: Any, tmp_path: Path
) -> None:
    from runcomfy_codegen import downloads

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise FileExistsError(17, "File exists", str(tmp_path / "gone"))

    monkeypatch.setattr(downloads, "download_outputs", fail)
    monkeypatch.setenv("RUNCOMFY_BASE_URL", mock.base_url)
    monkeypatch.setenv("RUNCOMFY_API_TOKEN", mock.token)
    assert main(run_args(mock, "--wait", "--output-dir", str(tmp_path / "gone"))) == 4
    out, err = capsys.readouterr()
    assert one_json(out)["request_id"] and "File exists" in err and "Traceback" not in err


# 2. non-http(s) output URLs -------------------------------------------------------------------------


def test_output_urls_that_are_not_http_are_said_and_exit_4(tmp_path: Path) -> None:
    output = {
        "video": "javascript:alert(1)",
        "image": "file:///etc/passwd",
        "images": ["ftp://user:secret@127.0.0.1/x.png"],
        "caption": "ratio:16:9 is text, not a URL",
        "aspect": "16:9",
    }
    with HostileServer() as server:
        server.routes["/v1/requests/r1/status"] = json_reply(200, {"request_id": "r1", "status": "completed"})
        server.routes["/v1/requests/r1/result"] = json_reply(
            200, {"request_id": "r1", "status": "completed", "output": output}
        )
        result = cli(
            None,
            "wait",
            "r1",
            "--output-dir",
            str(tmp_path / "d"),
            RUNCOMFY_BASE_URL=server.url,
            RUNCOMFY_API_TOKEN="tok",
        )
    assert result.returncode == 4, result.stderr
    document = one_json(result.stdout)
    assert document["request_id"] == "r1" and document["output"] == output and document["files"] == {}
    refused = [line for line in result.stderr.splitlines() if "is not an http(s) URL" in line]
    assert len(refused) == 3, result.stderr
    assert any(line.startswith("error: job r1: output video: 'javascript:alert(1)'") for line in refused)
    assert any("images[0]" in line for line in refused)
    assert "secret" not in result.stderr
    assert not any((tmp_path / "d").iterdir())


# 4. numeric options ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["run", SEED_ID, "--input", "prompt=x", "--wait", "--timeout", "-3"],
        ["run", SEED_ID, "--input", "prompt=x", "--timeout", "0"],
        ["run", SEED_ID, "--input", "prompt=x", "--wait", "--timeout", "nan"],
        ["run", SEED_ID, "--input", "prompt=x", "--wait", "--timeout", "inf"],
        ["wait", "r1", "--timeout", "-1"],
        ["batch", "in.jsonl", "--journal", "j", "--results", "r", "--poll-interval", "0"],
        ["batch", "in.jsonl", "--journal", "j", "--results", "r", "--unreachable-after", "-inf"],
        ["batch", "in.jsonl", "--journal", "j", "--results", "r", "--concurrency", "x"],
    ],
)
def test_numeric_options_are_checked_before_anything_is_sent(
    mock: MockServer, monkeypatch: pytest.MonkeyPatch, capsys: Any, argv: list[str]
) -> None:
    monkeypatch.setenv("RUNCOMFY_BASE_URL", mock.base_url)
    monkeypatch.setenv("RUNCOMFY_API_TOKEN", mock.token)
    before = len(mock.jobs)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "error: argument --" in err and "Traceback" not in err
    assert len(mock.jobs) == before


# 5. run --timeout covers the media check --------------------------------------------------------------


def test_run_timeout_also_bounds_the_media_check(mock: MockServer) -> None:
    with HostileServer() as media:
        media.routes["/m.png"] = trickle  # one byte every 0.2 s, forever
        before = len(mock.jobs)
        start = time.monotonic()
        result = cli(
            mock,
            "run",
            SEED_ID,
            "--input",
            "prompt=x",
            "--input",
            f"first_frame_image_url={media.url}/m.png",
            "--wait",
            "--timeout",
            "2",
        )
        elapsed = time.monotonic() - start
    assert result.returncode == 5, result.stderr
    assert "--timeout 2 s passed while the media inputs were being checked" in result.stderr
    assert "nothing was submitted" in result.stderr and result.stdout == ""
    assert len(mock.jobs) == before
    assert elapsed < HANG_BOUND


# 6. minors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["status", "result", "cancel", "wait"])
@pytest.mark.parametrize("rid", ["", " ", "..", "a b", "x\n"])
def test_an_empty_or_invalid_request_id_is_refused_before_sending(command: str, rid: str) -> None:
    # an unreachable service: anything sent would be exit 4
    result = cli(None, command, rid, RUNCOMFY_BASE_URL="http://127.0.0.1:9", RUNCOMFY_API_TOKEN="tok")
    assert result.returncode == 2, result.stderr
    assert "is not a request id" in result.stderr and result.stderr.count("\n") == 1


def test_the_library_refuses_an_empty_request_id() -> None:
    from runcomfy_models import Client

    with Client(token="tok", base_url="http://127.0.0.1:9", max_retries=0) as client:
        for rid in ("", "..", "a/b c"):
            with pytest.raises(ValueError, match="is not a request id"):
                client.status(rid)
            with pytest.raises(ValueError, match="is not a request id"):
                client.cancel(rid)


def test_cancel_of_a_finished_job_says_it_already_finished(mock: MockServer) -> None:
    done = cli(mock, *run_args(mock, "--wait", "--timeout", "60"))
    assert done.returncode == 0, done.stderr
    rid = one_json(done.stdout)["request_id"]
    cancel = cli(mock, "cancel", rid)
    assert cancel.returncode == 1
    assert "already finished (completed)" in cancel.stderr
    assert "billed" not in cancel.stderr


@pytest.mark.parametrize("name", ["input.json", "output.json"])
def test_a_schema_file_that_is_a_folder_is_refused(tmp_path: Path, capsys: Any, name: str) -> None:
    store = tmp_path / "schemas"
    (store / "acme" / "model").mkdir(parents=True)
    if name == "output.json":
        (store / "acme" / "model" / "input.json").write_text('{"type": "object"}', encoding="utf-8")
    (store / "acme" / "model" / name).mkdir()
    for argv in (
        ["generate", "--schemas", str(store), "--out", str(tmp_path / "out")],
        ["list", "--schemas", str(store)],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"acme/model/{name}" in err[0] and "is a folder" in err[0]
    assert not (tmp_path / "out").exists()
