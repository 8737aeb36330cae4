"""Durable batch runs (``runcomfy-codegen batch`` / ``AsyncClient.run_batch``) against the mock server.

The crash test kills the batch process with SIGKILL at random moments while jobs are in every state,
with 503s, dropped connections and slow submits injected, resumes it, and counts the jobs the server
created for each row: no row is submitted twice unless ``--resubmit-uncertain`` asks for it.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import runcomfy_models
from runcomfy_codegen.cli import main
from runcomfy_codegen.mock import Fault, MockServer
from runcomfy_models._batch import (
    BatchInputError,
    BatchRow,
    JournalMismatchError,
    _FileLock,
    _Pacer,
    prepare_rows,
    write_results,
)
from tests.conftest import SEED_ID

CLI = [sys.executable, "-m", "runcomfy_codegen"]
POLL = "0.05"


@pytest.fixture
def server() -> Iterator[MockServer]:
    with MockServer(queue_seconds=0.1, run_seconds=0.1, check_media=False) as mock:
        yield mock


@pytest.fixture
def env(server: MockServer, monkeypatch: pytest.MonkeyPatch) -> MockServer:
    monkeypatch.setenv("RUNCOMFY_BASE_URL", server.base_url)
    monkeypatch.setenv("RUNCOMFY_API_TOKEN", "mock-token")
    return server


def line(row_id: str | None, url: str = "https://example.invalid/x.png", **input: Any) -> dict[str, Any]:
    body = {"prompt": f"row {row_id}", "first_frame_image_url": url, **input}
    return (
        {"id": row_id, "model_id": SEED_ID, "input": body}
        if row_id is not None
        else {"model_id": SEED_ID, "input": body}
    )


def write_input(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def jobs_per_row(server: MockServer) -> Counter[str]:
    """Jobs the server created (and would bill), by row id (read from the prompt)."""
    return Counter(job.payload["prompt"].removeprefix("row ") for job in list(server.jobs._order))


def submits(server: MockServer) -> int:
    return server.count("POST", "/v1/models/")


def batch(tmp_path: Path, *extra: str, name: str = "in.jsonl") -> int:
    return main(
        ["batch", str(tmp_path / name), "--journal", str(tmp_path / "j.sqlite"),
         "--results", str(tmp_path / "out.jsonl"), "--poll-interval", POLL, "--no-media-check", *extra]
    )  # fmt: skip


def results(tmp_path: Path) -> list[dict[str, Any]]:
    lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(text) for text in lines]


def states(journal: Path) -> dict[str, tuple[str, str | None]]:
    db = sqlite3.connect(journal)
    try:
        return {
            row_id: (state, error) for row_id, state, error in db.execute("SELECT id, state, error FROM rows")
        }
    finally:
        db.close()


# The library ------------------------------------------------------------------------------------
def test_run_batch_yields_each_row_once_and_resumes_from_the_journal(
    server: MockServer, tmp_path: Path
) -> None:
    rows = [line(f"r{i}") for i in range(12)]

    async def go() -> list[Any]:
        async with runcomfy_models.AsyncClient(base_url=server.base_url, token="mock-token") as client:
            batch = client.run_batch(
                rows, journal=tmp_path / "j.sqlite", concurrency=4, poll_interval=0.05, check_media=False
            )
            found = [result async for result in batch]
            batch.write_results(tmp_path / "out.jsonl")
            assert batch.stats.succeeded == 12 and batch.stats.cost == pytest.approx(12 * 0.05)
            return found

    first = asyncio.run(go())
    assert sorted(r.id for r in first) == sorted(f"r{i}" for i in range(12))
    assert all(r.status == "succeeded" and r.cost == 0.05 and r.request_id for r in first)
    assert first[0].typed_output().video.startswith(server.base_url)  # type: ignore[attr-defined]
    assert submits(server) == 12
    again = asyncio.run(go())  # everything is finished: read from the journal, nothing sent
    assert submits(server) == 12
    assert {(r.id, r.request_id) for r in again} == {(r.id, r.request_id) for r in first}
    assert [r["id"] for r in results(tmp_path)] == [f"r{i}" for i in range(12)]  # input order


def test_rows_refused_before_or_at_submit_are_yielded_as_failed(server: MockServer, tmp_path: Path) -> None:
    from PIL import Image

    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (64, 64)).save(tiny)
    small = f"data:image/png;base64,{__import__('base64').b64encode(tiny.read_bytes()).decode()}"
    rows = [
        line("gone", url="http://127.0.0.1:9/x.png"),  # nothing listens there: the media cannot be measured
        line("small", url=small),
        {"id": "other", "model_id": "acme/not-generated", "input": {}},
    ]

    async def go() -> dict[str, Any]:
        async with runcomfy_models.AsyncClient(base_url=server.base_url, token="mock-token") as client:
            batch = client.run_batch(
                rows, journal=tmp_path / "j.sqlite", poll_interval=0.05, check_media=True
            )
            with pytest.warns(UserWarning, match="untyped"):
                return {r.id: r async for r in batch}

    found = asyncio.run(go())
    assert found["gone"].status == "failed" and found["gone"].error["type"] == "MediaProbeError"
    assert found["small"].status == "failed" and "width_pixels" in found["small"].error["message"]
    assert found["other"].status == "failed" and found["other"].error["status_code"] == 404
    assert submits(server) == 1  # only the untyped row reached the service, which refused it


def test_rows_are_validated_before_anything_is_sent(server: MockServer, tmp_path: Path) -> None:
    rows = [line("a"), line("b", duration=3), line("a"), {"model_id": SEED_ID, "inputs": {}}]
    with pytest.raises(BatchInputError) as caught:
        prepare_rows(rows)
    text = "\n".join(caught.value.problems)
    assert "row 2 (id 'b'): bytedance/seedance-v1.5-pro/image-to-video: input.duration" in text
    assert "row 3 (id 'a'): duplicate id, first used at row 1" in text
    assert "unknown key(s) 'inputs'" in text
    assert prepare_rows([BatchRow(SEED_ID, line(None)["input"], line=7)]).rows[0].id == "7"
    assert submits(server) == 0


def test_the_pacer_halves_on_429_and_recovers_additively() -> None:
    pacer = _Pacer(16)
    pacer.on_rate_limited(0.01)
    assert pacer.allowed() == 8
    pacer.on_rate_limited(0.01)  # the same pause: one decrease per congestion event
    assert pacer.allowed() == 8
    time.sleep(0.02)
    pacer.on_rate_limited(None)
    assert pacer.allowed() == 4
    for _ in range(9):
        pacer.on_accepted()
    assert 5.5 < pacer.limit < 6  # about +1 per window of `limit` accepted submits (4 + 9/4.x)
    for _ in range(500):
        pacer.on_accepted()
    assert pacer.allowed() == 16


def test_429_on_submit_slows_down_and_every_row_still_runs_once(env: MockServer, tmp_path: Path) -> None:
    env.inject(Fault("429", times=3, path="/v1/models/", method="POST", retry_after="0.2"))
    write_input(tmp_path / "in.jsonl", [line(f"r{i}") for i in range(10)])
    assert batch(tmp_path, "--concurrency", "4") == 0
    assert set(jobs_per_row(env).values()) == {1} and len(jobs_per_row(env)) == 10
    assert submits(env) == 13


def test_unreachable_service_stops_the_library_run_with_rows_left_pending(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def go() -> None:
        async with runcomfy_models.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", token="t", max_retries=0
        ) as client:
            async for _ in client.run_batch(
                [line("a"), line("b")],
                journal=tmp_path / "j.sqlite",
                unreachable_after=0.2,
                check_media=False,
            ):
                pass

    with pytest.raises(runcomfy_models.APIConnectionError, match="unreachable"):
        asyncio.run(asyncio.wait_for(go(), 30))
    assert {state for state, _ in states(tmp_path / "j.sqlite").values()} == {"pending"}


# The command line -------------------------------------------------------------------------------
def test_cli_runs_resumes_and_writes_one_line_per_row(env: MockServer, tmp_path: Path, capsys: Any) -> None:
    write_input(tmp_path / "in.jsonl", [line(f"r{i}") for i in range(6)] + [line(None)])
    assert batch(tmp_path) == 0
    found = results(tmp_path)
    assert [r["id"] for r in found] == [
        "r0",
        "r1",
        "r2",
        "r3",
        "r4",
        "r5",
        "7",
    ]  # id defaults to the line number
    assert {r["status"] for r in found} == {"succeeded"}
    assert all(r["output"]["video"] and r["cost"] == 0.05 and r["finished_at"] for r in found)
    assert "7 row(s): 7 succeeded" in capsys.readouterr().err
    assert batch(tmp_path) == 0
    assert submits(env) == 7


def test_bad_line_is_reported_with_its_number_and_nothing_is_sent(
    env: MockServer, tmp_path: Path, capsys: Any
) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(
        json.dumps(line("a")) + "\n\n" + "{not json\n" + json.dumps(line("d", duration=3)) + "\n[1]\n",
        encoding="utf-8",
    )
    assert batch(tmp_path) == 2
    err = capsys.readouterr().err
    assert f"{path}:3: not JSON" in err
    assert f"{path}:5: a line must be a JSON object" in err
    assert "nothing was sent" in err
    path.write_text(json.dumps(line("a")) + "\n" + json.dumps(line("d", duration=3)) + "\n", encoding="utf-8")
    assert batch(tmp_path) == 2
    assert f"{path}: line 2 (id 'd'): {SEED_ID}: input.duration" in capsys.readouterr().err
    assert env.received == [] and not (tmp_path / "j.sqlite").exists()


def test_missing_token_exits_2(
    env: MockServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.delenv("RUNCOMFY_API_TOKEN")
    write_input(tmp_path / "in.jsonl", [line("a")])
    assert batch(tmp_path) == 2
    assert "no API token" in capsys.readouterr().err
    assert env.received == []


def test_a_journal_made_for_another_input_is_refused(env: MockServer, tmp_path: Path, capsys: Any) -> None:
    write_input(tmp_path / "in.jsonl", [line("a"), line("b")])
    assert batch(tmp_path) == 0
    sent = len(env.received)
    write_input(tmp_path / "in.jsonl", [line("a"), line("b", duration=6)])
    assert batch(tmp_path) == 2
    assert "row 'b': its input differs from the journal's" in capsys.readouterr().err
    write_input(tmp_path / "in.jsonl", [line("a")])
    assert batch(tmp_path) == 2
    assert "the journal has 1 row(s) this input does not" in capsys.readouterr().err
    assert len(env.received) == sent


def test_a_journal_in_use_or_not_a_journal_is_refused(env: MockServer, tmp_path: Path, capsys: Any) -> None:
    write_input(tmp_path / "in.jsonl", [line("a")])
    lock = _FileLock(tmp_path / "j.sqlite.lock")
    lock.acquire()  # as another batch run holds it
    try:
        assert batch(tmp_path) == 2
    finally:
        lock.release()
    assert "in use by another batch run" in capsys.readouterr().err
    (tmp_path / "j.sqlite").write_bytes(b"not a database, just bytes" * 100)
    assert batch(tmp_path) == 2
    assert "not a batch journal" in capsys.readouterr().err
    assert env.received == []


def test_journal_mismatch_in_the_library(server: MockServer, tmp_path: Path) -> None:
    async def go(rows: list[dict[str, Any]]) -> None:
        async with runcomfy_models.AsyncClient(base_url=server.base_url, token="mock-token") as client:
            async for _ in client.run_batch(
                rows, journal=tmp_path / "j.sqlite", poll_interval=0.05, check_media=False
            ):
                pass

    asyncio.run(go([line("a")]))
    with (
        pytest.raises(JournalMismatchError, match="model id 'acme/other'"),
        pytest.warns(UserWarning, match="untyped"),
    ):
        asyncio.run(go([{"id": "a", "model_id": "acme/other", "input": line("a")["input"]}]))


def test_uncertain_rows_exit_3_and_are_resubmitted_only_when_asked(
    env: MockServer, tmp_path: Path, capsys: Any
) -> None:
    env.inject(Fault("503", times=1, path="/v1/models/", method="POST"))
    write_input(tmp_path / "in.jsonl", [line("a")] + [line(f"r{i}") for i in range(3)])
    assert batch(tmp_path, "--concurrency", "1") == 3
    err = capsys.readouterr().err
    assert "1 uncertain row(s), whose submit may have reached the service: a" in err
    assert [r["status"] for r in results(tmp_path)] == ["uncertain", "succeeded", "succeeded", "succeeded"]
    assert batch(tmp_path) == 3  # never resubmitted silently
    assert submits(env) == 4
    assert batch(tmp_path, "--resubmit-uncertain") == 0
    assert submits(env) == 5 and jobs_per_row(env)["a"] == 1
    assert [r["status"] for r in results(tmp_path)] == ["succeeded"] * 4


def test_max_cost_stops_submitting_and_a_later_run_finishes(
    env: MockServer, tmp_path: Path, capsys: Any
) -> None:
    write_input(tmp_path / "in.jsonl", [line(f"r{i}") for i in range(6)])
    assert batch(tmp_path, "--max-cost", "0.12", "--concurrency", "1") == 1
    err = capsys.readouterr().err
    assert "stopped submitting: --max-cost $0.12" in err and "cost $0.1000" in err
    assert [r["status"] for r in results(tmp_path)] == ["succeeded"] * 2 + ["pending"] * 4
    assert batch(tmp_path, "--max-cost", "0.12") == 1  # the cap counts the whole batch, earlier runs too
    assert submits(env) == 2
    assert batch(tmp_path) == 0
    assert submits(env) == 6


def test_token_refused_mid_run_exits_4_and_leaves_rows_pending(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with MockServer(token="another", check_media=False) as other:
        monkeypatch.setenv("RUNCOMFY_BASE_URL", other.base_url)
        monkeypatch.setenv("RUNCOMFY_API_TOKEN", "mock-token")
        write_input(tmp_path / "in.jsonl", [line(f"r{i}") for i in range(5)])
        assert batch(tmp_path, "--concurrency", "1") == 4
        assert len(other.jobs) == 0
    assert {state for state, _ in states(tmp_path / "j.sqlite").values()} == {"pending"}
    assert [r["status"] for r in results(tmp_path)] == ["pending"] * 5


def test_untyped_model_runs_with_one_warning(env: MockServer, tmp_path: Path, capsys: Any) -> None:
    rows = [{"id": str(i), "model_id": "acme/not-generated", "input": {"x": i}} for i in range(2)]
    write_input(tmp_path / "in.jsonl", rows)
    assert batch(tmp_path) == 1  # the mock knows only generated models: the service refuses them
    err = capsys.readouterr().err
    assert err.count("run untyped") == 1
    found = results(tmp_path)
    assert [r["status"] for r in found] == ["failed", "failed"] and "not found" in found[0]["error"][
        "message"
    ]


def test_output_files_download_to_a_folder_per_row_resumably(env: MockServer, tmp_path: Path) -> None:
    write_input(tmp_path / "in.jsonl", [line("a"), line("b")])
    out = tmp_path / "files"
    assert batch(tmp_path, "--output-dir", str(out)) == 0
    assert sorted(p.name for p in (out / "a").iterdir()) == [
        "image.png",
        "images-0.png",
        "video.mp4",
        "videos-0.mp4",
    ]
    assert results(tmp_path)[0]["files"] == ["a/image.png", "a/video.mp4", "a/images-0.png", "a/videos-0.mp4"]
    # as if the process had died while downloading b's files: the next run fetches them, submits nothing
    (out / "b" / "video.mp4").unlink()
    db = sqlite3.connect(tmp_path / "j.sqlite")
    with db:
        db.execute("UPDATE rows SET files = NULL WHERE id = 'b'")
    db.close()
    assert batch(tmp_path, "--output-dir", str(out)) == 0
    assert (out / "b" / "video.mp4").stat().st_size > 1000
    assert submits(env) == 2
    write_input(tmp_path / "in.jsonl", [line("../x")])
    assert batch(tmp_path, "--output-dir", str(out), name="in.jsonl") == 2


def test_a_failed_download_leaves_the_row_succeeded_and_exits_1(
    env: MockServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    import runcomfy_codegen.mock.server as mock_server

    gone = "http://127.0.0.1:9/video.mp4?signature=s3cr3t"  # nothing listens on port 9
    monkeypatch.setattr(mock_server, "_example_output", lambda output_class, media_base: {"video": gone})
    write_input(tmp_path / "in.jsonl", [line("a")])
    assert batch(tmp_path, "--output-dir", str(tmp_path / "files")) == 1
    err = capsys.readouterr().err
    assert "1 row(s) whose files did not download: run again" in err and "s3cr3t" not in err
    found = results(tmp_path)[0]
    assert found["status"] == "succeeded" and "files" not in found
    assert submits(env) == 1


def test_output_urls_that_are_not_http_are_never_opened_and_fail_the_download(
    env: MockServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    import runcomfy_codegen.mock.server as mock_server

    hostile = {"video": "file:///etc/passwd", "image": "javascript:alert(1)"}
    monkeypatch.setattr(mock_server, "_example_output", lambda output_class, media_base: hostile)
    write_input(tmp_path / "in.jsonl", [line("a")])
    assert batch(tmp_path, "--output-dir", str(tmp_path / "files")) == 1
    err = capsys.readouterr().err
    assert "1 row(s) whose files did not download" in err
    assert "row a: files not downloaded: video: 'file:///etc/passwd' is not an http(s) URL" in err
    found = results(tmp_path)[0]
    assert found["status"] == "succeeded" and "files" not in found
    assert not (tmp_path / "files" / "a").exists()  # nothing was written for it


# Crashes ----------------------------------------------------------------------------------------
def test_kill_9_at_random_moments_never_submits_a_row_twice(tmp_path: Path) -> None:
    seed = int(os.environ.get("BATCH_KILL_SEED", random.randrange(10**6)))
    rng = random.Random(seed)
    ids = [f"r{i:02}" for i in range(36)]
    with MockServer(queue_seconds=0.4, run_seconds=0.4, check_media=False) as server:
        write_input(tmp_path / "in.jsonl", [line(row_id) for row_id in ids])
        env = {**os.environ, "RUNCOMFY_BASE_URL": server.base_url, "RUNCOMFY_API_TOKEN": "mock-token"}
        command = [*CLI, "batch", str(tmp_path / "in.jsonl"), "--journal", str(tmp_path / "j.sqlite"),
                   "--results", str(tmp_path / "out.jsonl"), "--poll-interval", POLL, "--no-media-check",
                   "--concurrency", "8"]  # fmt: skip
        in_flight_at_kill: set[str] = set()
        seen_states: Counter[str] = Counter()
        server_states: Counter[str] = Counter()
        for _kill in range(5):
            for fault in rng.sample(
                [Fault("503", path="/status"), Fault("drop", path="/status"), Fault("503", path="/result"),
                 Fault("503", path="/v1/models/", method="POST"), Fault("drop", path="/v1/models/", method="POST"),
                 Fault("delay", seconds=1.5, path="/v1/models/", method="POST")], 3,
            ):  # fmt: skip
                server.inject(fault)
            before = submits(server)
            process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 20
            while submits(server) == before and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            kill_at = time.monotonic() + rng.uniform(0.0, 1.4)
            while True:  # what the server holds while this run goes on, up to the kill
                server_states.update({server.jobs.state(job)[0] for job in list(server.jobs._order)})
                if time.monotonic() >= kill_at:
                    break
                time.sleep(min(0.05, max(0.0, kill_at - time.monotonic())))
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            server.faults.clear()
            journal = states(tmp_path / "j.sqlite")
            seen_states.update(state for state, _ in journal.values())
            in_flight_at_kill |= {row_id for row_id, (state, _) in journal.items() if state == "submitting"}
            assert max(jobs_per_row(server).values(), default=0) <= 1, f"seed {seed}"

        finish = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
        assert finish.returncode in (0, 3), f"seed {seed}: {finish.stderr}"
        counts = jobs_per_row(server)
        assert max(counts.values()) == 1, (
            f"seed {seed}: a row was submitted twice without --resubmit-uncertain"
        )
        journal = states(tmp_path / "j.sqlite")
        uncertain = {row_id for row_id, (state, _) in journal.items() if state == "uncertain"}
        for row_id in uncertain:
            reason = journal[row_id][1] or ""
            crashed = "the process stopped" in reason
            assert (row_id in in_flight_at_kill) if crashed else ("may exist" in reason), (
                f"seed {seed}: {row_id}"
            )
        assert (finish.returncode == 3) == bool(uncertain)
        found = results(tmp_path)
        assert [r["id"] for r in found] == ids
        assert all(r["status"] == ("uncertain" if r["id"] in uncertain else "succeeded") for r in found)

        again = subprocess.run([*command, "--resubmit-uncertain"], env=env, capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
        assert again.returncode == 0, f"seed {seed}: {again.stderr}"
        counts = jobs_per_row(server)
        assert set(counts) == set(ids)
        assert {row_id for row_id, n in counts.items() if n > 1} <= uncertain, f"seed {seed}"
        assert [r["status"] for r in results(tmp_path)] == ["succeeded"] * len(ids)
    # the kills landed while rows were in every state of the journal, and jobs in every server state
    print(
        f"seed {seed}; journal states at kills {dict(seen_states)}; server states seen {dict(server_states)}"
    )
    assert seen_states["pending"] and seen_states["submitted"] and seen_states["finished"], f"seed {seed}"
    assert server_states["in_queue"] and server_states["in_progress"], f"seed {seed}"


def test_ctrl_c_exits_130_and_the_same_command_resumes(tmp_path: Path) -> None:
    ids = [f"r{i}" for i in range(12)]
    with MockServer(queue_seconds=0.3, run_seconds=0.3, check_media=False) as server:
        write_input(tmp_path / "in.jsonl", [line(row_id) for row_id in ids])
        env = {**os.environ, "RUNCOMFY_BASE_URL": server.base_url, "RUNCOMFY_API_TOKEN": "mock-token"}
        command = [*CLI, "batch", str(tmp_path / "in.jsonl"), "--journal", str(tmp_path / "j.sqlite"),
                   "--results", str(tmp_path / "out.jsonl"), "--poll-interval", POLL, "--no-media-check",
                   "--concurrency", "4"]  # fmt: skip
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 20
        while submits(server) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=30)
        assert process.returncode == 130, err
        assert "interrupted" in err and "Traceback" not in err
        assert len(results(tmp_path)) == len(ids)  # written from the journal on the way out
        again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
        assert again.returncode in (0, 3), again.stderr
        assert max(jobs_per_row(server).values()) == 1


def test_results_file_is_written_atomically_from_the_journal(env: MockServer, tmp_path: Path) -> None:
    write_input(tmp_path / "in.jsonl", [line("a")])
    assert batch(tmp_path) == 0
    (tmp_path / "out.jsonl").write_text("stale half line", encoding="utf-8")
    write_results(tmp_path / "j.sqlite", tmp_path / "out.jsonl")
    assert [r["id"] for r in results(tmp_path)] == ["a"]
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
