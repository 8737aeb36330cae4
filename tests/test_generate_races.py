"""Concurrent and killed ``generate`` runs: one run at a time per output folder, nothing left behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from runcomfy_codegen import pipeline
from runcomfy_codegen._errors import OutputError
from runcomfy_codegen.lock import lock_path, output_lock
from runcomfy_codegen.write import remove_stale_temps
from tests.conftest import ROOT

CLI = [sys.executable, "-m", "runcomfy_codegen"]
NO_HANG = 60.0


@pytest.fixture
def store(tmp_path: Path) -> Path:
    target = tmp_path / "schemas"
    shutil.copytree(ROOT / "schemas", target)
    return target


def test_a_second_generate_on_a_locked_folder_stops_with_exit_2(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with output_lock(out, pipeline.PACKAGE):
        result = subprocess.run(
            [*CLI, "generate", "--schemas", str(store), "--out", str(out)],
            capture_output=True,
            text=True,
            timeout=NO_HANG,
        )
    assert result.returncode == 2, result.stderr
    assert "another runcomfy-codegen generate is writing it" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (out / pipeline.PACKAGE).exists()
    assert lock_path(out, pipeline.PACKAGE).parent == out  # beside the package, never inside
    assert not lock_path(out, pipeline.PACKAGE).exists()  # removed on release


def test_the_lock_is_released_when_its_holder_is_killed(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from runcomfy_codegen.lock import output_lock\n"
            f"with output_lock(Path({str(out)!r}), 'runcomfy_models'):\n"
            "    print('locked', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(OutputError, match="another runcomfy-codegen generate"):
            pipeline.generate(store, out)
    finally:
        holder.kill()
        holder.wait(10)
    result = pipeline.generate(store, out)  # the OS dropped the lock with its process
    assert not result.errors and (out / pipeline.PACKAGE / "__init__.py").exists()


def test_two_generate_runs_at_once_never_mix(store: Path, tmp_path: Path) -> None:
    """Two stores that differ, generated into one folder at once: one run wins whole, the other
    exits 2 (or runs after it); the package always matches one store exactly."""
    other = tmp_path / "other"
    shutil.copytree(store, other)
    seed = next(other.rglob("input.json")).parent
    shutil.rmtree(seed)  # the other store lacks a model
    out = tmp_path / "out"
    for _ in range(3):
        runs = [
            subprocess.Popen(
                [*CLI, "generate", "--schemas", str(s), "--out", str(out)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for s in (store, other)
        ]
        codes = []
        for run in runs:
            _, err = run.communicate(timeout=NO_HANG)
            codes.append(run.returncode)
            assert run.returncode in (0, 2), err
            assert "Traceback" not in err
        assert 0 in codes
        check = [
            subprocess.run(
                [*CLI, "check", "--schemas", str(s), "--out", str(out)], capture_output=True, timeout=NO_HANG
            )
            for s in (store, other)
        ]
        assert sorted(c.returncode for c in check) == [0, 1], [c.stdout for c in check]


def test_a_killed_runs_temp_files_are_removed_by_the_next_run(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    pipeline.generate(store, out)
    package = out / pipeline.PACKAGE
    stale = [package / ".__init__.py.99999.tmp", package / "catalog" / ".x.py.12345.tmp"]
    for path in stale:
        path.write_text("half")
    staging = out / f".{pipeline.PACKAGE}.4242.tmp"
    (staging / "catalog").mkdir(parents=True)
    keep = package / ".user-notes.tmp"  # not a temp file of ours: no pid in its name
    keep.write_text("mine")
    assert sorted(remove_stale_temps(package)) == sorted([staging, *stale])
    assert keep.exists()
    for path in stale:
        path.write_text("half")
    pipeline.generate(store, out)
    assert not any(p.exists() for p in stale)
    assert not keep.exists()  # but a file generate does not write: drift, removed by generate
    assert remove_stale_temps(package) == []


@pytest.mark.skipif(sys.platform == "win32", reason="fork-based workers are POSIX only")
def test_a_killed_generate_leaves_no_worker_behind(tmp_path: Path) -> None:
    """The pool workers of a parallel build end when their parent is killed with SIGKILL."""
    script = textwrap.dedent(
        """
        import multiprocessing, os, sys, time
        from concurrent.futures import ProcessPoolExecutor
        from runcomfy_codegen.lock import exit_with_parent
        pool = ProcessPoolExecutor(
            max_workers=2, mp_context=multiprocessing.get_context("fork"),
            initializer=exit_with_parent, initargs=(os.getpid(), 0.1),
        )
        print(pool.submit(os.getpid).result(), flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    workers = [int(p) for p in parent.stdout.readline().split()]
    assert workers
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(10)
    deadline = time.monotonic() + NO_HANG
    alive = workers
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in workers if _alive(pid)]
        time.sleep(0.1)
    assert not alive, f"orphaned workers: {alive}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by init) counts as gone
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True
