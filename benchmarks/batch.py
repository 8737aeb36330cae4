"""Benchmark: a durable batch (SQLite journal) against the same rows through ``run_many`` without one.

    python benchmarks/batch.py                 # 10,000 rows, as the issue asks
    python benchmarks/batch.py -n 2000 -c 500  # quicker

Each variant runs in a fresh process against a fresh mock server (another process, ``--queue-seconds
0 --run-seconds 1``), with the same rows, concurrency and polling: ``run_many`` (no journal),
``run_batch`` (the library, journal + results file) and the ``batch`` command (JSON-lines input,
journal, results file, progress lines), and finally the ``batch`` command run again on the finished
journal (a resume with nothing left to send). Printed: wall time, peak RSS of the client process,
and the ratio to ``run_many``. Goals: peak RSS <= 150 MB, wall time <= 1.15x ``run_many``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SEED_ID = "bytedance/seedance-v1.5-pro/image-to-video"
CLI = [sys.executable, "-m", "runcomfy_codegen"]
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

CHILD = r"""
import asyncio, json, resource, sys, time
import runcomfy_models
variant, base_url, n, concurrency, journal, results = sys.argv[1:7]
n, concurrency = int(n), int(concurrency)
SEED = "bytedance/seedance-v1.5-pro/image-to-video"
OPTIONS = dict(check_media=False, poll_interval=0.5, max_poll_interval=2.0)

def payload(i):
    return {"prompt": f"job {i}", "first_frame_image_url": "https://example.invalid/x.png"}

async def main():
    async with runcomfy_models.AsyncClient(base_url=base_url, token="mock-token", timeout=60) as client:
        if variant == "run_many":
            seed = runcomfy_models.get(SEED)
            inputs = [seed.Input.model_validate(payload(i)) for i in range(n)]
            out = await client.run_many(inputs, concurrency=concurrency, return_exceptions=True, timeout=600, **OPTIONS)
            return sum(isinstance(r, seed.Output) for r in out)
        rows = [{"id": f"r{i}", "model_id": SEED, "input": payload(i)} for i in range(n)]
        batch = client.run_batch(rows, journal=journal, concurrency=concurrency, **OPTIONS)
        done = 0
        async for result in batch:
            done += result.status == "succeeded"
        batch.write_results(results)
        return done

start = time.perf_counter()
done = asyncio.run(main())
print(json.dumps({"done": done, "seconds": time.perf_counter() - start,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


@contextmanager
def mock_server() -> Iterator[str]:
    command = [*CLI, "mock-server", "--queue-seconds", "0", "--run-seconds", "1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait(timeout=10)


def child(variant: str, n: int, concurrency: int, work: Path) -> dict[str, float]:
    with mock_server() as base_url:
        argv = [
            variant,
            base_url,
            str(n),
            str(concurrency),
            str(work / f"{variant}.sqlite"),
            str(work / "out.jsonl"),
        ]
        out = subprocess.run(
            [sys.executable, "-c", CHILD, *argv],
            check=True,
            capture_output=True,
            text=True,
            timeout=1800,
            env=ENV,
        )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def cli(n: int, concurrency: int, work: Path, *, base_url: str | None = None) -> dict[str, float]:
    """The ``batch`` command; its peak RSS comes from ``wait4``'s rusage of that process."""
    source = work / "in.jsonl"
    if not source.exists():
        with open(source, "w", encoding="utf-8") as handle:
            for i in range(n):
                row = {"id": f"r{i}", "model_id": SEED_ID, "input": {"prompt": f"job {i}", "first_frame_image_url": "https://example.invalid/x.png"}}  # fmt: skip
                handle.write(json.dumps(row) + "\n")
    command = [*CLI, "batch", str(source), "--journal", str(work / "cli.sqlite"), "--results", str(work / "cli.jsonl"),
               "--concurrency", str(concurrency), "--no-media-check", "--poll-interval", "0.5"]  # fmt: skip

    def run(url: str) -> dict[str, float]:
        env = {**ENV, "RUNCOMFY_BASE_URL": url, "RUNCOMFY_API_TOKEN": "mock-token"}
        start = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _pid, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
        lines = (work / "cli.jsonl").read_text(encoding="utf-8").splitlines()
        done = sum(json.loads(line)["status"] == "succeeded" for line in lines)
        return {
            "done": done,
            "seconds": seconds,
            "rss_mb": usage.ru_maxrss / 1024,
            "exit": process.returncode,
        }

    if base_url is not None:
        return run(base_url)
    with mock_server() as url:
        first = run(url)
        again = run(url)  # resume of a finished batch: nothing is sent
    first["resume_seconds"], first["resume_rss_mb"] = again["seconds"], again["rss_mb"]
    return first


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10_000, help="rows (default 10,000)")
    parser.add_argument("-c", "--concurrency", type=int, default=1000, help="jobs in flight (default 1,000)")
    args = parser.parse_args()
    n, concurrency = args.n, args.concurrency
    print(
        f"{n} rows, concurrency {concurrency}, mock: queue 0 s, run 1 s; polls 0.5 s growing to 2 s",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="runcomfy-batch-bench-") as tmp:
        work = Path(tmp)
        figures = {}
        for variant in ("run_many", "run_batch"):
            figures[variant] = child(variant, n, concurrency, work)
            print(f"  {variant}: {figures[variant]}", flush=True)
        figures["batch command"] = cli(n, concurrency, work)
        print(f"  batch command: {figures['batch command']}", flush=True)
    base = figures["run_many"]["seconds"]
    print()
    print(
        f"| {n:,} rows, concurrency {concurrency} | done | wall time | vs run_many | peak RSS | goal | result |"
    )
    print("|---|---|---|---|---|---|---|")
    failed = False
    for name, result in figures.items():
        ratio = result["seconds"] / base
        if name == "run_many":
            goal, ok = "<= 150 MB", result["rss_mb"] <= 150
        else:
            goal, ok = (
                "<= 1.15x, <= 150 MB",
                ratio <= 1.15 and result["rss_mb"] <= 150 and result["done"] == n,
            )
        failed |= not ok
        print(
            f"| {name} | {result['done']:.0f}/{n} | {result['seconds']:.1f} s | {ratio:.2f}x | "
            f"{result['rss_mb']:.0f} MB | {goal} | {'pass' if ok else 'FAIL'} |"
        )
    resume = figures["batch command"]
    print(
        f"| batch command again (resume, nothing to send) | {n}/{n} | {resume['resume_seconds']:.1f} s | "
        f"| {resume['resume_rss_mb']:.0f} MB | | |"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
