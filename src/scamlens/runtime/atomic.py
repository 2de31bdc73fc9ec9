"""Writing folders atomically: build in a hidden sibling, then swap it into place.

A crash while saving leaves the previous model or dataset intact, never a half-written one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def replace_dir(new: Path, target: Path) -> None:
    """Swap `new` into place at `target`, removing the previous folder only after the swap."""
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.replace(target, old / target.name)
        os.replace(new, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(new, target)


@contextmanager
def atomic_dir(target: str | Path, keep_existing: bool = False) -> Iterator[Path]:
    """Yield a staging folder; on success it replaces `target`, on error it is removed.

    With `keep_existing`, a `target` already in place is kept and the staging folder dropped: for
    caches whose entries never change once written, where a concurrent writer of the same entry may
    finish first and a reader of its copy must not see that copy swapped out from under it.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    os.chmod(staging, 0o755)  # mkdtemp makes it private; a model folder is meant to be shared
    try:
        yield staging
        if keep_existing:
            _place_once(staging, target)
        else:
            replace_dir(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _place_once(staging: Path, target: Path) -> None:
    """Move `staging` to `target` unless another writer's `target` is there; then drop `staging`."""
    try:
        os.replace(staging, target)  # refuses a non-empty target, so a finished copy is never swapped out
    except OSError:
        if not target.exists():
            raise
        shutil.rmtree(staging, ignore_errors=True)
