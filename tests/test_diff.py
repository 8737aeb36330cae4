"""``diff``: every change class, its severity and the exit code; git revisions; output formats."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from runcomfy_codegen.cli import main
from tests.conftest import ROOT, SEED_ID

SEED_INPUT = json.loads((ROOT / "schemas" / SEED_ID / "input.json").read_text(encoding="utf-8"))
SEED_OUTPUT = json.loads((ROOT / "schemas" / SEED_ID / "output.json").read_text(encoding="utf-8"))


def write_store(root: Path, models: dict[str, tuple[Any, Any]]) -> Path:
    for model_id, (inp, out) in models.items():
        folder = root / model_id
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "input.json").write_text(json.dumps(inp), encoding="utf-8")
        (folder / "output.json").write_text(json.dumps(out), encoding="utf-8")
    return root


def edited(change: Any, output: bool = False) -> tuple[Any, Any]:
    inp, out = copy.deepcopy(SEED_INPUT), copy.deepcopy(SEED_OUTPUT)
    change(out["output"] if output else inp)
    return inp, out


def prop(name: str) -> Any:
    return lambda s: s["properties"][name]


def rule(schema: Any, index: int) -> Any:
    return schema["properties"]["first_frame_image_url"]["validations"][index]


CASES: list[tuple[str, Any, bool, str, str, int]] = [
    # (case, change, in output?, expected code, severity, exit code)
    ("property removed", lambda s: s["properties"].pop("ratio"), False, "property-removed", "breaking", 1),
    ("became required", lambda s: s["required"].append("ratio"), False, "property-became-required", "breaking", 1),
    ("became optional", lambda s: s["required"].remove("prompt"), False, "property-became-optional", "info", 0),
    ("new required, no default", lambda s: (s["properties"].update(seed={"type": "integer"}), s["required"].append("seed")), False, "required-property-added", "breaking", 1),
    ("new required, with default", lambda s: (s["properties"].update(seed={"type": "integer", "default": 1}), s["required"].append("seed")), False, "required-property-added-with-default", "warning", 0),
    ("optional added", lambda s: s["properties"].update(seed={"type": "integer"}), False, "optional-property-added", "info", 0),
    ("type changed", lambda s: prop("duration")(s).update(type="string"), False, "type-changed", "breaking", 1),
    ("type widened", lambda s: prop("duration")(s).update(type="number"), False, "type-widened", "info", 0),
    ("enum value removed", lambda s: prop("resolution")(s)["enum"].remove("1080p"), False, "enum-value-removed", "breaking", 1),
    ("enum value added", lambda s: prop("resolution")(s)["enum"].append("4k"), False, "enum-value-added", "info", 0),
    ("maximum down", lambda s: prop("prompt")(s).update(maxLength=500), False, "bound-added", "breaking", 1),
    ("rule tightened", lambda s: rule(s, 0).update(validation_value=5000), False, "rule-tightened", "breaking", 1),
    ("rule loosened", lambda s: rule(s, 2).update(validation_value=200), False, "rule-loosened", "info", 0),
    ("rule added", lambda s: prop("first_frame_image_url")(s)["validations"].append({"validation_rule": "width_pixels<=", "validation_value": 4000}), False, "rule-added", "breaking", 1),
    ("rule removed", lambda s: prop("first_frame_image_url")(s)["validations"].pop(), False, "rule-removed", "info", 0),
    ("description changed", lambda s: prop("prompt")(s).update(description="new"), False, "description-changed", "info", 0),
    ("default changed", lambda s: prop("resolution")(s).update(default="720p"), False, "default-changed", "warning", 0),
    ("output field removed", lambda s: s["properties"].pop("video"), True, "output-field-removed", "breaking", 1),
    ("output type changed", lambda s: s["properties"].update(video={"type": "array"}), True, "output-type-changed", "breaking", 1),
    ("output field added", lambda s: s["properties"].update(seed={"type": "integer"}), True, "output-field-added", "info", 0),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "change", "in_output", "code", "severity", "exit_code"), CASES, ids=[c[0] for c in CASES]
)
def test_change_classes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, change: Any, in_output: bool, code: str,
    severity: str, exit_code: int,
) -> None:  # fmt: skip
    old = write_store(tmp_path / "old", {SEED_ID: (SEED_INPUT, SEED_OUTPUT)})
    new = write_store(tmp_path / "new", {SEED_ID: edited(change, in_output)})
    assert main(["diff", str(old), str(new), "--format", "json"]) == exit_code
    report = json.loads(capsys.readouterr().out)
    changes = report["models"][0]["changes"]
    assert (code, severity) in [(c["code"], c["severity"]) for c in changes], changes
    assert report["breaking"] == sum(c["severity"] == "breaking" for c in changes)


def test_models_added_and_removed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = write_store(tmp_path / "old", {SEED_ID: (SEED_INPUT, SEED_OUTPUT)})
    new = write_store(tmp_path / "new", {"acme/new": (SEED_INPUT, SEED_OUTPUT)})
    assert main(["diff", str(old), str(new), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert {(m["model_id"], m["change"]) for m in report["models"]} == {
        ("acme/new", "added"),
        (SEED_ID, "removed"),
    }
    assert main(["diff", str(old), str(old)]) == 0


def test_fail_on_warning_and_formats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = write_store(tmp_path / "old", {SEED_ID: (SEED_INPUT, SEED_OUTPUT)})
    new = write_store(
        tmp_path / "new", {SEED_ID: edited(lambda s: prop("resolution")(s).update(default="720p"))}
    )
    assert main(["diff", str(old), str(new)]) == 0
    assert "default-changed" in capsys.readouterr().out
    assert main(["diff", str(old), str(new), "--fail-on", "warning"]) == 1
    capsys.readouterr()
    assert main(["diff", str(old), str(new), "--format", "markdown"]) == 0
    markdown = capsys.readouterr().out
    assert markdown.startswith("### Schema changes: 0 breaking, 1 warning(s)")
    assert "| warning | default-changed |" in markdown


def test_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(tmp_path / "nope"), str(tmp_path)]) == 2
    assert main(["diff", str(tmp_path)]) == 2
    bad = write_store(tmp_path / "bad", {})
    (bad / "a").mkdir(parents=True)
    (bad / "a" / "input.json").write_text("{", encoding="utf-8")
    assert main(["diff", str(bad), str(bad)]) == 2
    assert "invalid JSON" in capsys.readouterr().err


def test_diff_between_git_revisions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    write_store(repo / "schemas", {SEED_ID: (SEED_INPUT, SEED_OUTPUT)})

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, timeout=60)

    git("init", "-q")
    git("-c", "user.name=t", "-c", "user.email=t@t", "add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    write_store(repo / "schemas", {SEED_ID: edited(lambda s: s["properties"].pop("ratio"))})
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "two")
    monkeypatch.chdir(repo)
    assert main(["diff", "--git", "HEAD~1..HEAD", "--format", "json"]) == 1
    assert json.loads(capsys.readouterr().out)["models"][0]["changes"][0]["code"] == "property-removed"
    assert main(["diff", "--git", "HEAD..", "--format", "json"]) == 0  # HEAD vs work tree: same
    shutil.rmtree(repo / "schemas" / "bytedance")
    assert main(["diff", "--git", "HEAD..", "--format", "json"]) == 1
    assert main(["diff", "--git", "nope..HEAD"]) == 2


# --- what the generator sees: after $ref resolution, through every applicator ---------------------

REAL_BASE: dict[str, Any] = {
    "type": "object",
    "required": ["prompt"],
    "$defs": {
        "size": {"type": "integer", "minimum": 1, "maximum": 8},
        "ratio": {"type": "string", "enum": ["16:9", "1:1", "9:16"]},
    },
    "properties": {
        "prompt": {"type": "string"},
        "count": {"$ref": "#/$defs/size"},
        "aspect": {"allOf": [{"$ref": "#/$defs/ratio"}], "default": "16:9", "x-order": 2},
        "seed": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        "mode": {"anyOf": [{"type": "string", "enum": ["fast", "slow"]}, {"type": "null"}]},
        "pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]},
        "shape": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
    },
}
REAL_OUTPUT = {"output": {"type": "object", "properties": {"url": {"type": "string"}}}}


def _real(change: Any) -> Any:
    schema = copy.deepcopy(REAL_BASE)
    change(schema)
    return schema


REAL_CASES: list[tuple[str, Any, str, str, int]] = [
    ("bound tightened under $defs", lambda s: s["$defs"]["size"].update(maximum=4), "bound-tightened", "breaking", 1),
    ("type changed under $defs", lambda s: s["$defs"]["size"].update(type="string"), "type-changed", "breaking", 1),
    ("enum value removed under $defs (allOf $ref)", lambda s: s["$defs"]["ratio"]["enum"].remove("9:16"), "enum-value-removed", "breaking", 1),
    ("anyOf branch removed (null no longer allowed)", lambda s: s["properties"]["seed"]["anyOf"].pop(), "branch-removed", "breaking", 1),
    ("anyOf replaced by its non-null branch", lambda s: s["properties"].update(seed={"type": "integer"}), "branch-removed", "breaking", 1),
    ("enum value removed inside anyOf", lambda s: s["properties"]["mode"]["anyOf"][0]["enum"].remove("slow"), "enum-value-removed", "breaking", 1),
    ("oneOf branch removed", lambda s: s["properties"]["shape"]["oneOf"].pop(), "branch-removed", "breaking", 1),
    ("anyOf branch added", lambda s: s["properties"]["seed"]["anyOf"].append({"type": "string"}), "branch-added", "info", 0),
    ("prefixItems type changed", lambda s: s["properties"]["pair"]["prefixItems"][1].update(type="string"), "type-changed", "breaking", 1),
    ("prefixItems position added", lambda s: s["properties"]["pair"]["prefixItems"].append({"type": "boolean"}), "prefix-item-added", "breaking", 1),
    ("not added", lambda s: s["properties"]["prompt"].update({"not": {"const": ""}}), "constraint-added", "breaking", 1),
    ("allOf member added", lambda s: s["properties"]["prompt"].update(allOf=[{"minLength": 1}, {"maxLength": 9}]), "bound-added", "breaking", 1),
    ("anyOf [T, null] spelled as a type list", lambda s: s["properties"].update(seed={"type": ["integer", "null"]}), "", "", 0),
    ("type list narrowed to an anyOf without null", lambda s: s["properties"].update(seed={"anyOf": [{"type": "integer"}]}), "branch-removed", "breaking", 1),
    ("unreferenced $defs entry added", lambda s: s["$defs"].update(unused={"type": "string"}), "", "", 0),
    ("vendor keyword changed", lambda s: s["properties"]["aspect"].update({"x-order": 5}), "", "", 0),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "change", "code", "severity", "exit_code"), REAL_CASES, ids=[c[0] for c in REAL_CASES]
)
def test_changes_the_generator_sees(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, change: Any, code: str, severity: str,
    exit_code: int,
) -> None:  # fmt: skip
    old = write_store(tmp_path / "old", {"acme/m": (REAL_BASE, REAL_OUTPUT)})
    new = write_store(tmp_path / "new", {"acme/m": (_real(change), REAL_OUTPUT)})
    assert main(["diff", str(old), str(new), "--format", "json"]) == exit_code
    report = json.loads(capsys.readouterr().out)
    changes = [(c["code"], c["severity"]) for m in report["models"] for c in m["changes"]]
    if code:
        assert (code, severity) in changes, changes
    else:
        assert changes == []


def test_rules_are_compared_as_parsed_rule_objects(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # "width_pixels <" with spaces is the same rule as "width_pixels<" once parsed
    def spaced(s: Any) -> None:
        rule(s, 0)["validation_rule"] = " width_pixels < "

    old = write_store(tmp_path / "old", {SEED_ID: (SEED_INPUT, SEED_OUTPUT)})
    new = write_store(tmp_path / "new", {SEED_ID: edited(spaced)})
    assert main(["diff", str(old), str(new), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["models"] == []


def test_every_change_code_is_documented_in_the_readme() -> None:
    from runcomfy_codegen.diff import CODES

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[
        readme.index("### CI: drift and breaking changes") : readme.index("## The generated code")
    ]
    missing = []
    for code in sorted(CODES):
        key, _, what = code.rpartition("-")
        if f"`{code}`" not in section and not (what == "removed" and f"`{key}`" in section):
            missing.append(code)
    assert not missing, missing
