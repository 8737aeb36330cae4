"""Small CLI promises from the QA review: ``list`` says which ids ``generate`` refuses, ``import``
fetches only http(s) and takes only doc pages and schemas from a folder, ``mock-server`` refuses bad
options, and every command's ``--help`` states its exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from runcomfy_codegen.cli import main
from tests.conftest import DATA, SEED_ID

BAD_IDS = ["a/CON", "b/nul.txt", "c/trail."]


def make_store(root: Path, ids: list[str]) -> Path:
    for model_id in ids:
        folder = root / "schemas" / model_id
        folder.mkdir(parents=True)
        (folder / "input.json").write_text(json.dumps({"type": "object"}), encoding="utf-8")
        (folder / "output.json").write_text(json.dumps({"output": {"type": "object"}}), encoding="utf-8")
    return root / "schemas"


def test_list_reports_the_ids_generate_refuses(tmp_path: Path, capsys: Any) -> None:
    store = make_store(tmp_path, ["ok/model", *BAD_IDS])
    assert main(["list", "--schemas", str(store)]) == 2
    out, err = capsys.readouterr()
    assert out.splitlines() == ["ok/model"]
    lines = err.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("error: refused: model id") for line in lines)
    assert all(repr(bad) in line for bad, line in zip(BAD_IDS, lines, strict=True))
    assert main(["generate", "--schemas", str(store), "--out", str(tmp_path / "out")]) == 2
    capsys.readouterr()
    good = make_store(tmp_path / "good", ["ok/model", "ok/other"])
    assert main(["list", "--schemas", str(good)]) == 0
    assert capsys.readouterr() == ("ok/model\nok/other\n", "")


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "file:///etc/passwd", "ftp://user:secret@127.0.0.1/x"])
def test_import_refuses_urls_that_are_not_http(tmp_path: Path, capsys: Any, url: str) -> None:
    assert main(["import", url, "--schemas", str(tmp_path / "schemas")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "only http(s) URLs can be imported" in err[0]
    assert "secret" not in err[0]
    assert not (tmp_path / "schemas").exists()


def test_a_folder_source_takes_only_doc_pages_and_schemas(tmp_path: Path, capsys: Any) -> None:
    schemas = tmp_path / "schemas"
    assert main(["import", str(DATA / "seed"), "--schemas", str(schemas)]) == 0  # SOURCE.md left alone
    assert capsys.readouterr().out.count(SEED_ID) == 1
    assert main(["import", str(DATA / "seed") + "/", "--schemas", str(schemas), "--check"]) == 0
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "README.md").write_text("# saved pages\n", encoding="utf-8")
    (pages / "notes").write_text("not a page\n", encoding="utf-8")
    assert main(["import", str(pages), "--schemas", str(schemas)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no doc page or schema" in err[0] and ".txt" in err[0]
    shutil.copy(DATA / "seed" / "000_4927af58cff406c6.txt", pages / "page.HTML")  # any case
    assert main(["import", str(pages), "--schemas", str(schemas), "--check"]) == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--queue-seconds", "-1"], "--queue-seconds -1.0: must be a number of seconds >= 0"),
        (["--run-seconds", "nan"], "--run-seconds nan: must be a number of seconds >= 0"),
        (["--schemas", "/nonexistent/store"], "--schemas /nonexistent/store: does not exist"),
        (["--port", "70000"], "--port 70000: must be 0"),
    ],
)
def test_mock_server_refuses_bad_options(capsys: Any, argv: list[str], message: str) -> None:
    assert main(["mock-server", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and message in err


# From CONTRACT.md: each command's exit codes.
EXIT_CODES = {
    "import": ("0", "1", "2"),
    "generate": ("0", "2"),
    "check": ("0", "1", "2"),
    "list": ("0", "2"),
    "diff": ("0", "1", "2"),
    "openapi": ("0", "2"),
    "sync": ("0", "1", "2"),
    "mock-server": ("0", "2"),
    "run": ("0", "1", "2", "3", "4", "5", "130"),
    "batch": ("0", "1", "2", "3", "4", "130"),
}


@pytest.mark.parametrize("command", sorted(EXIT_CODES))
def test_every_command_help_states_its_exit_codes(capsys: Any, command: str) -> None:
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "exit codes:" in out
    listed = [
        line.split()[0] for line in out.split("exit codes:", 1)[1].splitlines() if line.startswith("  ")
    ]
    assert set(EXIT_CODES[command]) <= set(listed), listed
