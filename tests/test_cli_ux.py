"""The CLI speaks to a person: help on every option, exit codes in --help, the mock's export line,
a missing schema store explained, expected failures as one line (never a traceback), and
``generate MODEL_ID`` keeping the whole package's manifest so ``check`` agrees."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runcomfy_codegen import cli
from runcomfy_codegen._errors import CodegenError
from tests.conftest import ROOT, SEED_ID

CLI = [sys.executable, "-m", "runcomfy_codegen"]
DEADLINE = 120


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNCOMFY_")}
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=DEADLINE, check=False
    )


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    [action] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_every_option_has_help(name: str) -> None:
    parser = subcommands()[name]
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help, f"{name}: {'/'.join(action.option_strings) or action.dest} has no help text"


def test_exit_codes_are_in_help() -> None:
    for args in (["--help"], ["run", "--help"], ["wait", "--help"]):
        result = run(*args)
        assert result.returncode == 0
        for line in ("0 ", "done", "3 ", "RUNCOMFY_API_TOKEN", "5 ", "--timeout", "130"):
            assert line in result.stdout, (args, line)


def test_mock_server_prints_its_url_then_a_copy_pasteable_export_line() -> None:
    process = subprocess.Popen(
        [*CLI, "mock-server", "--token", "s3cret token"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().rstrip("\n")
        export = process.stdout.readline().rstrip("\n")
    finally:
        process.terminate()
        process.wait(timeout=DEADLINE)
    assert url.startswith("http://127.0.0.1:") and " " not in url
    assert export.startswith("export ")
    shown = subprocess.run(
        ["bash", "-c", f'{export}; printf "%s|%s" "$RUNCOMFY_BASE_URL" "$RUNCOMFY_API_TOKEN"'],
        capture_output=True, text=True, timeout=DEADLINE, check=True,
    )  # fmt: skip
    assert shown.stdout == f"{url}|s3cret token"


@pytest.mark.parametrize("command", [["list"], ["generate"], ["check"], ["openapi"]])
def test_a_missing_schema_store_says_where_it_looked(command: list[str], tmp_path: Path) -> None:
    result = run(*command, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "'schemas'" in result.stderr and str(tmp_path) in result.stderr
    assert "--schemas DIR" in result.stderr and "project folder" in result.stderr
    assert result.stderr.count("\n") == 1


def test_generate_one_model_keeps_the_whole_manifest_and_check_agrees(tmp_path: Path) -> None:
    store = tmp_path / "schemas"
    shutil.copytree(ROOT / "schemas", store)
    other = store / "acme" / "other"
    shutil.copytree(store / SEED_ID, other)
    out = tmp_path / "out"
    assert run("generate", "--schemas", str(store), "--out", str(out)).returncode == 0
    manifest = (out / "runcomfy_models" / "catalog" / "_manifest.json").read_text(encoding="utf-8")
    one = run("generate", "acme/other", "--schemas", str(store), "--out", str(out))
    assert one.returncode == 0, one.stderr
    assert "0 changed" in one.stdout
    assert (out / "runcomfy_models" / "catalog" / "_manifest.json").read_text(encoding="utf-8") == manifest
    check = run("check", "--schemas", str(store), "--out", str(out))
    assert check.returncode == 0, check.stdout
    assert "manifest hashes" in check.stdout  # agreed without rendering


def test_generate_one_changed_model_then_check_is_clean(tmp_path: Path) -> None:
    store = tmp_path / "schemas"
    shutil.copytree(ROOT / "schemas", store)
    shutil.copytree(store / SEED_ID, store / "acme" / "other")
    out = tmp_path / "out"
    assert run("generate", "--schemas", str(store), "--out", str(out)).returncode == 0
    schema = store / "acme" / "other" / "input.json"
    schema.write_text(
        schema.read_text(encoding="utf-8").replace('"Prompt"', '"The prompt"'), encoding="utf-8"
    )
    assert run("check", "--schemas", str(store), "--out", str(out)).returncode == 1
    assert run("generate", "acme/other", "--schemas", str(store), "--out", str(out)).returncode == 0
    check = run("check", "--schemas", str(store), "--out", str(out))
    assert check.returncode == 0 and "manifest hashes" in check.stdout, check.stdout


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (OSError(13, "Permission denied", "/some/file.json"), "/some/file.json: Permission denied"),
        (RecursionError("maximum recursion depth exceeded"), "nested too deeply"),
        (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), "invalid start byte"),
        (
            CodegenError("schemas/x/input.json#/properties: a reason"),
            "schemas/x/input.json#/properties: a reason",
        ),
    ],
)
def test_expected_failures_are_one_line_and_exit_2(
    error: Exception, shown: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail(args: argparse.Namespace) -> int:
        raise error

    monkeypatch.setattr(cli, "cmd_list", fail)
    assert cli.main(["list"]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {shown}\n" or (shown in err and err.count("\n") == 1)


def test_a_bug_is_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(args: argparse.Namespace) -> int:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(cli, "cmd_list", fail)
    with pytest.raises(ZeroDivisionError):
        cli.main(["list"])


def test_real_expected_failures_show_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "schemas" / "acme" / "bad").mkdir(parents=True)
    (tmp_path / "schemas" / "acme" / "bad" / "input.json").write_bytes(b"\xff\xfe{")
    deep = tmp_path / "schemas" / "acme" / "deep"
    deep.mkdir()
    (deep / "input.json").write_text('{"type": "object", "x": ' + "[" * 50_000 + "]" * 50_000 + "}")
    out_file = tmp_path / "a-file"
    out_file.write_text("")
    for args in (
        ["generate", "--out", str(tmp_path / "o")],
        ["generate", "--keep-going", "--out", str(out_file)],
        ["check"],
        ["import", str(tmp_path / "nothing-here.txt")],
        ["diff", str(tmp_path / "nope1"), str(tmp_path / "nope2")],
    ):
        result = run(*args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr, (args, result.stderr)
