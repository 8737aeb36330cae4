"""``mock-server`` and ``run`` from the command line, as separate processes over real sockets."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import SEED_ID

CLI = [sys.executable, "-m", "runcomfy_codegen"]


@pytest.fixture(scope="module")
def mock_url() -> Iterator[str]:
    process = subprocess.Popen(
        [*CLI, "mock-server", "--queue-seconds", "0.05", "--run-seconds", "0.05"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline().strip()
        assert first_line.startswith("http://127.0.0.1:")
        assert "mock-token" in process.stdout.readline()
        yield first_line
    finally:
        process.terminate()
        process.wait(timeout=10)


def run(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RUNCOMFY_BASE_URL": url, "RUNCOMFY_API_TOKEN": "mock-token"}
    return subprocess.run(
        [*CLI, "run", *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_run_waits_and_prints_the_typed_output(mock_url: str) -> None:
    result = run(
        mock_url, SEED_ID, "--input", "prompt=a cat", "--input", f"first_frame_image_url={mock_url}/media/x.png",
        "--input", "duration=6", "--wait",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Output(")
    assert "completed" in result.stderr


def test_run_without_wait_prints_the_job(mock_url: str) -> None:
    result = run(
        mock_url,
        SEED_ID,
        "--input",
        "prompt=x",
        "--input",
        "first_frame_image_url=https://example.invalid/x.png",
        "--no-media-check",
    )
    assert result.returncode == 0, result.stderr
    assert '"request_id"' in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--input", "prompt=x", "--input", "duration=3"], "invalid input"),
        (["--input", "oops"], "expected key=value"),
        (["--json", "/no/such/file.json"], "--json"),
    ],
)
def test_bad_input_exits_2(mock_url: str, args: list[str], message: str) -> None:
    result = run(mock_url, SEED_ID, *args)
    assert result.returncode == 2
    assert message in result.stderr


def test_unknown_model_exits_2(mock_url: str) -> None:
    result = run(mock_url, "acme/none", "--input", "prompt=x")
    assert result.returncode == 2
    assert "unknown model id" in result.stderr


def test_a_media_violation_exits_2_before_any_submit(mock_url: str) -> None:
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (100, 100)).save(buffer, format="PNG")
    tiny = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    result = run(mock_url, SEED_ID, "--input", "prompt=x", "--input", f"first_frame_image_url={tiny}")
    assert result.returncode == 2
    assert "width_pixels>" in result.stderr


def test_a_failed_job_exits_1() -> None:
    process = subprocess.Popen(
        [*CLI, "mock-server", "--queue-seconds", "0.05", "--run-seconds", "0.05", "--fault", "job-failed"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        result = run(
            url,
            SEED_ID,
            "--input",
            "prompt=x",
            "--input",
            f"first_frame_image_url={url}/media/x.png",
            "--wait",
        )
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert result.returncode == 1
    assert "failed" in result.stderr
