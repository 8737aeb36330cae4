"""``runcomfy-codegen import``: doc pages and plain schema files into the store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runcomfy_codegen.cli import main
from tests.conftest import ROOT, SEED_ID, SEED_PAGE


def test_seed_page_imports_to_the_committed_files(tmp_path: Path) -> None:
    store = tmp_path / "schemas"
    assert main(["import", str(SEED_PAGE), "--schemas", str(store)]) == 0
    for name in ("input.json", "output.json"):
        written = (store / SEED_ID / name).read_bytes()
        assert written == (ROOT / "schemas" / SEED_ID / name).read_bytes()
        assert written.endswith(b"}\n")
    schema = json.loads((store / SEED_ID / "input.json").read_text(encoding="utf-8"))
    assert list(schema["properties"]) == [
        "prompt", "first_frame_image_url", "resolution", "ratio", "duration", "generate_audio", "camera_fixed"
    ]  # fmt: skip
    assert (
        schema["properties"]["first_frame_image_url"]["validations"][0]["validation_rule"] == "width_pixels<"
    )
    assert "é" in (store / SEED_ID / "input.json").read_text(encoding="utf-8")  # UTF-8, not \\u escapes


def test_reimport_is_a_no_op_that_keeps_mtimes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "schemas"
    main(["import", str(SEED_PAGE), "--schemas", str(store)])
    before = (store / SEED_ID / "input.json").stat().st_mtime_ns
    assert main(["import", str(SEED_PAGE), "--schemas", str(store)]) == 0
    assert (store / SEED_ID / "input.json").stat().st_mtime_ns == before
    assert "unchanged" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("page", "message"),
    [
        ("no marker here", "neither a RunComfy doc page nor a JSON schema"),
        (
            '--url https://x/v1/models/a/b modelApiDoc_hostedFileBody {"type": ',
            "input schema is not valid JSON",
        ),
        ("modelApiDoc_hostedFileBody {}", "no submit URL"),
        ('--url https://x/v1/models/a/b modelApiDoc_hostedFileBody {} {"x": 1}', 'not an {"output"'),
        ('--url https://x/v1/models/a/../b modelApiDoc_hostedFileBody {} {"output": {}}', "'..'"),
        (
            '--url https://x/v1/models/a/b --url https://x/v1/models/a/c modelApiDoc_hostedFileBody {} {"output": {}}',
            "disagree",
        ),
    ],
)
def test_bad_sources_exit_2_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], page: str, message: str
) -> None:
    source = tmp_path / "page.txt"
    source.write_text(page, encoding="utf-8")
    store = tmp_path / "schemas"
    assert main(["import", str(source), "--schemas", str(store)]) == 2
    assert message in capsys.readouterr().err
    assert not store.exists()


def test_unreadable_source_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", str(tmp_path / "missing.txt"), "--schemas", str(tmp_path / "s")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_plain_schema_file_needs_model_id_and_gets_the_common_output(tmp_path: Path) -> None:
    source = tmp_path / "schema.json"
    source.write_text(
        json.dumps({"type": "object", "properties": {"prompt": {"type": "string"}}}), encoding="utf-8"
    )
    store = tmp_path / "schemas"
    assert main(["import", str(source), "--schemas", str(store)]) == 2
    assert (
        main(["import", str(source), "--schemas", str(store), "--model-id", "minimax/Hailuo Video 01 Live"])
        == 0
    )
    output = json.loads((store / "minimax/Hailuo Video 01 Live/output.json").read_text(encoding="utf-8"))
    assert set(output["output"]["properties"]) == {"image", "video", "images", "videos"}


def test_required_names_missing_from_properties_are_dropped_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "schema.json"
    source.write_text(
        json.dumps(
            {"type": "object", "required": ["prompt", "ghost"], "properties": {"prompt": {"type": "string"}}}
        ),
        encoding="utf-8",
    )
    store = tmp_path / "schemas"
    assert main(["import", str(source), "--schemas", str(store), "--model-id", "a/b"]) == 0
    assert json.loads((store / "a/b/input.json").read_text(encoding="utf-8"))["required"] == ["prompt"]
    assert "'ghost'" in capsys.readouterr().err


def test_batch_import_of_a_folder_reports_each_source_and_check_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pages = tmp_path / "pages"
    pages.mkdir()
    page = SEED_PAGE.read_text(encoding="utf-8")
    (pages / "seed.txt").write_text(page, encoding="utf-8")
    (pages / "other.txt").write_text(page.replace(SEED_ID, "acme/other-model"), encoding="utf-8")
    store = tmp_path / "schemas"
    assert main(["import", str(pages), "--schemas", str(store), "--check"]) == 1
    out = capsys.readouterr().out
    assert "acme/other-model: would add" in out and f"{SEED_ID}: would add" in out
    assert not store.exists()
    assert main(["import", str(pages), "--schemas", str(store)]) == 0
    assert "acme/other-model: added" in capsys.readouterr().out
    assert main(["import", str(pages), "--schemas", str(store), "--check"]) == 0
    assert "unchanged" in capsys.readouterr().out
    (pages / "other.txt").write_text(
        page.replace(SEED_ID, "acme/other-model").replace('"720p",', ""), encoding="utf-8"
    )
    assert main(["import", str(pages), "--schemas", str(store), "--check"]) == 1
    assert "acme/other-model: would change (input.json)" in capsys.readouterr().out


def test_a_url_quoted_inside_a_schema_does_not_name_the_model(tmp_path: Path) -> None:
    page = SEED_PAGE.read_text(encoding="utf-8").replace(
        '"Définit si la caméra reste fixe dans la vidéo."',
        '"See https://model-api.runcomfy.net/v1/models/other/model for details"',
    )
    source = tmp_path / "page.txt"
    source.write_text(page, encoding="utf-8")
    store = tmp_path / "schemas"
    assert main(["import", str(source), "--schemas", str(store)]) == 0
    assert "other/model" in (store / SEED_ID / "input.json").read_text(encoding="utf-8")
