"""``batch``: unusable output paths are refused before anything is sent, a results file that still
cannot be written at the end is a non-zero exit, and the ``--max-cost`` stop agrees with the summary."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from runcomfy_codegen.cli import main
from runcomfy_codegen.mock import MockServer
from tests.test_batch import POLL, batch, env, line, results, server, submits, write_input

__all__ = ["env", "server"]  # fixtures, used by name


def run(tmp_path: Path, journal: Path, results_path: Path, *extra: str) -> int:
    return main(
        ["batch", str(tmp_path / "in.jsonl"), "--journal", str(journal), "--results", str(results_path),
         "--poll-interval", POLL, "--no-media-check", *extra]
    )  # fmt: skip


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("results-is-a-folder", "--results .*: is a folder, not a file; nothing was sent"),
        ("results-under-a-file", "--results .*: .*in.jsonl exists and is not a folder; nothing was sent"),
        ("journal-is-a-folder", "--journal .*: is a folder, not a file; nothing was sent"),
        ("journal-folder-missing", "--journal .*: its folder .* does not exist; nothing was sent"),
        ("output-dir-is-a-file", "--output-dir .*: .* exists and is not a folder; nothing was sent"),
        ("results-is-the-journal", "--results .*: is the journal itself"),
        ("results-is-the-input", "--results .*in.jsonl: is the input file itself"),
    ],
)
def test_unusable_paths_exit_2_before_anything_is_sent(
    env: MockServer, tmp_path: Path, capsys: Any, case: str, expected: str
) -> None:
    write_input(tmp_path / "in.jsonl", [line("a"), line("b")])
    journal, out, extra = tmp_path / "j.sqlite", tmp_path / "out.jsonl", []
    if case == "results-is-a-folder":
        out.mkdir()
    elif case == "results-under-a-file":
        out = tmp_path / "in.jsonl" / "out.jsonl"
    elif case == "journal-is-a-folder":
        journal.mkdir()
    elif case == "journal-folder-missing":
        journal = tmp_path / "missing" / "j.sqlite"
    elif case == "output-dir-is-a-file":
        extra = ["--output-dir", str(tmp_path / "in.jsonl")]
    elif case == "results-is-the-journal":
        out = journal
    elif case == "results-is-the-input":
        out = tmp_path / "in.jsonl"
    assert run(tmp_path, journal, out, *extra) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(expected, err[0]), err
    assert submits(env) == 0
    assert not (tmp_path / "j.sqlite").is_file()


def test_a_missing_results_folder_is_created(env: MockServer, tmp_path: Path) -> None:
    write_input(tmp_path / "in.jsonl", [line("a")])
    out = tmp_path / "new" / "folder" / "out.jsonl"
    assert run(tmp_path, tmp_path / "j.sqlite", out) == 0
    assert out.read_text(encoding="utf-8").count("\n") == 1


def test_results_that_cannot_be_written_at_the_end_exit_1(
    env: MockServer, tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import runcomfy_models._batch

    def refuse(journal: Any, path: Any) -> None:
        raise OSError(28, "No space left on device")

    write_input(tmp_path / "in.jsonl", [line("a"), line("b")])
    monkeypatch.setattr(runcomfy_models._batch, "write_results", refuse)
    assert batch(tmp_path) == 1  # every row succeeded, but the results file is missing
    err = capsys.readouterr().err
    assert "--results" in err and "not written: [Errno 28] No space left on device" in err
    assert "run the same command again" in err and "results in (not written)" in err
    monkeypatch.undo()
    monkeypatch.setenv("RUNCOMFY_BASE_URL", env.base_url)
    monkeypatch.setenv("RUNCOMFY_API_TOKEN", "mock-token")
    assert batch(tmp_path) == 0  # the same command again writes them, sending nothing
    assert submits(env) == 2
    assert [r["status"] for r in results(tmp_path)] == ["succeeded"] * 2


def test_the_max_cost_stop_and_the_summary_count_the_same_pending_rows(
    env: MockServer, tmp_path: Path, capsys: Any
) -> None:
    write_input(tmp_path / "in.jsonl", [line(f"r{i}") for i in range(12)])
    assert batch(tmp_path, "--max-cost", "0.12", "--concurrency", "8") == 1
    err = capsys.readouterr().err
    stop = re.search(r"stopped submitting: --max-cost .*; (\d+) row\(s\) left pending for a later run", err)
    summary = re.search(r"(\d+) pending, (\d+) in flight", err)
    assert stop and summary, err
    assert stop.group(1) == summary.group(1) and summary.group(2) == "0"
    assert int(stop.group(1)) == 12 - submits(env)
