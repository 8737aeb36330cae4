"""The main job, end to end and offline: start the embedded mock RunComfy server, then run the
generated seed-model client against it (submit, status, result) and print the typed result.

    python examples/seed_end_to_end.py
"""

from __future__ import annotations

import runcomfy_models
from runcomfy_codegen.mock import MockServer

MODEL_ID = "bytedance/seedance-v1.5-pro/image-to-video"


def main() -> None:
    seedance = runcomfy_models.get(MODEL_ID)
    with (
        MockServer() as server,
        runcomfy_models.Client(base_url=server.base_url, token=server.token) as client,
    ):
        print(f"mock RunComfy server at {server.base_url}")
        request = seedance.Input(
            prompt="A gentle breeze blows softly, and the girl's long hair flutters naturally.",
            first_frame_image_url=f"{server.base_url}/media/first-frame.png",  # a real PNG, checked first
            duration=5,
        )
        print(f"payload: {request.to_payload()}")
        job = client.submit(request)
        print(f"submitted: request_id={job.request_id}")
        output = client.wait(
            job,
            poll_interval=0.1,
            on_status=lambda s: print(
                f"status: {s.status}" + (f" (position {s.queue_position})" if s.is_queued else "")
            ),
        )
        print(f"result: {output!r}")
        assert isinstance(output, seedance.Output)


if __name__ == "__main__":
    main()
