#!/usr/bin/env python3
"""Benchmark ``sync``: N synthetic models served as doc pages by the embedded mock (127.0.0.1).

usage: python benchmarks/sync.py [-n 200] [--latency 0.05]

Rows (best of 3 each):
* the baseline: plain ``httpx.Client.get`` of every page, one after another, nothing decoded;
* ``sync --check`` of the whole store at concurrency 1, 4 and 16, text and HTML renderings
  (fetch + decode + schema check + diff), with ``--latency`` seconds of simulated network delay
  per page (the mock's ``delay`` fault) and without;
* decoding one page: the seed page's text rendering vs its HTML rendering (``html.parser``).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from runcomfy_codegen.importer import decode_page
from runcomfy_codegen.mock import Fault, MockServer
from runcomfy_codegen.store import read_store
from runcomfy_codegen.sync import sync_store
from runcomfy_codegen.upstream import Fetcher

ROOT = Path(__file__).resolve().parent.parent
SEED = "bytedance/seedance-v1.5-pro/image-to-video"


def best(runs: int, action: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def sync_once(
    mock: MockServer, store: Path, n: int, rendering: str, concurrency: int, latency: float
) -> None:
    if latency:
        mock.inject(Fault("delay", times=n, path="/models/", seconds=latency))
    template = f"{mock.base_url}/models/{{model_id}}/api?format={rendering}"
    with Fetcher(max_connections=concurrency) as fetcher:
        report = sync_store(store, check=True, template=template, fetcher=fetcher, concurrency=concurrency)
    assert report.exit_code() == 0, report.to_text()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="models (default 200)")
    parser.add_argument("--latency", type=float, default=0.05, help="simulated seconds per page")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    try:
        store = work / "schemas"
        subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "make_schemas.py"), str(store), "-n", str(args.n)],
            check=True,
            capture_output=True,
        )
        ids = sorted(read_store(store))
        print(f"{len(ids)} models, Python {sys.version.split()[0]}")
        print("| run | latency/page | concurrency | rendering | time | pages/s |")
        print("|---|---|---|---|---|---|")
        with MockServer(schemas=store) as mock:
            base = mock.base_url

            def raw() -> None:
                with httpx.Client() as http:
                    for model_id in ids:
                        http.get(f"{base}/models/{model_id}/api?format=text").raise_for_status()

            seconds = best(3, raw)
            print(
                f"| baseline: httpx GET, sequential | 0 | 1 | text | {seconds:.2f} s | {len(ids) / seconds:.0f} |"
            )
            for latency in (0.0, args.latency):
                for rendering in ("text", "html"):
                    for concurrency in (1, 4, 16):
                        if latency and concurrency == 1 and rendering == "html":
                            continue

                        seconds = best(
                            1 if latency else 3,
                            lambda r=rendering, c=concurrency, la=latency: sync_once(
                                mock, store, len(ids), r, c, la
                            ),
                        )
                        print(
                            f"| sync --check | {latency * 1000:.0f} ms | {concurrency} | {rendering} | "
                            f"{seconds:.2f} s | {len(ids) / seconds:.0f} |"
                        )
        with MockServer(schemas=ROOT / "schemas") as mock, Fetcher() as fetcher:
            pages = {
                r: fetcher.get(f"{mock.base_url}/models/{SEED}/api?format={r}") for r in ("text", "html")
            }
        for rendering, page in pages.items():
            seconds = best(
                5,
                lambda p=page: [
                    decode_page(p.text, "bench", content_type=p.content_type) for _ in range(100)
                ],
            )
            print(f"decode one seed page ({rendering}, {len(page.text):,} chars): {seconds * 10:.2f} ms")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
