"""Stored files (photos, voice): written once per content, never half, no temporary left over."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from app.services import stored_files


def test_the_same_content_written_at_once_by_many_leaves_one_whole_file(tmp_path):
    path = tmp_path / "ab" / "abcdef"
    content = b"x" * 200_000
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: stored_files.write_once(path, content), range(16)))
    assert path.read_bytes() == content
    assert [p.name for p in path.parent.iterdir()] == ["abcdef"]


def test_a_write_that_fails_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "cd" / "cdef"

    def refuse(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(stored_files.os, "replace", refuse)
    with pytest.raises(OSError):
        stored_files.write_once(path, b"data")
    assert list(path.parent.iterdir()) == []
