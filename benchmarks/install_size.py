"""Installed size of the client-only package against ``pip install httpx pydantic`` alone.

    python benchmarks/install_size.py            # needs the package index (PyPI); about a minute

Each row is a fresh ``pip install --target`` into its own empty folder (so nothing is shared and
pip itself is not counted), with pip's defaults (bytecode compiled, as in a virtualenv), run by
this interpreter's pip. The size is the sum of the installed files' sizes. Rows:

* baseline: ``pip install httpx pydantic``;
* client: ``pip install ./generated`` (httpx, pydantic, sniffio and ``runcomfy_models``), goal
  <= 1.3x the baseline; and with its ``media``, ``jsonschema`` and ``all`` extras;
* the generator: ``pip install .`` (it carries the client with both extras, plus jinja2 and rich);
* for reference, the generator's dependencies before issue 14, which included PyAV.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL = 1.3
# the root project's dependency list before issue 14 (PyAV made the mock's videos)
BEFORE = ["httpx>=0.27", "pydantic>=2.11", "jinja2>=3.1", "jsonschema>=4.20", "rich>=13", "pillow>=10"]
BEFORE += ["av>=12", "sniffio>=1.3"]


def installed_bytes(folder: Path) -> tuple[int, int]:
    total = files = 0
    for dirpath, _dirnames, filenames in os.walk(folder):
        for name in filenames:
            path = Path(dirpath, name)
            if not path.is_symlink():
                total += path.stat().st_size
                files += 1
    return total, files


def install(requirements: list[str], scratch: Path) -> tuple[int, int, float]:
    target = Path(tempfile.mkdtemp(dir=scratch))
    started = time.perf_counter()
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    done = subprocess.run(
        [*command, "--target", str(target), *requirements],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"pip install {' '.join(requirements)} failed:\n{done.stderr[-2000:]}")
    size, files = installed_bytes(target)
    return size, files, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-reference", action="store_true", help="leave out the generator rows")
    args = parser.parse_args()
    rows: list[tuple[str, list[str]]] = [
        ("baseline: httpx pydantic", ["httpx", "pydantic"]),
        ("client: ./generated", ["./generated"]),
        ("client: ./generated[media]", ["./generated[media]"]),
        ("client: ./generated[jsonschema]", ["./generated[jsonschema]"]),
        ("client: ./generated[all]", ["./generated[all]"]),
    ]
    if not args.skip_reference:
        rows += [
            ("generator: . (client + extras, jinja2, rich)", ["."]),
            ("before issue 14: the generator's old dependencies, with PyAV", BEFORE),
        ]
    print(f"{platform.system()} {platform.machine()}, Python {platform.python_version()}", file=sys.stderr)
    results: list[tuple[str, int, int]] = []
    with tempfile.TemporaryDirectory(prefix="install-size-") as scratch:
        for label, requirements in rows:
            size, files, seconds = install(requirements, Path(scratch))
            print(f"  {label}: {size / 1e6:.2f} MB, {files} files ({seconds:.0f} s)", file=sys.stderr)
            results.append((label, size, files))
    baseline = results[0][1]
    print("| install | size | files | vs httpx + pydantic | goal | result |")
    print("|---|---|---|---|---|---|")
    failed = False
    for label, size, files in results:
        ratio = size / baseline
        goal = result = "-"
        if label == "client: ./generated":
            goal, result = f"<= {GOAL}x", "pass" if ratio <= GOAL else "FAIL"
            failed = ratio > GOAL
        print(f"| {label} | {size / 1e6:.2f} MB | {files:,} | {ratio:.2f}x | {goal} | {result} |")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
