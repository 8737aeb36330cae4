"""The main job, end to end: run the seed model through its generated typed client and print the
typed result, with a live status line.

    python examples/seed_end_to_end.py

Offline by default: it starts the embedded mock RunComfy server in the background, runs against it
(submit, status, result) and stops it. With ``RUNCOMFY_BASE_URL`` and ``RUNCOMFY_API_TOKEN`` set
it runs the same job against that service instead (for the real one: your token, and
``RUNCOMFY_BASE_URL=https://model-api.runcomfy.net``; the job is billed). Never run by the tests.
"""

from __future__ import annotations

import os
from contextlib import ExitStack

from rich.console import Console

import runcomfy_models
from runcomfy_codegen.mock import MockServer

MODEL_ID = "bytedance/seedance-v1.5-pro/image-to-video"
REAL_FIRST_FRAME = "https://playgrounds-storage-public.runcomfy.net/tools/7272/media-files/input-1-1.png"


def main() -> None:
    console = Console(highlight=False, soft_wrap=True)
    seedance = runcomfy_models.get(MODEL_ID)
    with ExitStack() as stack:
        if os.environ.get("RUNCOMFY_BASE_URL") and os.environ.get("RUNCOMFY_API_TOKEN"):
            client = stack.enter_context(runcomfy_models.Client())
            first_frame, poll = REAL_FIRST_FRAME, 2.0
            console.print(f"service: {client.base_url}")
        else:
            server = stack.enter_context(MockServer())
            client = stack.enter_context(runcomfy_models.Client(base_url=server.base_url, token=server.token))
            first_frame, poll = f"{server.base_url}/media/first-frame.png", 0.1  # a real PNG, checked first
            console.print(f"mock RunComfy server: {server.base_url}")
        request = seedance.Input(
            prompt="A gentle breeze blows softly, and the girl's long hair flutters naturally.",
            first_frame_image_url=first_frame,
            duration=5,
        )
        console.print(f"payload: {request.to_payload()}")
        job = client.submit(request)  # checks the schema's media rules, then submits
        console.print(f"submitted: request_id={job.request_id}")
        with console.status("waiting") as status:

            def show(s: runcomfy_models.JobStatus) -> None:
                where = f" (queue position {s.queue_position})" if s.queue_position is not None else ""
                status.update(f"{s.status}{where}")
                console.print(f"status: {s.status}{where}")

            output = client.wait(job, poll_interval=poll, on_status=show)
        assert isinstance(output, seedance.Output)
        console.print(f"result: {output!r}")


if __name__ == "__main__":
    main()
