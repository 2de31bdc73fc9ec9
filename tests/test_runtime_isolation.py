"""The runtime subpackage is what a wheel ships: it must work with the rest of scamlens absent."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

RUNTIME = Path(__file__).resolve().parents[1] / "src" / "scamlens" / "runtime"

CHILD = """
import sys
sys.modules["scamlens"] = None  # any import of scamlens (or below it) now fails
import isolated_runtime

model = isolated_runtime.load(sys.argv[1])
print(model.meta["kind"], sorted(model.predict("Police raided a scam compound")["scores"]) == sorted(model.labels),
      [m for m in sys.modules if m.startswith("scamlens") and sys.modules[m] is not None])
"""


def test_runtime_modules_import_nothing_above_the_runtime() -> None:
    for path in RUNTIME.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert node.level <= 1, f"{path.name}: imports {'.' * node.level}{node.module or ''}"
                assert node.level == 1 or not (node.module or "").startswith("scamlens"), f"{path.name}: {node.module}"
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("scamlens") for a in node.names), path.name


@pytest.mark.parametrize("kind", ["tfidf", "transformer"])
def test_a_copy_of_the_runtime_loads_and_predicts_without_scamlens(kind: str, request, tmp_path: Path) -> None:
    trained = request.getfixturevalue("trained_baseline" if kind == "tfidf" else "trained_tiny_transformer")
    shutil.copytree(RUNTIME, tmp_path / "isolated_runtime", ignore=shutil.ignore_patterns("__pycache__"))
    out = subprocess.run([sys.executable, "-c", CHILD, str(trained[1].best_dir)], capture_output=True, text=True,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == [kind, "True", "[]"]
