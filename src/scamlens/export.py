"""Exporting a model folder as a pip-installable package with a tiny `predict()` API.

The wheel holds the model files (with their sha256 manifest), the model card as its README, a copy
of the `scamlens.runtime` subpackage, whole, as `<name>/_runtime/` (it imports nothing from the rest
of scamlens, so installing the wheel never pulls scamlens's training dependencies) and an
`__init__.py` of a few lines. It is built by hatchling through the standard PEP 517 interface. Its
dependencies are what the model's kind declares: numpy and sentencex for the baseline; torch,
transformers and safetensors as well for a transformer; for an ensemble, the union of its members'.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from . import load
from .kinds import folder_requirements
from .runtime.errors import InputError
from .runtime.folder import CARD_FILE, META_FILE

RUNTIME_DIR = Path(__file__).resolve().parent / "runtime"
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")

INIT_TEMPLATE = '''\
"""{name} {version}: a scamlens {kind} classifier for {labels}. See README.md for the model card."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ._runtime import Model, Prediction, load as _load

__version__ = "{version}"
LABELS = {label_tuple!r}
MODEL_DIR = Path(__file__).with_name("model")


@lru_cache(maxsize=None)
def _loaded(device: str) -> Model:
    return _load(MODEL_DIR, device=device)


def load(device: str = "cpu", operating_point: str | None = None) -> Model:
    """The packaged model, loaded once per device (its files are checked against their sha256
    manifest). `operating_point`: one of the model's named sets of thresholds instead of the default
    ones, on the same loaded classifier; `load().operating_points()` lists them."""
    return _loaded(device).at(operating_point)


def predict(texts, evidence: bool = True, operating_point: str | None = None) -> Prediction | list[Prediction]:
    """Labels, per-label scores and evidence for a string or a list of strings, on the CPU."""
    return load(operating_point=operating_point).predict(texts, evidence=evidence)
'''

PYPROJECT_TEMPLATE = """\
[build-system]
requires = ["hatchling>=1.25"]
build-backend = "hatchling.build"

[project]
name = "{distribution}"
version = "{version}"
description = "scamlens {kind} classifier: {labels}"
readme = "README.md"
requires-python = ">=3.11"
dependencies = {dependencies}

[tool.hatch.build.targets.wheel]
packages = ["src/{name}"]
"""


@dataclass
class ExportResult:
    wheel: Path
    name: str
    version: str
    kind: str
    dependencies: list[str]


def pinned(requirement: str) -> str:
    """`torch` -> `torch==2.13.0` when installed here, so the package runs with what was tested."""
    try:
        version = metadata.version(requirement)
    except metadata.PackageNotFoundError:
        return requirement
    base = version.split("+")[0]  # 2.13.0+cpu -> 2.13.0: the local tag is not on indexes
    major_minor = ".".join(base.split(".")[:2])
    return f"{requirement}=={base}" if requirement == "torch" else f"{requirement}>={major_minor}"


def stage_package(model_folder: Path, name: str, version: str, staging: Path) -> tuple[str, list[str]]:
    """Lay out the project to build in `staging`; returns (kind, dependencies)."""
    meta = json.loads((model_folder / META_FILE).read_text(encoding="utf-8"))
    kind = meta["kind"]
    package = staging / "src" / name
    shutil.copytree(model_folder, package / "model")
    shutil.copytree(RUNTIME_DIR, package / "_runtime", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    labels = ", ".join(meta["labels"])
    (package / "__init__.py").write_text(INIT_TEMPLATE.format(
        name=name, version=version, kind=kind, labels=labels, label_tuple=tuple(meta["labels"])))
    shutil.copy2(model_folder / CARD_FILE, staging / "README.md")
    dependencies = [pinned(d) for d in folder_requirements(model_folder)]
    (staging / "pyproject.toml").write_text(PYPROJECT_TEMPLATE.format(
        distribution=name.replace("_", "-"), name=name, version=version, kind=kind, labels=labels,
        dependencies=json.dumps(dependencies)))
    return kind, dependencies


def export_model(source: str | Path, name: str, version: str, out: str | Path = "models") -> ExportResult:
    """Build a wheel of the model at `source` (a folder or a models:/ URI) into `out`.

    Args:
        source: a model folder or an MLflow registry URI.
        name: the import name of the package (a valid Python identifier, e.g. "scam_themes").
        version: the package version, e.g. "1.0.0".
        out: where the wheel is written.
    """
    from build import ProjectBuilder

    if not _NAME.match(name):
        raise InputError(f"package name {name!r} must be a lowercase Python identifier, e.g. scam_themes")
    model = load(source)  # verifies the manifest: a damaged model is never exported
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{name}-build-") as tmp:
        staging = Path(tmp)
        kind, dependencies = stage_package(model.path, name, version, staging)
        # ProjectBuilder runs hatchling from this environment (no isolated env), so it works offline.
        wheel = ProjectBuilder(staging).build("wheel", str(out))
    return ExportResult(Path(wheel), name, version, kind, dependencies)
