"""The self-describing model folder and its integrity manifest.

    model-best/
      classifier.json   kind, labels, chunking and weight settings (written by the classifier)
      <weights>         safetensors / JSON / .npz arrays, never pickle
      meta.json         labels, thresholds, metrics, versions, corpus fingerprint, MLflow run id
      config.yaml       the resolved run config
      README.md         the generated model card
      manifest.json     sha256 and size of every other file

Loading checks the manifest first, so a tampered or truncated file is refused with its name.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from .errors import InputError, IntegrityError, MissingError

META_FILE = "meta.json"
CONFIG_FILE = "config.yaml"
CARD_FILE = "README.md"
MANIFEST_FILE = "manifest.json"
BEST_DIR = "model-best"
LAST_DIR = "model-last"


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST_FILE)


def write_manifest(folder: str | Path) -> dict[str, Any]:
    folder = Path(folder)
    entries = {p.relative_to(folder).as_posix(): {"sha256": _digest(p), "bytes": p.stat().st_size}
               for p in _files(folder)}
    manifest = {"algorithm": "sha256", "files": entries}
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def verify_manifest(folder: str | Path) -> None:
    """Raise `IntegrityError` naming the first file that does not match the manifest."""
    folder = Path(folder)
    path = folder / MANIFEST_FILE
    try:
        manifest = json.loads(path.read_text())
        entries = manifest["files"]
    except FileNotFoundError:
        raise IntegrityError(f"{folder}: {MANIFEST_FILE} is missing; refusing to load an unverified model") from None
    except (json.JSONDecodeError, KeyError, TypeError):
        raise IntegrityError(f"{path}: unreadable manifest") from None
    for name, expected in sorted(entries.items()):
        file = folder / name
        if not file.is_file():
            raise IntegrityError(f"{file}: listed in the manifest but missing")
        size = file.stat().st_size
        if size != expected["bytes"]:
            raise IntegrityError(f"{file}: size {size} bytes, manifest says {expected['bytes']} (truncated or replaced)")
        if _digest(file) != expected["sha256"]:
            raise IntegrityError(f"{file}: sha256 does not match the manifest (the file was modified)")
    extra = [p.relative_to(folder).as_posix() for p in _files(folder)
             if p.relative_to(folder).as_posix() not in entries]
    if extra:
        raise IntegrityError(f"{folder / extra[0]}: not listed in the manifest (unexpected file)")


def read_meta(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / META_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MissingError(f"{folder}: not a scamlens model folder ({META_FILE} missing)") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc.msg})") from None


def find_model_folder(root: str | Path) -> Path:
    """The model folder at `root`, or the single one below it (an MLflow artifact tree)."""
    root = Path(root)
    if not root.is_dir():
        raise MissingError(f"{root}: no such model folder")
    if (root / META_FILE).exists():
        return root
    found = sorted(p.parent for p in root.rglob(META_FILE) if (p.parent / "classifier.json").exists())
    # An ensemble's folder holds its members' folders: only the outermost model folders count.
    candidates = [c for c in found if not any(other in c.parents for other in found)]
    if not candidates:
        raise MissingError(f"{root}: not a scamlens model folder ({META_FILE} missing)")
    if len(candidates) > 1:
        raise MissingError(f"{root}: holds {len(candidates)} model folders; name one of them")
    return candidates[0]
