#!/usr/bin/env python3
"""Type-checking cost of ``runcomfy_models.get()`` with a large catalog (issue 13).

usage: python benchmarks/typecheck.py [-n 1000] [--repeat 3]

A user script calls ``get("<literal id>")`` on one model, builds its ``Input`` and runs it through
``Client.run`` (so mypy resolves the model's ``Input`` and ``Output``). It is checked with
``mypy --strict`` and a cold cache (a fresh, empty cache folder each run) against two generated
packages from the same synthetic store (``benchmarks/make_schemas.py``): N models, and only the
model the script uses. Goal: the N-model package costs at most 2x the 1-model one. A third row checks
the same script importing the model's module by name, for comparison. Median of ``--repeat`` runs,
wall time of the whole mypy process.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

SCRIPT_GET = """\
import runcomfy_models

model = runcomfy_models.get({model_id!r})


def go(client: runcomfy_models.Client) -> None:
    output = client.run(model.Input.model_validate({{}}))
    reveal_type(output)
"""

SCRIPT_IMPORT = """\
import runcomfy_models
from runcomfy_models.catalog import {module} as model


def go(client: runcomfy_models.Client) -> None:
    output = client.run(model.Input.model_validate({{}}))
    reveal_type(output)
"""


def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=900, **kwargs)


def generate(schemas: Path, out: Path) -> None:
    result = run(
        [sys.executable, "-m", "runcomfy_codegen", "generate", "--schemas", str(schemas), "--out", str(out)]
    )
    if result.returncode != 0:
        sys.exit(f"generate failed: {result.stderr}")


def mypy_seconds(work: Path, package_root: Path, script: Path, tag: str) -> tuple[float, str]:
    cache = work / f"cache-{tag}-{time.monotonic_ns()}"  # empty: a cold cache
    env = {**os.environ, "MYPYPATH": str(package_root)}
    start = time.perf_counter()
    result = run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(cache), str(script)], cwd=work, env=env
    )
    elapsed = time.perf_counter() - start
    shutil.rmtree(cache, ignore_errors=True)
    revealed = next((line for line in result.stdout.splitlines() if "Revealed type" in line), result.stdout)
    if "Revealed type" not in revealed or ": error:" in result.stdout:
        sys.exit(f"mypy did not check the script as expected:\n{result.stdout}\n{result.stderr}")
    return elapsed, revealed.split("Revealed type is ", 1)[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="models in the large package (default 1000)")
    parser.add_argument("--repeat", type=int, default=3, help="mypy runs per row (median; default 3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="typecheck-bench-") as tmp:
        work = Path(tmp)
        (work / "mypy.ini").write_text("[mypy]\n", encoding="utf-8")  # not the repository's settings
        big = work / "schemas-big"
        run([sys.executable, str(HERE / "make_schemas.py"), str(big), "-n", str(args.n)])
        input_files = sorted(big.rglob("input.json"))
        chosen = input_files[len(input_files) // 2].parent
        model_id = chosen.relative_to(big).as_posix()
        one = work / "schemas-one" / model_id
        shutil.copytree(chosen, one)
        generate(big, work / "big")
        generate(work / "schemas-one", work / "one")
        catalog = (work / "one/runcomfy_models/catalog/__init__.py").read_text(encoding="utf-8")
        module = next(line.split('"')[3] for line in catalog.splitlines() if model_id in line)
        get_script = work / "user_get.py"
        get_script.write_text(SCRIPT_GET.format(model_id=model_id), encoding="utf-8")
        import_script = work / "user_import.py"
        import_script.write_text(SCRIPT_IMPORT.format(module=module), encoding="utf-8")
        rows = [
            ("get(), 1-model package", work / "one", get_script),
            (f"get(), {args.n}-model package", work / "big", get_script),
            (f"import by module name, {args.n}-model package", work / "big", import_script),
        ]
        results = {}
        revealed = ""
        for label, root, script in rows:
            times = []
            for i in range(args.repeat):
                seconds, revealed = mypy_seconds(work, root, script, f"{len(results)}-{i}")
                times.append(seconds)
            results[label] = statistics.median(times)
            print(
                f"{label:45} {results[label]:6.2f} s  (runs: {', '.join(f'{t:.2f}' for t in times)})",
                flush=True,
            )
        base = results["get(), 1-model package"]
        large = results[f"get(), {args.n}-model package"]
        ratio = large / base
        verdict = "pass" if ratio <= 2.0 else "FAIL"
        print(f"revealed: {revealed}")
        print(
            f"| mypy --strict, cold cache, one get() | 1 model: {base:.2f} s | {args.n} models: {large:.2f} s "
            f"| {ratio:.2f}x | <= 2x | {verdict} |"
        )
        print(json.dumps({"one": base, "large": large, "ratio": ratio, "models": args.n}))


if __name__ == "__main__":
    main()
