"""Ctrl-C during ``run --wait`` and ``wait``: one clear line, exit 130, no traceback.

The CLI runs as a real process against the embedded mock; SIGINT is sent once its stderr shows
the state under test (queued or running). Every read and wait has a deadline.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time

import pytest

from runcomfy_codegen.mock import MockServer
from tests.conftest import SEED_ID

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")

CLI = [sys.executable, "-m", "runcomfy_codegen"]
DEADLINE = 60.0


class Run:
    """A CLI process whose stderr lines arrive on a queue."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: queue.Queue[str] = queue.Queue()
        self.pump = threading.Thread(target=self._pump, daemon=True)
        self.pump.start()

    def _pump(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put(line)


def start(server: MockServer, *args: str) -> Run:
    env = {**os.environ, "RUNCOMFY_BASE_URL": server.base_url, "RUNCOMFY_API_TOKEN": server.token}
    return Run(
        subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    )


def read_until(run: Run, text: str) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        try:
            line = run.lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        seen.append(line)
        if text in line:
            return seen
    raise AssertionError(f"{text!r} never came on stderr; saw {seen}")


def interrupt(run: Run) -> tuple[int, str, str]:
    """SIGINT, then the exit code, stdout and the stderr lines that came after it."""
    run.process.send_signal(signal.SIGINT)
    try:
        run.process.wait(timeout=DEADLINE)  # its stdout (one small JSON object) fits in the pipe
        assert run.process.stdout is not None
        stdout = run.process.stdout.read()
    finally:
        run.process.kill()
    run.pump.join(timeout=DEADLINE)
    rest = []
    while not run.lines.empty():
        rest.append(run.lines.get())
    return run.process.returncode, stdout, "".join(rest)


def test_ctrl_c_while_queued_cancels_the_job_and_says_so() -> None:
    with MockServer(queue_seconds=60, run_seconds=1) as server:
        run = start(
            server, "run", SEED_ID, "--input", "prompt=x",
            "--input", f"first_frame_image_url={server.base_url}/media/x.png", "--wait",
        )  # fmt: skip
        read_until(run, "status: in_queue")
        code, stdout, stderr = interrupt(run)
        assert code == 130, stderr
        [job] = server.jobs._jobs.values()
        assert f"job {job.request_id} was still queued and has been cancelled" in stderr
        assert "Traceback" not in stderr and stderr.count("\n") == 1
        assert server.jobs.state(job)[0] == "cancelled"
        assert '"status": "cancelled"' in stdout


def test_ctrl_c_while_running_says_it_is_billed_and_how_to_get_the_result() -> None:
    with MockServer(queue_seconds=0, run_seconds=60) as server:
        run = start(
            server, "run", SEED_ID, "--input", "prompt=x",
            "--input", f"first_frame_image_url={server.base_url}/media/x.png", "--wait",
        )  # fmt: skip
        read_until(run, "status: in_progress")
        code, _stdout, stderr = interrupt(run)
        assert code == 130, stderr
        [job] = server.jobs._jobs.values()
        assert "will finish and be billed" in stderr
        assert f"runcomfy-codegen wait {job.request_id} --model {SEED_ID}" in stderr
        assert "Traceback" not in stderr
        assert server.count("POST", "/cancel") == 0
        assert server.jobs.state(job)[0] == "in_progress"


def test_ctrl_c_in_wait_leaves_a_queued_job_alone() -> None:
    with MockServer(queue_seconds=60, run_seconds=1) as server:
        env = {**os.environ, "RUNCOMFY_BASE_URL": server.base_url, "RUNCOMFY_API_TOKEN": server.token}
        submitted = subprocess.run(
            [*CLI, "run", SEED_ID, "--input", "prompt=x", "--no-media-check",
             "--input", f"first_frame_image_url={server.base_url}/media/x.png"],
            capture_output=True, text=True, env=env, timeout=DEADLINE, check=True,
        )  # fmt: skip
        [job] = server.jobs._jobs.values()
        assert job.request_id in submitted.stdout
        run = start(server, "wait", job.request_id, "--model", SEED_ID)
        read_until(run, "status: in_queue")
        code, _stdout, stderr = interrupt(run)
        assert code == 130, stderr
        assert f"runcomfy-codegen wait {job.request_id} --model {SEED_ID}" in stderr
        assert "Traceback" not in stderr
        assert server.count("POST", "/cancel") == 0
