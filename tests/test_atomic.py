"""Folders written atomically: replaced whole, kept whole on error, and first-writer-wins for caches."""

from __future__ import annotations

from pathlib import Path

import pytest

from scamlens.runtime.atomic import atomic_dir


def _write(target: Path, text: str, **kwargs) -> None:
    with atomic_dir(target, **kwargs) as staging:
        (staging / "file.txt").write_text(text)


def test_a_new_folder_replaces_the_old_one_and_an_error_keeps_the_old_one(tmp_path: Path) -> None:
    target = tmp_path / "model"
    _write(target, "first")
    _write(target, "second")
    with pytest.raises(RuntimeError, match="half-written"), atomic_dir(target) as staging:
        (staging / "file.txt").write_text("third")
        raise RuntimeError("half-written")
    assert (target / "file.txt").read_text() == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no staging folder left


def test_keep_existing_keeps_the_first_writers_copy_and_drops_the_second(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "entry"
    _write(target, "first", keep_existing=True)
    _write(target, "second", keep_existing=True)
    assert (target / "file.txt").read_text() == "first"
    assert sorted(p.name for p in target.parent.iterdir()) == ["entry"]
    assert oct(target.stat().st_mode & 0o777) == oct(0o755)
