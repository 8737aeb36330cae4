"""Every Python and shell example of README.md runs, against the embedded mock, so none can rot.

A fenced ```python or ```sh block runs as it stands, in a fresh temporary folder holding a copy of
``schemas/`` and the files the README's examples name (``saved-doc-page.txt``, ``schema.json``),
with ``RUNCOMFY_BASE_URL`` and ``RUNCOMFY_API_TOKEN`` pointing at a :class:`MockServer` (which
serves ``/media/<name>.png`` and ``.mp4``), this virtualenv's scripts first on ``PATH``, and a
deadline. Nothing it does can touch the repository. A block immediately preceded by a line
``<!-- not-run: <reason> -->`` is exempt; only install commands, the test command, CI recipes,
excerpts and long-running servers are, and every other kind of block must be marked too.

The main job (the README's first command) is install + generate + check + the end-to-end example:
its install step is exempt, and the rest runs here in a copy of the checkout.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from runcomfy_codegen.mock import MockServer
from tests.conftest import ROOT, SEED_PAGE

README = ROOT / "README.md"
RUNNABLE = ("python", "sh")
DEADLINE = 240  # seconds per block: generous, for a loaded 2-core machine
_FENCE = re.compile(r"^```([\w-]*)\s*$")
_NOT_RUN = re.compile(r"^<!--\s*not-run:\s*(\S.*?)\s*-->\s*$")
MAIN_JOB_INSTALL = "python -m pip install -e . && "


@dataclass(frozen=True)
class Block:
    language: str
    code: str
    line: int  # of the opening fence, 1-based
    not_run: str | None  # the reason, when exempt

    @property
    def id(self) -> str:
        return f"{self.language}-line{self.line}"


def readme_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if match is None:
            i += 1
            continue
        start = i
        i += 1
        body: list[str] = []
        while i < len(lines) and lines[i].rstrip() != "```":
            body.append(lines[i])
            i += 1
        marker = _NOT_RUN.match(lines[start - 1]) if start > 0 else None
        blocks.append(
            Block(match.group(1), "\n".join(body) + "\n", start + 1, marker.group(1) if marker else None)
        )
        i += 1
    return blocks


BLOCKS = readme_blocks(README.read_text(encoding="utf-8"))
RUN = [b for b in BLOCKS if b.language in RUNNABLE and b.not_run is None]


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with MockServer(queue_seconds=0.05, run_seconds=0.05) as server:
        yield server


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNCOMFY_")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def _workdir(tmp_path: Path) -> Path:
    """A folder like a checkout's root, with the inputs the README's examples name."""
    work = tmp_path / "work"
    shutil.copytree(ROOT / "schemas", work / "schemas")
    shutil.copyfile(SEED_PAGE, work / "saved-doc-page.txt")
    (work / "schema.json").write_text(
        '{"type": "object", "required": ["prompt"], "properties": {"prompt": {"type": "string"}}}\n',
        encoding="utf-8",
    )
    return work


def _run(
    block: Block, cwd: Path, env: dict[str, str], code: str | None = None
) -> subprocess.CompletedProcess[str]:
    source = block.code if code is None else code
    if block.language == "python":
        script = cwd / f"readme_{block.id}.py"
        script.write_text(source, encoding="utf-8")
        command = [sys.executable, str(script)]
    else:
        command = ["bash", "-euo", "pipefail", "-c", source]
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=DEADLINE, check=False
    )


def test_the_readme_has_examples_and_every_exemption_says_why() -> None:
    assert len(RUN) >= 4, [b.id for b in RUN]
    for block in BLOCKS:
        if block.language not in RUNNABLE:
            assert block.not_run, (
                f"README line {block.line}: a ```{block.language} block must be marked not-run"
            )
    text = README.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(text):
        if _NOT_RUN.match(line):
            assert _FENCE.match(text[number + 1]), (
                f"README line {number + 1}: not-run marker not before a block"
            )


def test_the_two_top_commands_are_the_contracts() -> None:
    top = [b for b in BLOCKS if b.language == "sh"][:2]
    assert top[0].code.strip() == (
        "python -m pip install -e . && runcomfy-codegen generate && runcomfy-codegen check "
        "&& python examples/seed_end_to_end.py"
    )
    assert top[1].code.strip() == "python -m pip install -e '.[dev]' && python -m pytest"


@pytest.mark.parametrize("block", RUN, ids=[b.id for b in RUN])
def test_readme_example_runs(block: Block, mock: MockServer, tmp_path: Path) -> None:
    work = _workdir(tmp_path)
    env = _env(RUNCOMFY_BASE_URL=mock.base_url, RUNCOMFY_API_TOKEN=mock.token)
    result = _run(block, work, env)
    assert result.returncode == 0, (
        f"README line {block.line} exited {result.returncode}:\n{result.stderr[-3000:]}"
    )
    assert "Traceback" not in result.stderr


def test_main_job_runs_without_its_install_step(tmp_path: Path) -> None:
    """The first command, in a copy of the checkout; the example starts its own embedded mock."""
    block = next(b for b in BLOCKS if b.language == "sh")
    assert block.code.startswith(MAIN_JOB_INSTALL)
    work = tmp_path / "checkout"
    for folder in ("schemas", "examples", "generated"):
        shutil.copytree(ROOT / folder, work / folder, ignore=shutil.ignore_patterns("__pycache__"))
    result = _run(block, work, _env(), block.code[len(MAIN_JOB_INSTALL) :])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "no drift" in result.stdout
    assert "result: Output(" in result.stdout


PYTHON = [b for b in RUN if b.language == "python"]  # excerpts of generated code are not-run


def test_the_readmes_python_passes_mypy_strict(tmp_path: Path) -> None:
    """Every ```python block of the README type-checks with ``mypy --strict`` (issue 13): what the
    README shows is what a user's type checker accepts, with each model's own ``Output``."""
    scripts = []
    revealing = None
    for block in PYTHON:
        script = tmp_path / f"readme_{block.id.replace('-', '_')}.py"
        code = block.code
        if revealing is None and "output = client.run(request" in code:
            revealing = script.name  # the first client example: what does its `output` type as?
            code += "reveal_type(output)\n"
        script.write_text(code, encoding="utf-8")
        scripts.append(str(script))
    assert scripts and revealing
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--follow-untyped-imports",  # runcomfy_codegen: no py.typed
            "--cache-dir",
            str(tmp_path / ".mypy"),
            *scripts,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    revealed = [line for line in result.stdout.splitlines() if "Revealed type" in line]
    assert len(revealed) == 1 and revealed[0].startswith(revealing), revealed
    assert revealed[0].endswith('_typed.bytedance__seedance_v1_5_pro__image_to_video.Output"'), revealed
