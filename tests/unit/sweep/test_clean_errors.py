"""Errors of the machine and of bad inputs: one message naming the file or key and the fix."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pytest

from agents.tasks import generate_tasks
from agents.tasks.files import TaskFileError, load_tasks, write_tasks
from sweep.cli import main
from sweep.errors import UserError, os_error_message
from sweep.results import store as store_module


def test_a_full_disk_says_what_is_intact_and_how_to_resume() -> None:
    e = OSError(errno.ENOSPC, "No space left on device", "/var/r/runs/part-1.parquet.tmp")
    assert os_error_message(e) == (
        "no space left on device (/var/r/runs/part-1.parquet.tmp); everything committed before is "
        "intact: free space (or choose another results_dir=PATH) and run the same command to "
        "resume"
    )
    # pyarrow's own OSError carries the text, not the errno
    assert os_error_message(OSError("[Errno 28] No space left on device")).startswith(
        "no space left on device; everything committed"
    )


def test_a_read_only_mount_names_the_path() -> None:
    e = OSError(errno.EROFS, "Read-only file system", "/var/ro/r")
    assert os_error_message(e) == (
        "cannot write (/var/ro/r): Read-only file system; choose a writable results_dir=PATH"
    )


def test_results_dir_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "results"
    target.write_text("not a directory")
    assert main(["launch", f"results_dir={target}", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"orgsweep: error: cannot write to results directory {target}: it is a file, not a "
        "directory; choose another with results_dir=PATH\n"
    )
    assert target.read_text() == "not a directory"


def test_results_dir_on_a_read_only_mount(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def read_only(src: str, dst: str, *a: object, **k: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system", dst)

    monkeypatch.setattr(os, "link", read_only)  # how the lease is put in place
    assert main(["launch", f"results_dir={tmp_path / 'r'}", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"orgsweep: error: cannot write to results directory {tmp_path / 'r'}: Read-only file "
        "system; choose another with results_dir=PATH\n"
    )


def test_a_task_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "tasks.jsonl"
    write_tasks(generate_tasks(0, "L1", 2), path)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(lines[0] + b'{"title": "caf\xe9"}\n')
    with pytest.raises(TaskFileError) as e:
        load_tasks(path)
    assert str(e.value) == (
        f"{path} line 2: not UTF-8 text (byte 0xe9 at column 15); save the file as UTF-8"
    )


def test_a_filesystem_that_refuses_shows_its_own_message(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(uri: str) -> object:
        raise OSError("When resolving region for bucket 'b': AWS Error NETWORK_CONNECTION")

    monkeypatch.setattr(
        store_module, "pafs", SimpleNamespace(FileSystem=SimpleNamespace(from_uri=refuse))
    )
    with pytest.raises(UserError) as e:
        store_module.resolve("s3://b/results")
    assert str(e.value) == (
        "cannot open results directory 's3://b/results': When resolving region for bucket 'b': "
        "AWS Error NETWORK_CONNECTION"
    )

    def unknown(uri: str) -> object:
        raise pa.ArrowInvalid("Unrecognized filesystem type in URI: zz://b/results")

    monkeypatch.setattr(
        store_module, "pafs", SimpleNamespace(FileSystem=SimpleNamespace(from_uri=unknown))
    )
    with pytest.raises(UserError) as e:
        store_module.resolve("zz://b/results")
    assert "Unrecognized filesystem type in URI: zz://b/results" in str(e.value)
    assert "\n" not in str(e.value)
