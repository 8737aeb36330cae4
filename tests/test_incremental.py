"""One runtime, derived lists, incremental ``generate`` and ``check``'s stat cache (issue 14)."""

from __future__ import annotations

import importlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from runcomfy_codegen import build, hashcache, manifest, pipeline, render_worker, treestate
from runcomfy_codegen.cli import main
from runcomfy_codegen.model_id import module_name
from runcomfy_codegen.schema import store
from tests.conftest import MAKE_SCHEMAS, ROOT

GENERATOR = ROOT / "codegen" / "runcomfy_codegen"


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_the_runtime_folder_is_files_to_copy_not_a_package() -> None:
    with pytest.raises(ImportError, match="import runcomfy_models"):
        importlib.import_module("runcomfy_codegen.runtime._urls")
    # what the generator shares with the runtime comes from the runcomfy_models it carries
    from runcomfy_codegen.schema import rules
    from runcomfy_models import _rules

    assert rules.parse_rule is _rules.parse_rule


def test_the_runtime_modules_the_generator_runs_import_only_the_standard_library() -> None:
    """runcomfy_codegen.carried runs them without their package (and pydantic): a module-level import
    of anything else (a relative one included) would break that."""
    import ast

    from runcomfy_codegen import carried

    for name in carried.STANDALONE:
        tree = ast.parse((GENERATOR / "runtime" / f"{name}.py").read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{name}.py: a relative import"
                top = (node.module or "").split(".")[0]
            elif isinstance(node, ast.Import):
                top = node.names[0].name.split(".")[0]
            else:
                continue
            assert top in sys.stdlib_module_names or top == "__future__", f"{name}.py imports {top}"


def test_generate_of_one_edited_model_never_loads_pydantic(synthetic: Path, tmp_path: Path) -> None:
    schemas = synthetic
    out = tmp_path / "out"
    pipeline.generate(schemas, out)
    edited = sorted(schemas.rglob("input.json"))[3]
    doc = json.loads(edited.read_text(encoding="utf-8"))
    doc["title"] = "edited"
    edited.write_text(json.dumps(doc), encoding="utf-8")
    code = (
        "import sys; from pathlib import Path; from runcomfy_codegen import pipeline, render_worker; "
        "render_worker.start = lambda: None; "  # built in this process, where its imports are seen
        f"r = pipeline.generate(Path({str(schemas)!r}), Path({str(out)!r})); "
        "assert not r.errors and r.diff is not None and r.diff.changed, r; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'pydantic_core', 'httpx')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_generate_after_an_edit_loads_no_parser_or_templates_itself(
    synthetic: Path, tmp_path: Path
) -> None:
    """The warm renderer loads them (runcomfy_codegen.render_worker); the command itself loads only
    what finding and writing the edit needs: no jinja2, no dataclasses, no rich, no pydantic."""
    out = tmp_path / "out"
    pipeline.generate(synthetic, out)
    _retitle(sorted(synthetic.rglob("input.json"))[3], "edited")
    heavy = ("jinja2", "dataclasses", "inspect", "rich", "pydantic", "runcomfy_codegen.parse")
    code = (
        "import sys; from runcomfy_codegen import hashcache, render_worker; "
        "hashcache.RACY_NS = 0; "  # the store was written just now: its folders would be racy
        "from runcomfy_codegen.__main__ import main; "
        f"sys.argv = ['runcomfy-codegen', 'generate', '--schemas', {str(synthetic)!r}, '--out', {str(out)!r}]; "
        "assert main() == 0; "
        f"print(render_worker._usable(), sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "1 changed" in done.stdout or "2 changed" in done.stdout, done.stdout
    usable, loaded = done.stdout.strip().splitlines()[-1].split(" ", 1)
    assert loaded == "[]" or usable == "False", done.stdout  # no fork here: built in-process


def test_the_warm_renderer_steps_aside_when_its_child_is_gone(synthetic: Path) -> None:
    work = [
        (
            store.model_at(
                synthetic,
                sorted(p.parent.relative_to(synthetic).as_posix() for p in synthetic.rglob("input.json"))[0],
            ),
            "m",
        )
    ]
    renderer = render_worker.start()
    assert renderer is not None
    os.kill(renderer.pid, 9)
    assert renderer.build(work, False) is None  # the caller builds in-process
    renderer.close()


def test_every_runtime_file_is_copied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = tmp_path / "runtime"
    shutil.copytree(GENERATOR / "runtime", runtime, ignore=shutil.ignore_patterns("__pycache__"))
    (runtime / "_fresh.py").write_text('"""A module nobody listed."""\n', encoding="utf-8")
    monkeypatch.setattr(pipeline, "RUNTIME", runtime)
    copied = pipeline.runtime_files()
    assert copied["_fresh.py"] == "_fresh.py"
    assert copied["package_init.py"] == "__init__.py" and copied["py.typed"] == "py.typed"
    assert "__init__.py" not in copied  # the marker that refuses imports of runtime/ itself
    result = pipeline.build_package(ROOT / "schemas")
    assert result.files["_fresh.py"].endswith('"""A module nobody listed."""\n')
    assert result.files["_fresh.py"].startswith(pipeline.HEADER)
    assert result.files["py.typed"] == ""
    assert "_fresh.py" in json.loads(result.files[manifest.MANIFEST])["files"]


def test_the_fingerprint_covers_what_shapes_the_output_and_nothing_else(tmp_path: Path) -> None:
    package = tmp_path / "runcomfy_codegen"
    shutil.copytree(GENERATOR, package, ignore=shutil.ignore_patterns("__pycache__"))
    files = {p.relative_to(package).as_posix() for p in manifest.generator_files(package)}
    assert {"pipeline.py", "parse.py", "render.py", "schema/loader.py", "templates/model.py.j2"} <= files
    assert "runtime/_client.py" in files and "write.py" in files
    assert not files & {"cli.py", "diff.py", "mock/server.py", "jobs_cli.py"}
    first = manifest.generator_fingerprint(package)

    def edit(rel: str, text: str) -> str:
        path = package / rel
        path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")
        return manifest.generator_fingerprint(package)

    assert edit("cli.py", "# not shaping\n") == first
    after_parse = edit("parse.py", "# shaping\n")
    assert after_parse != first
    # a new module: shaping as soon as the build imports it, at any depth and however it is spelt
    (package / "naming.py").write_text("X = 1\n", encoding="utf-8")
    assert manifest.generator_fingerprint(package) == after_parse
    imported = edit(
        "render.py", "\n\ndef _late() -> int:\n    from runcomfy_codegen.naming import X\n\n    return X\n"
    )
    assert edit("naming.py", "Y = 2\n") != imported
    # a new runtime file: copied and fingerprinted
    before = manifest.generator_fingerprint(package)
    (package / "runtime" / "_new.py").write_text("Z = 3\n", encoding="utf-8")
    assert manifest.generator_fingerprint(package) != before


def test_a_shaping_edit_invalidates_the_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["generate", "--schemas", str(ROOT / "schemas"), "--out", str(out)]) == 0
    assert manifest.is_up_to_date(ROOT / "schemas", out / "runcomfy_models")
    monkeypatch.setattr(manifest, "generator_fingerprint", lambda *a, **k: "another generator")
    assert not manifest.is_up_to_date(ROOT / "schemas", out / "runcomfy_models")


@pytest.fixture
def synthetic(tmp_path: Path) -> Path:
    store = tmp_path / "schemas"
    subprocess.run(
        [sys.executable, str(MAKE_SCHEMAS), str(store), "-n", "40"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return store


def _edit_store(store: Path) -> tuple[str, str, str]:
    """One schema edited, one model added (a copy under a new id), one removed."""
    models = sorted(p.parent for p in store.rglob("input.json"))
    edited, removed = models[3], models[7]
    path = edited / "input.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc.setdefault("properties", {})["incremental_extra"] = {"type": "integer", "maximum": 9}
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    added = store / "zz-vendor" / "added-model"
    shutil.copytree(models[11], added)
    shutil.rmtree(removed)
    ids = [p.relative_to(store).as_posix() for p in (edited, added, removed)]
    return ids[0], ids[1], ids[2]


def test_incremental_generate_renders_only_what_changed_and_matches_a_full_build(
    synthetic: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    assert pipeline.generate(synthetic, out).diff is not None
    built: list[str] = []
    real = build.build_one

    def counting(files: pipeline.ModelFiles, module: str, allow_unknown: bool) -> build.Built:
        built.append(files.model_id)
        return real(files, module, allow_unknown)

    monkeypatch.setattr(build, "build_one", counting)
    monkeypatch.setattr(render_worker, "start", lambda: None)  # built here, where they are counted
    nothing = pipeline.generate(synthetic, out)  # no-op: nothing rendered, nothing written
    assert built == [] and nothing.diff is not None and nothing.diff.clean
    assert len(nothing.models) == 40

    edited, added, removed = _edit_store(synthetic)
    result = pipeline.generate(synthetic, out)
    assert sorted(built) == sorted([edited, added])
    assert result.diff is not None and len(result.diff.removed) == 1
    full = tmp_path / "full"
    pipeline.generate(synthetic, full, incremental=False)
    assert tree(out / "runcomfy_models") == tree(full / "runcomfy_models")
    assert main(["check", "--schemas", str(synthetic), "--out", str(out)]) == 0
    assert removed not in result.models


def _retitle(path: Path, title: str) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["title"] = title
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")


@pytest.mark.parametrize("warm", [True, False], ids=["warm-renderer", "in-process"])
def test_generate_after_edits_renders_only_the_edited_models_and_matches_a_full_build(
    synthetic: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warm: bool
) -> None:
    # The store was written just now: its folders are racy (a folder changed within RACY_NS of the
    # recording could hide a new model), and a racy folder sends generate down the full road.
    monkeypatch.setattr(hashcache, "RACY_NS", 0)
    out = tmp_path / "out"
    pipeline.generate(synthetic, out)
    if not warm:
        monkeypatch.setattr(render_worker, "start", lambda: None)
    monkeypatch.setattr(pipeline, "build_package", lambda *a, **k: pytest.fail("took the full road"))
    models = sorted(synthetic.rglob("input.json"))
    _retitle(models[2], "a new title")
    doc = json.loads(models[5].read_text(encoding="utf-8"))
    doc.setdefault("properties", {})["edit_path_extra"] = {"type": "string", "enum": ["a", "b"]}
    models[5].write_text(json.dumps(doc), encoding="utf-8")  # a new field: the typed stub changes too
    hand = sorted((out / "runcomfy_models" / "catalog").glob("*__*.py"))[9]
    hand.write_text(hand.read_text(encoding="utf-8") + "# edited by hand\n", encoding="utf-8")
    result = pipeline.generate(synthetic, out)
    assert result.diff is not None and not result.errors and len(result.models) == 40
    assert sorted(result.diff.changed) == sorted(
        [
            "catalog/_manifest.json",
            "catalog/_typed.pyi",
            f"catalog/{hand.name}",
            *(
                f"catalog/{module_name(p.parent.relative_to(synthetic).as_posix())}.py"
                for p in (models[2], models[5])
            ),
        ]
    )
    total = result.diff.unchanged + len(result.diff.changed)
    assert pipeline.generate(synthetic, out).diff == pipeline.TreeDiff(unchanged=total)
    monkeypatch.undo()
    full = tmp_path / "full"
    pipeline.generate(synthetic, full, incremental=False)
    assert tree(out / "runcomfy_models") == tree(full / "runcomfy_models")
    assert main(["check", "--schemas", str(synthetic), "--out", str(out)]) == 0


def test_an_edit_generate_cannot_judge_takes_the_full_road(synthetic: Path, tmp_path: Path) -> None:
    """A refused schema, a new model or a stray file: the edit path steps aside and the full build
    answers (errors named, nothing written; the model added; the stray removed)."""
    out = tmp_path / "out"
    pipeline.generate(synthetic, out)
    package = out / "runcomfy_models"
    before = tree(package)
    edited = sorted(synthetic.rglob("input.json"))[4]
    original = edited.read_text(encoding="utf-8")
    edited.write_text('{"type": "object", "properties": {"a": {"type": "strng"}}}', encoding="utf-8")
    refused = pipeline.generate(synthetic, out)
    assert refused.diff is None and "strng" in str(refused.errors[0]) and tree(package) == before
    edited.write_text(original, encoding="utf-8")
    (package / "catalog" / "stray.py").write_text("x = 1\n", encoding="utf-8")
    shutil.copytree(edited.parent, synthetic / "new-vendor" / "new-model")
    result = pipeline.generate(synthetic, out)
    assert result.diff is not None and "catalog/stray.py" in result.diff.removed
    assert "new-vendor/new-model" in result.models and not (package / "catalog" / "stray.py").exists()


def test_the_warm_renderer_builds_what_the_process_itself_would(synthetic: Path) -> None:
    work = [
        (store.model_at(synthetic, p.parent.relative_to(synthetic).as_posix()), f"m{i}")
        for i, p in enumerate(sorted(synthetic.rglob("input.json"))[:3])
    ]
    renderer = render_worker.start()
    assert renderer is not None  # POSIX, two cores, one thread: the test machine has them
    try:
        warm = renderer.build(work, False)
    finally:
        renderer.close()
    assert warm == build.build_chunk(work, False)


def test_replacing_parts_of_the_typed_stub_is_assembling_it_again() -> None:
    from runcomfy_codegen.typed_stub import assemble, replace_parts

    catalog = [("a/b", "a__b"), ("c/d", "c__d"), ("e", "e")]
    parts = {k: f"# model: {k}\nclass {m}:\n    x: int\n" for k, m in catalog}
    text = assemble(catalog, parts)
    for model_id, module in catalog:
        new = {model_id: f"# model: {model_id}\nclass {module}:\n    y: str\n    z: int\n"}
        assert replace_parts(text, new) == assemble(catalog, {**parts, **new})
    both = {k: f"# model: {k}\nclass {m}:\n    w: bool\n" for k, m in catalog[::2]}
    assert replace_parts(text, both) == assemble(catalog, {**parts, **both})
    assert replace_parts(text, {"a": "# model: a\n"}) is None


def test_the_manifest_text_is_what_json_would_write() -> None:
    files = {"catalog/b.py": "2" * 64, "catalog/a.py": "1" * 64, "é/\u2028.py": "3"}
    schemas = {"z/m": "9" * 64, "a/m": "8" * 64}
    data = {"generator": "f" * 64, "schemas": schemas, "files": files}
    assert (
        manifest.manifest_text("f" * 64, schemas, files) == json.dumps(data, indent=1, sort_keys=True) + "\n"
    )
    empty = {"generator": "g", "schemas": {}, "files": {}}
    assert manifest.manifest_text("g", {}, {}) == json.dumps(empty, indent=1, sort_keys=True) + "\n"


def test_the_tree_state_suspects_changed_and_racy_paths_only(tmp_path: Path) -> None:
    schemas, package = tmp_path / "schemas", tmp_path / "out" / "runcomfy_models"
    (schemas / "a" / "m").mkdir(parents=True)
    (schemas / "a" / "m" / "input.json").write_text("{}", encoding="utf-8")
    (package / "catalog").mkdir(parents=True)
    (package / "catalog" / "a__m.py").write_text("x = 1\n", encoding="utf-8")
    state = treestate.TreeState(str(schemas), str(package), ["a/m"], ["catalog/a__m.py"], [], ["", "a"])
    kinds = [(kind, key) for _path, kind, key in state.paths()]
    assert kinds == [
        ("store", ""), ("store", "a"), ("model", "a/m"), ("schema", "a/m"), ("schema", "a/m"),
        ("folder", ""), ("folder", "catalog"), ("file", "catalog/a__m.py"),
    ]  # fmt: skip
    state.set_stats(state.scan(), time.time_ns())
    assert state.racy == [0, 1, 2, 3, 5, 6, 7]  # all but the missing output.json: made just now
    state.set_stats(state.scan(), time.time_ns() + 2 * hashcache.RACY_NS)
    assert state.racy == [] and state.suspects(state.scan()) == []
    (package / "catalog" / "a__m.py").write_text("x = 22\n", encoding="utf-8")
    (schemas / "a" / "m" / "output.json").write_text("{}", encoding="utf-8")
    assert state.suspects(state.scan()) == [2, 4, 7]  # the model folder gained a file
    state.write(tmp_path / "state")
    again = treestate.TreeState.read(tmp_path / "state")
    assert again is not None and again.stats == state.stats and again.racy == state.racy
    assert (again.ids, again.files, again.generator_paths) == (state.ids, state.files, [])
    (tmp_path / "state").write_bytes((tmp_path / "state").read_bytes()[:-8])  # cut short: not trusted
    assert treestate.TreeState.read(tmp_path / "state") is None


def test_incremental_generate_renders_a_module_edited_by_hand(synthetic: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    pipeline.generate(synthetic, out)
    module = sorted((out / "runcomfy_models" / "catalog").glob("*__*.py"))[0]
    original = module.read_bytes()
    module.write_bytes(original + b"# edited\n")
    result = pipeline.generate(synthetic, out)
    assert result.diff is not None and result.diff.changed == [f"catalog/{module.name}"]
    assert module.read_bytes() == original


def test_the_stat_cache_trusts_an_unchanged_stat_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hashcache, "RACY_NS", 0)
    path = tmp_path / "f.txt"
    path.write_bytes(b"one")
    cache_file = tmp_path / ".cache"
    first = hashcache.HashCache(cache_file)
    digest = first.sha(str(path), hashcache.read_bytes(str(path)))
    first.save()

    def must_not_read() -> bytes:
        raise AssertionError("read although the stat is unchanged")

    assert hashcache.HashCache(cache_file).sha(str(path), must_not_read) == digest
    # same size, mtime put back: the ctime still differs, so the file is read again
    info = path.stat()
    path.write_bytes(b"two")
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    again = hashcache.HashCache(cache_file).sha(str(path), hashcache.read_bytes(str(path)))
    assert again != digest
    # a racy entry (file modified right before it was hashed) is never trusted
    monkeypatch.setattr(hashcache, "RACY_NS", 10**12)
    racy = hashcache.HashCache(cache_file)
    assert racy.sha(str(path), hashcache.read_bytes(str(path))) == again
    # a broken cache file is ignored
    cache_file.write_text("{not json", encoding="utf-8")
    assert hashcache.HashCache(cache_file).sha(str(path), hashcache.read_bytes(str(path))) == again


def test_check_sees_a_same_size_edit_of_a_generated_file_through_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(hashcache, "RACY_NS", 0)
    out = tmp_path / "out"
    schemas = ROOT / "schemas"
    assert main(["generate", "--schemas", str(schemas), "--out", str(out)]) == 0
    assert main(["check", "--schemas", str(schemas), "--out", str(out)]) == 0
    assert (out / ".runcomfy_models.cache").is_file()
    assert not list((out / "runcomfy_models").rglob("*.cache"))  # beside the package, never inside
    target = out / "runcomfy_models" / "_urls.py"
    info = target.stat()
    text = target.read_bytes()
    target.write_bytes(text.replace(b"a", b"b", 1))
    os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns))
    capsys.readouterr()
    assert main(["check", "--schemas", str(schemas), "--out", str(out)]) == 1
    assert "changed: _urls.py" in capsys.readouterr().out


def test_the_mock_and_run_use_the_package_they_are_pointed_at(tmp_path: Path) -> None:
    """``generate --out elsewhere`` then ``mock-server --out elsewhere``: it serves that package."""
    schemas = tmp_path / "schemas"
    shutil.copytree(ROOT / "schemas", schemas)
    extra = schemas / "acme" / "echo"
    shutil.copytree(schemas / "bytedance/seedance-v1.5-pro/image-to-video", extra)
    out = tmp_path / "elsewhere"
    assert main(["generate", "--schemas", str(schemas), "--out", str(out)]) == 0
    cli = [sys.executable, "-m", "runcomfy_codegen"]
    server = subprocess.Popen(
        [*cli, "mock-server", "--out", str(out), "--queue-seconds", "0", "--run-seconds", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        env = {**os.environ, "RUNCOMFY_BASE_URL": base_url, "RUNCOMFY_API_TOKEN": "mock-token"}
        image = f"{base_url}/media/cat.png"
        args = [
            "run",
            "acme/echo",
            "--input",
            "prompt=hi",
            "--input",
            f"first_frame_image_url={image}",
            "--wait",
        ]
        done = subprocess.run(
            [*cli, *args, "--out", str(out)], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["status"] == "completed"
        # the project's own package has no acme/echo: without --out, run sends it untyped (no schema,
        # no media rules) and says how to get types
        plain = subprocess.run([*cli, *args], env=env, capture_output=True, text=True, timeout=120)
        assert plain.returncode == 0, plain.stderr
        assert "'acme/echo' is not in the generated catalog: run untyped" in plain.stderr
        missing = subprocess.run(
            [*cli, *args, "--out", str(tmp_path)], env=env, capture_output=True, text=True, timeout=60
        )
        assert missing.returncode == 2 and "no runcomfy_models package" in missing.stderr
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_clean_check_records_a_tree_state_that_holds_until_anything_it_read_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(hashcache, "RACY_NS", 0)
    schemas = tmp_path / "schemas"
    shutil.copytree(ROOT / "schemas", schemas)
    out = tmp_path / "out"
    assert main(["generate", "--schemas", str(schemas), "--out", str(out)]) == 0
    assert main(["check", "--schemas", str(schemas), "--out", str(out)]) == 0  # records the state
    with monkeypatch.context() as patched:  # the state answers: no hashing, no manifest
        patched.setattr(manifest, "is_up_to_date", lambda *a: pytest.fail("state not used"))
        patched.setattr(manifest, "read_manifest", lambda *a: pytest.fail("state not used"))
        assert main(["check", "--schemas", str(schemas), "--out", str(out)]) == 0
    # a stray module in the catalog, a new model, an edited schema: each is seen
    stray = out / "runcomfy_models" / "catalog" / "stray.py"
    stray.write_text(pipeline.HEADER + "\n", encoding="utf-8")
    capsys.readouterr()
    assert main(["check", "--schemas", str(schemas), "--out", str(out)]) == 1
    assert "removed: catalog/stray.py" in capsys.readouterr().out
    stray.unlink()
    assert main(["check", "--schemas", str(schemas), "--out", str(out)]) == 0
    shutil.copytree(
        schemas / "bytedance/seedance-v1.5-pro/image-to-video", schemas / "bytedance/seedance-v1.5-pro/copy"
    )
    assert main(["check", "--schemas", str(schemas), "--out", str(out)]) == 1
    shutil.rmtree(schemas / "bytedance/seedance-v1.5-pro/copy")
    assert main(["check", "--schemas", str(schemas), "--out", str(out)]) == 0
    schema = schemas / "bytedance/seedance-v1.5-pro/image-to-video/output.json"
    info = schema.stat()
    schema.write_bytes(schema.read_bytes().replace(b"video", b"vidoe", 1))
    os.utime(schema, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert main(["check", "--schemas", str(schemas), "--out", str(out)]) == 1


def test_a_module_built_with_allow_unknown_is_never_kept_by_a_strict_generate(tmp_path: Path) -> None:
    schemas = tmp_path / "schemas"
    shutil.copytree(ROOT / "schemas", schemas)
    odd = schemas / "acme" / "odd"
    odd.mkdir(parents=True)
    (odd / "input.json").write_text('{"type": "object", "properties": {"a": {"type": "string", "x_odd": 1}}}')
    shutil.copy(schemas / "bytedance/seedance-v1.5-pro/image-to-video/output.json", odd / "output.json")
    out = tmp_path / "out"
    assert pipeline.generate(schemas, out, allow_unknown=True).diff is not None
    assert pipeline.generate(schemas, out, allow_unknown=True).diff is not None  # kept: same flag
    strict = pipeline.generate(schemas, out)
    assert strict.diff is None and "x_odd" in str(strict.errors[0])
    (out / ".runcomfy_models.cache").unlink()  # no cache: nothing is known of earlier runs
    assert pipeline.generate(schemas, out).diff is None


def test_generate_after_a_clean_check_with_nothing_changed_does_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hashcache, "RACY_NS", 0)
    out = tmp_path / "out"
    schemas = ROOT / "schemas"
    pipeline.generate(schemas, out)
    assert main(["check", "--schemas", str(schemas), "--out", str(out)]) == 0
    monkeypatch.setattr(pipeline, "build_package", lambda *a, **k: pytest.fail("built"))
    result = pipeline.generate(schemas, out)
    assert (
        result.diff is not None
        and result.diff.clean
        and result.models == ["bytedance/seedance-v1.5-pro/image-to-video"]
    )


def test_a_tree_state_holds_only_for_the_generator_that_took_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hashcache, "RACY_NS", 0)
    out = tmp_path / "out"
    schemas = ROOT / "schemas"
    pipeline.generate(schemas, out)
    assert main(["check", "--schemas", str(schemas), "--out", str(out)]) == 0
    state = treestate.recorded(out, "runcomfy_models", schemas)
    assert state is not None and state.suspects(state.scan()) == []
    monkeypatch.setattr(treestate, "GENERATOR", str(tmp_path / "another-install"))
    assert treestate.recorded(out, "runcomfy_models", schemas) is None


@pytest.mark.parametrize("full", [False, True])
def test_any_file_generate_would_not_write_is_drift_and_generate_removes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], full: bool
) -> None:
    monkeypatch.setattr(hashcache, "RACY_NS", 0)
    schemas = tmp_path / "schemas"
    shutil.copytree(ROOT / "schemas", schemas)
    out = tmp_path / "out"
    package = out / "runcomfy_models"
    check = ["check", "--schemas", str(schemas), "--out", str(out), *(["--full"] if full else [])]
    assert main(["generate", "--schemas", str(schemas), "--out", str(out)]) == 0
    assert main(check) == 0  # records the tree state (the fast path)
    (package / "__pycache__").mkdir(exist_ok=True)
    (package / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"")  # caches are not drift
    capsys.readouterr()
    assert main(check) == 0
    # files without the generated header, anywhere in the package, and a stray folder
    (package / "catalog" / "evil.py").write_text("x=1\n", encoding="utf-8")
    (package / "notes.txt").write_text("hi\n", encoding="utf-8")
    (package / "junk" / "deep").mkdir(parents=True)
    (package / "junk" / "deep" / "file").write_text("", encoding="utf-8")
    (package / "link.py").symlink_to(tmp_path)
    capsys.readouterr()
    assert main(check) == 1
    said = capsys.readouterr().out
    for rel in ("catalog/evil.py", "notes.txt", "junk/", "link.py"):
        assert f"removed: {rel}\n" in said
    assert main(["generate", "--schemas", str(schemas), "--out", str(out)]) == 0
    assert "4 removed" in capsys.readouterr().out
    assert not (package / "notes.txt").exists() and not (package / "junk").exists()
    assert not (package / "link.py").is_symlink() and tmp_path.is_dir()  # the link, not its target
    assert (package / "__pycache__" / "x.cpython-311.pyc").exists()
    assert main(check) == 0
    # a new file in a folder that only the tree state watches
    assert main(["check", "--schemas", str(schemas), "--out", str(out)]) == 0
    (package / "catalog" / "notes.md").write_text("hi\n", encoding="utf-8")
    assert main(["check", "--schemas", str(schemas), "--out", str(out)]) == 1


# --- found by a review of the tree state: each case once wrong, now right ----------------------------


@pytest.fixture
def settled(synthetic: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A synthetic store generated, with nothing racy (RACY_NS 0): only real changes are suspects."""
    monkeypatch.setattr(hashcache, "RACY_NS", 0)
    out = tmp_path / "out"
    assert main(["generate", "--schemas", str(synthetic), "--out", str(out)]) == 0
    return synthetic, out


def _matches_a_full_build(schemas: Path, out: Path, tmp_path: Path) -> bool:
    full = tmp_path / f"full-{len(list(tmp_path.iterdir()))}"
    pipeline.generate(schemas, full, incremental=False)
    return tree(out / "runcomfy_models") == tree(full / "runcomfy_models")


@pytest.mark.parametrize("where", ["new-vendor", "alibaba", "model/variants"])
def test_a_model_added_in_a_folder_that_held_none_is_seen(
    settled: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    schemas, out = settled
    first = sorted(p.parent for p in schemas.rglob("input.json"))[0]
    folder = first / "variants" if where == "model/variants" else schemas / where / "drafts"
    folder.mkdir(parents=True)  # a folder with no model in it yet: recorded by the next generate
    assert main(["generate", "--schemas", str(schemas), "--out", str(out)]) == 0
    shutil.copytree(first, folder / "m1", ignore=shutil.ignore_patterns("variants"))
    capsys.readouterr()
    assert main(["check", "--schemas", str(schemas), "--out", str(out)]) == 1
    assert main(["generate", "--schemas", str(schemas), "--out", str(out)]) == 0
    assert "1 added" in capsys.readouterr().out
    assert _matches_a_full_build(schemas, out, tmp_path)


@pytest.mark.parametrize("linked", ["store", "package"])
def test_a_store_or_package_behind_a_symbolic_link_is_watched_behind_it(
    synthetic: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, linked: str
) -> None:
    monkeypatch.setattr(hashcache, "RACY_NS", 0)
    out = tmp_path / "out"
    schemas = tmp_path / "linked-schemas"
    schemas.symlink_to(synthetic)
    if linked == "package":
        (tmp_path / "real-package").mkdir()
        out.mkdir()
        (out / "runcomfy_models").symlink_to(tmp_path / "real-package")
    assert main(["generate", "--schemas", str(schemas), "--out", str(out)]) == 0
    if linked == "store":
        shutil.copytree(sorted(p.parent for p in synthetic.rglob("input.json"))[0], synthetic / "top-level")
    else:
        (tmp_path / "real-package" / "stray.py").write_text("x = 1\n", encoding="utf-8")
    assert main(["check", "--schemas", str(schemas), "--out", str(out)]) == 1
    assert main(["generate", "--schemas", str(schemas), "--out", str(out)]) == 0
    assert main(["check", "--full", "--schemas", str(schemas), "--out", str(out)]) == 0


def test_a_manifest_edited_by_hand_is_drift_even_when_it_still_parses(
    settled: tuple[Path, Path], tmp_path: Path
) -> None:
    schemas, out = settled
    manifest_file = out / "runcomfy_models" / "catalog" / "_manifest.json"
    with manifest_file.open("a", encoding="utf-8") as handle:
        handle.write("\n")
    assert main(["check", "--schemas", str(schemas), "--out", str(out)]) == 1
    assert main(["check", "--schemas", str(schemas), "--out", str(out)]) == 1  # not learnt as clean
    assert main(["generate", "--schemas", str(schemas), "--out", str(out)]) == 0
    assert _matches_a_full_build(schemas, out, tmp_path)


def test_a_state_file_out_of_range_is_ignored(settled: tuple[Path, Path]) -> None:
    schemas, out = settled
    state_file = out / ".runcomfy_models.state"
    head, _, stats = state_file.read_bytes().partition(b"\n")
    data = json.loads(head)
    data["racy"] = [10**6]
    state_file.write_bytes(json.dumps(data).encode() + b"\n" + stats)
    assert treestate.TreeState.read(state_file) is None
    assert main(["check", "--schemas", str(schemas), "--out", str(out)]) == 0
    assert main(["generate", "--schemas", str(schemas), "--out", str(out)]) == 0


def test_a_strict_check_does_not_trust_modules_built_with_allow_unknown(
    settled: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    schemas, out = settled
    edited = sorted(schemas.rglob("input.json"))[2]
    doc = json.loads(edited.read_text(encoding="utf-8"))
    doc["x_not_a_keyword"] = {"a": 1}
    doc["properties"]["odd"] = {"type": "string", "x_odd": True}
    edited.write_text(json.dumps(doc), encoding="utf-8")
    lenient = ["--schemas", str(schemas), "--out", str(out), "--allow-unknown"]
    assert main(["generate", *lenient]) == 0
    assert main(["check", *lenient]) == 0
    capsys.readouterr()
    assert main(["check", "--schemas", str(schemas), "--out", str(out)]) == 2  # as generate would
    assert "unknown keyword" in capsys.readouterr().err


def test_the_store_folder_is_named_the_same_however_it_is_spelled(
    synthetic: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline.generate(synthetic, tmp_path / "by-name")
    monkeypatch.chdir(synthetic)
    pipeline.generate(Path("."), tmp_path / "from-inside")
    pipeline.generate(Path(f"../{synthetic.name}/"), tmp_path / "relative")
    named = tree(tmp_path / "by-name" / "runcomfy_models")
    assert tree(tmp_path / "from-inside" / "runcomfy_models") == named
    assert tree(tmp_path / "relative" / "runcomfy_models") == named


def test_a_deleted_module_is_added_back_on_either_road(settled: tuple[Path, Path]) -> None:
    schemas, out = settled
    module = sorted((out / "runcomfy_models" / "catalog").glob("*__*.py"))[4]
    module.unlink()
    result = pipeline.generate(schemas, out)
    assert result.diff is not None and result.diff.added == [f"catalog/{module.name}"]
    assert result.diff.changed == ["catalog/_manifest.json"] or result.diff.changed == []


def test_the_generator_runs_the_runtime_it_is_about_to_write(tmp_path: Path) -> None:
    """A carried copy that differs from runtime/ (edited since the last generate) is not used."""
    from runcomfy_codegen import carried

    source = GENERATOR / "runtime" / "_urls.py"
    copy = tmp_path / "_urls.py"
    copy.write_text(
        f"{pipeline.HEADER} from runtime/_urls.py. Do not edit.\n{source.read_text(encoding='utf-8')}",
        encoding="utf-8",
    )
    assert carried._current(copy, "_urls") == copy
    copy.write_text(copy.read_text(encoding="utf-8") + "# older\n", encoding="utf-8")
    assert carried._current(copy, "_urls") == source
    copy.unlink()
    assert carried._current(copy, "_urls") == source


def test_a_store_renamed_or_reached_under_another_name_is_drift(
    settled: tuple[Path, Path], tmp_path: Path
) -> None:
    """Module headers print the store folder's name: under a new name every module differs."""
    schemas, out = settled
    renamed = schemas.parent / "store2"
    schemas.rename(renamed)
    assert main(["check", "--schemas", str(renamed), "--out", str(out)]) == 1
    assert main(["generate", "--schemas", str(renamed), "--out", str(out)]) == 0
    assert _matches_a_full_build(renamed, out, tmp_path)
    link = tmp_path / "lnk"
    link.symlink_to(renamed)
    assert main(["check", "--schemas", str(link), "--out", str(out)]) == 1
    assert main(["generate", "--schemas", str(link), "--out", str(out)]) == 0
    assert main(["check", "--full", "--schemas", str(link), "--out", str(out)]) == 0


@pytest.mark.parametrize("closed", ["stdout", "stderr", "both"])
def test_generate_and_check_work_with_their_output_streams_closed(
    settled: tuple[Path, Path], closed: str
) -> None:
    schemas, out = settled
    _retitle(sorted(schemas.rglob("input.json"))[1], f"with {closed} closed")
    redirect = {"stdout": ">&-", "stderr": "2>&-", "both": ">&- 2>&-"}[closed]
    base = f"{shlex.quote(sys.executable)} -m runcomfy_codegen"
    where = f"--schemas {shlex.quote(str(schemas))} --out {shlex.quote(str(out))}"
    for command, code in (("generate", 0), ("check", 0)):
        done = subprocess.run(
            ["sh", "-c", f"{base} {command} {where} {redirect}"], capture_output=True, timeout=120
        )
        assert done.returncode == code, (command, done.stderr)


def test_a_strict_run_does_not_trust_allow_unknown_modules_when_the_cache_is_lost(
    settled: tuple[Path, Path],
) -> None:
    schemas, out = settled
    edited = sorted(schemas.rglob("input.json"))[2]
    doc = json.loads(edited.read_text(encoding="utf-8"))
    doc["properties"]["odd"] = {"type": "string", "x_odd": True}
    edited.write_text(json.dumps(doc), encoding="utf-8")
    assert main(["generate", "--schemas", str(schemas), "--out", str(out), "--allow-unknown"]) == 0
    (out / ".runcomfy_models.cache").unlink()  # the state still knows
    assert main(["check", "--schemas", str(schemas), "--out", str(out)]) == 2
    assert main(["generate", "--schemas", str(schemas), "--out", str(out)]) == 2
    assert main(["check", "--schemas", str(schemas), "--out", str(out)]) == 2  # still not learnt


def test_the_template_cache_is_keyed_by_how_templates_are_compiled(monkeypatch: pytest.MonkeyPatch) -> None:
    from runcomfy_codegen import render

    first = render._bytecode_cache()
    monkeypatch.setitem(render._OPTIONS, "trim_blocks", False)
    second = render._bytecode_cache()
    assert first is not None and second is not None and first.pattern != second.pattern


def test_the_edit_road_starts_again_when_another_run_wrote_meanwhile(
    settled: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between reading the manifest and taking the lock, another generate wrote the package: the
    edit road writes nothing from what it read and the full road answers."""
    schemas, out = settled
    models = sorted(schemas.rglob("input.json"))
    _retitle(models[0], "first edit")
    real_init = pipeline._Edits.__init__

    def meanwhile(self: Any, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        _retitle(models[1], "written by another run")
        monkeypatch.setattr(pipeline._Edits, "__init__", real_init)
        pipeline.generate(schemas, out)  # the other run: it takes the edit road and writes both

    monkeypatch.setattr(pipeline._Edits, "__init__", meanwhile)
    result = pipeline.generate(schemas, out)
    assert result.diff is not None and not result.errors
    assert _matches_a_full_build(schemas, out, tmp_path)
    assert main(["check", "--full", "--schemas", str(schemas), "--out", str(out)]) == 0
