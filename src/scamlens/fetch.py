"""Fetching registered models: one local copy per model version, reused by every later load.

A registry version's files never change, so ``models:/name/3`` is downloaded once into the cache and
later loads of it (a service restarting, ``promote --best-of`` scoring the incumbent again) read that
copy instead of leaving another ~90 MB folder in the temporary directory each time. An alias is
resolved to its version first, so moving ``champion`` fetches the new version rather than serving a
stale copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from .runtime.atomic import atomic_dir
from .tracking import TrackingError, _use_store, alias_version, latest_version, resolve_uri

CACHE_ENV = "SCAMLENS_CACHE"
RECORD_FILE = ".scamlens-fetch.json"  # what the copy is, and where the model folder sits inside it
_MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>[^/]+))(?P<rest>/.*)?$")


def cache_root() -> Path:
    """Where fetched models live: ``$SCAMLENS_CACHE/models``, else ``~/.cache/scamlens/models``."""
    base = os.environ.get(CACHE_ENV) or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "scamlens"
    return Path(base) / "models"


def pin_version(uri: str, tracking_uri: str) -> str:
    """`uri` with an alias or ``latest`` replaced by the version number it points at now.

    ``runs:/`` URIs and numbered versions are already fixed and come back unchanged. Stage names
    (deprecated in MLflow 3) are refused: a stage can move like an alias but cannot be pinned here.
    """
    found = _MODELS_URI.match(uri)
    if not found:
        return uri
    name, alias, version, rest = found["name"], found["alias"], found["version"], found["rest"] or ""
    if alias is not None:
        pinned = alias_version(name, alias, tracking_uri)
        if pinned is None:
            raise TrackingError(f"cannot fetch {uri}: {name!r} has no version with alias {alias!r} in {tracking_uri}")
        version = pinned
    elif version == "latest":
        version = latest_version(name, tracking_uri)
    elif not version.isdigit():
        raise TrackingError(f"cannot fetch {uri}: name a version number or an alias "
                            f"(models:/{name}/3 or models:/{name}@champion), not a stage")
    return f"models:/{name}/{version}{rest}"


def download_model(uri: str, tracking_uri: str | None = None) -> Path:
    """The local folder of a registered or logged model, downloaded on first use and cached after."""
    import mlflow

    store = tracking_uri or resolve_uri()
    _use_store(store)
    pinned = pin_version(uri, store)
    target = cache_root() / hashlib.sha256(f"{store}\n{pinned}".encode()).hexdigest()[:24]
    if (target / RECORD_FILE).exists():
        return target / json.loads((target / RECORD_FILE).read_text())["folder"]
    with atomic_dir(target, keep_existing=True) as staging:  # whole or not at all; a lost race keeps the winner's
        try:
            folder = Path(mlflow.artifacts.download_artifacts(artifact_uri=pinned, dst_path=str(staging)))
        except Exception as exc:
            raise TrackingError(f"cannot fetch {uri} from {store}: {str(exc).splitlines()[0][:300]}") from None
        inside = folder.relative_to(staging).as_posix()
        (staging / RECORD_FILE).write_text(json.dumps({"uri": pinned, "store": store, "folder": inside}, indent=1))
    return target / inside
