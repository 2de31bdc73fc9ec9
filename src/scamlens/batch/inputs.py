"""Finding the files to score: a path, a folder or a glob, all of one format (chosen by suffix)."""

from __future__ import annotations

import glob
from collections.abc import Sequence
from pathlib import Path

from ..data.reader import input_format
from ..runtime.errors import InputError, MissingError


def is_uri(path: str) -> bool:
    return "://" in path


def one_format(files: Sequence[str], pattern: str) -> str:
    formats = {input_format(f) for f in files}
    if len(formats) > 1:
        raise InputError(f"{pattern}: matches files of several formats ({', '.join(sorted(formats))}); "
                         "score one format at a time")
    return formats.pop()


def _data_files(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith((".", "_")) and not p.name.endswith(".crc"))


def resolve_inputs(pattern: str | Path) -> tuple[list[str], str]:
    """Local files for a path, folder or glob, in sorted order, and their common format."""
    pattern = str(pattern)
    if glob.has_magic(pattern):
        matches = sorted(glob.glob(pattern))
    elif Path(pattern).is_dir():
        matches = _data_files(Path(pattern))
    elif Path(pattern).exists():
        matches = [pattern]
    else:
        raise MissingError(f"{pattern}: no such file")
    files = [m for m in matches if Path(m).is_file()]
    if not files:
        raise MissingError(f"{pattern}: no file matches")
    return files, one_format(files, pattern)
