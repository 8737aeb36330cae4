"""``generate``, ``check`` and ``list``: determinism, drift, atomic writes, clear refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from runcomfy_codegen.cli import main
from tests.conftest import ROOT, SEED_ID


@pytest.fixture
def store(tmp_path: Path) -> Path:
    schemas = tmp_path / "schemas"
    shutil.copytree(ROOT / "schemas", schemas)
    return schemas


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def gen(store: Path, out: Path, *extra: str) -> int:
    return main(["generate", "--schemas", str(store), "--out", str(out), *extra])


def test_generated_tree_matches_the_committed_one(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert gen(store, out) == 0
    committed = {
        k: v for k, v in tree(ROOT / "generated" / "runcomfy_models").items() if "__pycache__" not in k
    }
    assert tree(out / "runcomfy_models") == committed


def test_generate_twice_is_byte_identical_and_touches_nothing(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert gen(store, out) == 0
    # generate's stat cache of file hashes and its tree state, beside the package
    caches = {out / ".runcomfy_models.cache", out / ".runcomfy_models.state"}

    def files() -> dict[str, bytes]:
        return {k: v for k, v in tree(out).items() if out / k not in caches}

    first = files()
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and p not in caches}
    assert gen(store, out) == 0
    assert files() == first
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and p not in caches} == mtimes


def test_check_is_clean_then_reports_drift(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    gen(store, out)
    assert main(["check", "--schemas", str(store), "--out", str(out)]) == 0
    module = next((out / "runcomfy_models" / "catalog").glob("bytedance__*.py"))
    module.write_text(module.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["check", "--schemas", str(store), "--out", str(out)]) == 1
    assert f"changed: catalog/{module.name}" in capsys.readouterr().out
    gen(store, out)
    schema_file = store / SEED_ID / "input.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    schema["properties"]["resolution"]["enum"].append("4k")
    schema_file.write_text(json.dumps(schema), encoding="utf-8")
    assert main(["check", "--schemas", str(store), "--out", str(out)]) == 1


def test_a_model_that_leaves_the_store_loses_its_module(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(store / SEED_ID, store / "acme/copy-model")
    gen(store, out)
    assert (out / "runcomfy_models/catalog/acme__copy_model.py").exists()
    (out / "runcomfy_models/catalog/notes.py").write_text("# mine\n", encoding="utf-8")
    shutil.rmtree(store / "acme")
    assert main(["check", "--schemas", str(store), "--out", str(out)]) == 1
    gen(store, out)
    assert not (out / "runcomfy_models/catalog/acme__copy_model.py").exists()
    # the package folder holds only what generate writes (the contract): any other file is removed
    assert not (out / "runcomfy_models/catalog/notes.py").exists()
    assert "acme/copy-model" not in (out / "runcomfy_models/catalog/__init__.py").read_text(encoding="utf-8")


def test_a_refused_schema_writes_nothing(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    bad = store / "acme/bad"
    bad.mkdir(parents=True)
    (bad / "input.json").write_text('{"type": "object", "properties": {"a": {"typo": 1}}}', encoding="utf-8")
    (bad / "output.json").write_text('{"output": {"type": "object"}}', encoding="utf-8")
    assert gen(store, out) == 2
    err = capsys.readouterr().err
    assert "schemas/acme/bad/input.json#/properties/a/typo" in err
    assert "unknown keyword 'typo'" in err
    assert not out.exists()
    # --keep-going writes the rest, leaves the refused model out, and still exits 2.
    assert gen(store, out, "--keep-going") == 2
    catalog = (out / "runcomfy_models/catalog/__init__.py").read_text(encoding="utf-8")
    assert SEED_ID in catalog
    assert "acme/bad" not in catalog


def test_output_folder_that_is_a_file_is_an_error(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.write_text("not a folder", encoding="utf-8")
    assert gen(store, out) == 2
    assert "is a file" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == "not a folder"


def test_two_ids_mapping_to_one_module_are_an_error_naming_both(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(store / SEED_ID, store / "acme/my-model")
    shutil.copytree(store / SEED_ID, store / "acme/my_model")
    assert gen(store, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "'acme/my-model'" in err
    assert "'acme/my_model'" in err


def test_bad_model_folder_name_is_refused(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(store / SEED_ID, store / "acme/bad$name")
    assert gen(store, tmp_path / "out") == 2
    assert "bad$name" in capsys.readouterr().err


def test_list_prints_model_ids(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(store / SEED_ID, store / "minimax/Hailuo Video 01 Live")
    assert main(["list", "--schemas", str(store)]) == 0
    assert capsys.readouterr().out.splitlines() == [SEED_ID, "minimax/Hailuo Video 01 Live"]


def test_bad_cli_argument_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--no-such-flag"]) == 2
    assert "unrecognized arguments" in capsys.readouterr().err


def test_generating_one_model_keeps_the_others(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(store / SEED_ID, store / "acme/other")
    gen(store, out)
    other = out / "runcomfy_models/catalog/acme__other.py"
    before = other.stat().st_mtime_ns
    assert gen(store, out, SEED_ID) == 0
    assert other.exists() and other.stat().st_mtime_ns == before


def test_reserved_names_cover_every_public_attribute_of_the_base_class() -> None:
    from runcomfy_codegen.parse import BASE_MODEL_NAMES
    from runcomfy_models import RunComfyInput

    assert {name for name in dir(RunComfyInput) if not name.startswith("_")} <= BASE_MODEL_NAMES


def test_a_large_store_builds_in_parallel_with_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess
    import sys

    from runcomfy_codegen import pipeline
    from tests.conftest import MAKE_SCHEMAS

    store = tmp_path / "schemas"
    subprocess.run(
        [sys.executable, str(MAKE_SCHEMAS), str(store), "-n", "60"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    bad = store / "zz/bad"
    bad.mkdir(parents=True)
    (bad / "input.json").write_text('{"properties": {"a": {"typo": 1}}}', encoding="utf-8")
    (bad / "output.json").write_text('{"output": {}}', encoding="utf-8")
    monkeypatch.setattr(pipeline, "PARALLEL_THRESHOLD", 10)
    parallel = pipeline.build_package(store, keep_going=True)
    strict = pipeline.build_package(store)
    monkeypatch.setattr(pipeline, "PARALLEL_THRESHOLD", 10**9)
    sequential = pipeline.build_package(store, keep_going=True)
    assert parallel.files == sequential.files
    assert len(parallel.models) == 60
    assert [str(e) for e in parallel.errors] == [str(e) for e in sequential.errors]
    assert "schemas/zz/bad/input.json#/properties/a/typo" in str(parallel.errors[0])
    assert len(strict.errors) == 1 and isinstance(strict.errors[0], pipeline.SchemaError)


def test_check_uses_manifest_hashes_and_falls_back_to_a_full_compare(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    gen(store, out)
    capsys.readouterr()
    assert main(["check", "--schemas", str(store), "--out", str(out)]) == 0
    assert "manifest hashes" in capsys.readouterr().out
    (out / "runcomfy_models/catalog/notes.py").write_text("# mine, not generated\n", encoding="utf-8")
    assert main(["check", "--schemas", str(store), "--out", str(out)]) == 1  # full compare: a stray file
    assert "removed: catalog/notes.py" in capsys.readouterr().out
    schema_file = store / SEED_ID / "input.json"
    schema_file.write_text(schema_file.read_text(encoding="utf-8") + " ", encoding="utf-8")  # same schema
    assert main(["check", "--schemas", str(store), "--out", str(out)]) == 1  # the manifest records the bytes
    assert "changed: catalog/_manifest.json" in capsys.readouterr().out


def test_a_required_name_missing_from_properties_stays_required_with_a_warning(
    compile_schema: object, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    store = tmp_path / "schemas"
    (store / "acme/quirk").mkdir(parents=True)
    (store / "acme/quirk/input.json").write_text(
        json.dumps(
            {"type": "object", "required": ["prompt", "ghost"], "properties": {"prompt": {"type": "string"}}}
        ),
        encoding="utf-8",
    )
    (store / "acme/quirk/output.json").write_text('{"output": {"type": "object"}}', encoding="utf-8")
    out = tmp_path / "out"
    assert main(["generate", "--schemas", str(store), "--out", str(out)]) == 0
    assert "required property 'ghost' is not declared" in capsys.readouterr().err
    module = (out / "runcomfy_models/catalog/acme__quirk.py").read_text(encoding="utf-8")
    assert "# warning: schemas/acme/quirk/input.json#/required: required property 'ghost'" in module
    assert "    ghost: JsonValue\n" in module


def test_a_new_package_appears_whole(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "fresh" / "out"
    assert gen(store, out) == 0
    assert (out / "runcomfy_models" / "catalog" / "_manifest.json").exists()
    left = [p.name for p in out.iterdir() if p.name.startswith(".")]
    # the stat cache and the tree state only: no staging folder left behind
    assert sorted(left) == [".runcomfy_models.cache", ".runcomfy_models.state"]
