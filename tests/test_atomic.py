"""Atomic writes: an interrupted write leaves the old file whole and no temporary file behind."""
from __future__ import annotations

import os

import pytest

from neurarust import atomic


def test_write_replaces_the_whole_file(tmp_path):
    path = tmp_path / "table.md"
    atomic.write_text(path, "old contents, longer than the new\n")
    atomic.write_text(path, "new\n")
    assert path.read_text() == "new\n"


def test_failure_mid_write_keeps_the_old_file_and_cleans_up(tmp_path, monkeypatch):
    path = tmp_path / "cache.json"
    atomic.write_text(path, "old")

    def fail(fd):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "fsync", fail)
    with pytest.raises(OSError, match="disk full"):
        atomic.write_bytes(path, b"half of something new")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["cache.json"]


def test_creates_missing_folders(tmp_path):
    path = tmp_path / "a" / "b" / "out.txt"
    atomic.write_text(path, "x")
    assert path.read_text() == "x"


def test_new_files_get_the_umask_mode_not_0600(tmp_path):
    mask = os.umask(0o022)
    try:
        os.umask(mask)
        path = tmp_path / "report.md"
        atomic.write_text(path, "x")
        assert os.stat(path).st_mode & 0o777 == 0o666 & ~atomic._read_umask()
    finally:
        os.umask(mask)


def test_existing_files_keep_their_mode(tmp_path):
    path = tmp_path / "script.sh"
    path.write_text("old")
    os.chmod(path, 0o751)
    atomic.write_text(path, "new")
    assert os.stat(path).st_mode & 0o777 == 0o751 and path.read_text() == "new"
