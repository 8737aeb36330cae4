"""The client-only install: ``runcomfy_models`` runs with httpx and pydantic alone.

Each run is a fresh interpreter whose ``sitecustomize`` puts a meta-path blocker first, so the
generator (``runcomfy_codegen``), its dependencies (jinja2, rich) and the optional ones (Pillow,
jsonschema, PyAV) cannot be imported, as in an environment made by ``pip install ./generated``.
The mock server runs here, in the generator's environment, as a user would start it. A real
``pip install ./generated`` into a fresh venv needs the package index, so it is a manual step
(the README's "Install" section; ``benchmarks/install_size.py`` does it too).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from runcomfy_codegen.mock import MockServer
from tests.conftest import ROOT, SEED_ID

GENERATED = ROOT / "generated"
PACKAGE = GENERATED / "runcomfy_models"
BLOCKED = ("jinja2", "rich", "av", "PIL", "jsonschema", "regex", "runcomfy_codegen")
BASE_DEPENDENCIES = {"httpx", "pydantic", "sniffio", "h11"}  # h11: installed with httpx (httpcore)
EXTRAS = {"PIL": "media", "jsonschema": "jsonschema"}
# distribution names of the modules the runtime imports
DISTRIBUTIONS = {"httpx": "httpx", "pydantic": "pydantic", "pydantic_core": "pydantic", "PIL": "pillow"}

SITECUSTOMIZE = f"""
import sys

BLOCKED = frozenset({BLOCKED!r})


class ClientOnlyInstall:
    \"\"\"Refuses the generator and every optional dependency, as if they were not installed.\"\"\"

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (client-only install)", name=name)
        return None


sys.meta_path.insert(0, ClientOnlyInstall())
"""


def run_client_only(tmp_path: Path, script: str, env: dict[str, str], *extra_path: Path) -> dict[str, Any]:
    """Run ``script`` in a client-only interpreter; it prints one JSON object as its last line."""
    blocker = tmp_path / "blocker"
    blocker.mkdir(exist_ok=True)
    (blocker / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    (tmp_path / "client_script.py").write_text(textwrap.dedent(script), encoding="utf-8")
    path = os.pathsep.join(str(p) for p in (blocker, *extra_path, GENERATED))
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "RUNCOMFY_"))}
    child_env.update(env, PYTHONPATH=path, PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run(
        [sys.executable, str(tmp_path / "client_script.py")],
        cwd=tmp_path,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["loaded"] == [], f"client-only run imported {result['loaded']}"
    return result


CHECKS = """
import importlib, json, sys

BLOCKED = {blocked!r}
refused = []
for name in BLOCKED:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError:
        refused.append(name)
assert sorted(refused) == sorted(BLOCKED), refused
"""

REPORT = """
loaded = sorted({m.partition(".")[0] for m in sys.modules} & set(BLOCKED))
print(json.dumps({**report, "loaded": loaded}))
"""


def test_the_seed_model_runs_end_to_end_with_httpx_and_pydantic_alone(tmp_path: Path) -> None:
    script = (
        CHECKS.format(blocked=BLOCKED)
        + f"""
import base64
import os
import runcomfy_models

seedance = runcomfy_models.get({SEED_ID!r})
base = os.environ["RUNCOMFY_BASE_URL"]
request = seedance.Input(prompt="a cat", first_frame_image_url=base + "/media/cat.png", duration=5)
report = {{"models": list(runcomfy_models.models()), "payload": request.to_payload()}}
bmp = "data:image/bmp;base64," + base64.b64encode(b"BM" + bytes(52)).decode()
with runcomfy_models.Client() as client:
    try:  # an image format other than PNG, JPEG, GIF, WebP needs Pillow: one clear error, nothing sent
        client.submit(seedance.Input(prompt="a cat", first_frame_image_url=bmp))
    except runcomfy_models.MediaProbeError as exc:
        report["media_error"] = str(exc)
    job = client.submit(request)  # the mock's PNG: its rules checked from the header, without Pillow
    report["status"] = client.status(job).status
    output = client.wait(job, poll_interval=0.02, timeout=60)
    assert isinstance(output, seedance.Output), type(output)
    report["video"] = output.video
    report["result"] = client.result(job).status
"""
        + REPORT
    )
    with MockServer(queue_seconds=0.05, run_seconds=0.05) as server:
        env = {"RUNCOMFY_BASE_URL": server.base_url, "RUNCOMFY_API_TOKEN": server.token}
        report = run_client_only(tmp_path, script, env)
        submits = server.count("POST", "/v1/models/")
    assert SEED_ID in report["models"]
    assert report["payload"]["prompt"] == "a cat"
    assert "pip install 'runcomfy-models[media]'" in report["media_error"]
    assert "first_frame_image_url" in report["media_error"]
    assert report["status"] in ("in_queue", "in_progress", "completed")
    assert report["result"] == "succeeded"
    assert report["video"].endswith(".mp4")
    assert submits == 1  # the refused media check sent nothing


LEAN_SCHEMA = {
    "type": "object",
    "properties": {
        "clip_url": {
            "type": "string",
            "format": "uri",
            "validations": [
                {
                    "validation_rule": "duration_seconds<=",
                    "validation_value": 2,
                    "validation_error": "at most 2 s",
                },
                {"validation_rule": "fps>=", "validation_value": 24, "validation_error": "24 fps or more"},
            ],
        },
        "teaser_url": {
            "type": "string",
            "validations": [
                {"validation_rule": "duration_seconds<", "validation_value": 0.5, "validation_error": "short"}
            ],
        },
        "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        "slug": {"type": "string", "pattern": "^(?!-)[a-z-]+$"},  # lookahead: the regex extra
    },
    "required": ["clip_url"],
}


def test_video_rules_need_no_extra_and_a_json_schema_check_names_its_extra(tmp_path: Path) -> None:
    """MP4 rules are read by the runtime's own parsers; ``uniqueItems`` needs jsonschema and a lookahead
    ``pattern`` needs regex, each only when used."""
    schemas = tmp_path / "schemas" / "acme" / "lean"
    schemas.mkdir(parents=True)
    (schemas / "input.json").write_text(json.dumps(LEAN_SCHEMA), encoding="utf-8")
    (schemas / "output.json").write_text(
        json.dumps({"type": "object", "properties": {"video": {"type": "string"}}}), encoding="utf-8"
    )
    out = tmp_path / "out"
    generate = [sys.executable, "-m", "runcomfy_codegen", "generate"]
    done = subprocess.run(
        [*generate, "--schemas", str(tmp_path / "schemas"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    script = (
        CHECKS.format(blocked=BLOCKED)
        + """
import os
import runcomfy_models

lean = runcomfy_models.get("acme/lean")
base = os.environ["RUNCOMFY_BASE_URL"]
report = {}
ok = lean.Input.model_validate({"clip_url": base + "/media/clip.mp4"})  # no tags: no jsonschema needed
report["violations"] = [str(v) for v in runcomfy_models.check_media(ok)]
too_long = lean.Input.model_validate({"clip_url": base + "/media/clip.mp4", "teaser_url": base + "/media/t.mp4"})
report["too_long"] = [str(v) for v in runcomfy_models.check_media(too_long)]
try:
    lean.Input.model_validate({"clip_url": base + "/media/clip.mp4", "tags": ["a", "a"]})
except ModuleNotFoundError as exc:
    report["jsonschema_error"] = str(exc)
try:
    lean.Input.model_validate({"clip_url": base + "/media/clip.mp4", "slug": "a-b"})
except ModuleNotFoundError as exc:
    report["regex_error"] = str(exc)
"""
        + REPORT
    )
    with MockServer() as server:
        env = {"RUNCOMFY_BASE_URL": server.base_url, "RUNCOMFY_API_TOKEN": server.token}
        report = run_client_only(tmp_path, script, env, out)
    # the mock's 1 s, 24 fps H.264 MP4, measured without Pillow or PyAV
    assert report["violations"] == []
    assert report["too_long"] == ["teaser_url: duration_seconds is 1, rule duration_seconds< 0.5: short"]
    assert "uniqueItems" in report["jsonschema_error"]
    assert "pip install 'runcomfy-models[jsonschema]'" in report["jsonschema_error"]
    assert "'^(?!-)[a-z-]+$'" in report["regex_error"]
    assert "pip install 'runcomfy-models[regex]'" in report["regex_error"]


# --- the package's declared dependencies match what its code imports -------------------------------


def _imports(path: Path) -> tuple[set[str], set[str]]:
    """Top-level names imported at module level, and those imported inside functions (lazily)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    eager: set[str] = set()
    lazy: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = {alias.name.partition(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = {node.module.partition(".")[0]}
        else:
            continue
        (eager if node.col_offset == 0 else lazy).update(names)
    return eager, lazy


def _requirement_names(requirements: list[str]) -> set[str]:
    names = set()
    for requirement in requirements:
        name = requirement
        for stop in "<>=!~[; ":
            name = name.split(stop)[0]
        names.add(name.strip().lower())
    return names


def test_the_package_imports_only_its_declared_dependencies() -> None:
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((GENERATED / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = _requirement_names(project["dependencies"])
    assert declared == BASE_DEPENDENCIES
    extras = {name: _requirement_names(reqs) for name, reqs in project["optional-dependencies"].items()}
    eager: set[str] = set()
    lazy: set[str] = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        found_eager, found_lazy = _imports(path)
        eager |= found_eager
        lazy |= found_lazy
    third_party = {n for n in eager | lazy if n not in sys.stdlib_module_names and n != "runcomfy_models"}
    eager_third_party = {n for n in eager if n in third_party}
    assert {DISTRIBUTIONS.get(n, n) for n in eager_third_party} <= declared, eager_third_party
    for module in third_party - eager_third_party - {"httpx", "pydantic", "pydantic_core"}:
        extra = EXTRAS.get(module)
        assert extra is not None, f"runcomfy_models imports {module} lazily but no extra provides it"
        assert DISTRIBUTIONS.get(module, module) in extras[extra]
    assert extras["all"] == set().union(*(v for k, v in extras.items() if k != "all"))


def test_the_generator_install_carries_the_client_with_every_extra() -> None:
    tomllib = pytest.importorskip("tomllib")
    client = tomllib.loads((GENERATED / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    root = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    wanted = _requirement_names(client["dependencies"] + client["optional-dependencies"]["all"])
    project = root["project"]
    assert wanted <= _requirement_names(project["dependencies"])
    assert "generated/runcomfy_models" in root["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    everything = project["dependencies"] + [
        r for reqs in project["optional-dependencies"].values() for r in reqs
    ]
    assert "av" not in _requirement_names(everything)  # the mock's videos are committed fixtures
