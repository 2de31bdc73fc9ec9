"""scripts/written_heldout.py: two corpora's models compared on the written texts both corpora share."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

from .conftest import LABELS_FILE, ROOT

sys.path.insert(0, str(ROOT / "scripts"))

NEW_ROW = {"id": "t-99", "text": "A new court case about a scam compound was heard today.", "labels": ["scam_operation"],
           "kind": "sentence", "story": "s-new", "register": "wire", "form": "news"}


@pytest.fixture()
def two_models(baseline_config, tiny_corpus: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """(new model, old model, a copy of the old corpus): the corpus gains a row and rewords one between them."""
    from scamlens.config import load_config
    from scamlens.training import train

    old = train(baseline_config).best_dir
    old_copy = tmp_path / "old" / "tiny.jsonl"
    old_copy.parent.mkdir()
    shutil.copy(tiny_corpus, old_copy)
    rows = [json.loads(line) for line in tiny_corpus.read_text(encoding="utf-8").splitlines()]
    rows[0]["text"] += " Officials said more raids would follow."
    tiny_corpus.write_text("".join(json.dumps(r) + "\n" for r in [*rows, NEW_ROW]), encoding="utf-8")
    new = train(load_config(ROOT / "configs" / "baseline.yaml", [
        f"data.source=[{tiny_corpus}]", f"data.labels={LABELS_FILE}", f"data.processed_dir={tmp_path / 'processed2'}",
        f"output_dir={tmp_path / 'train2'}", "model.min_df=1", "tracking.enabled=false"])).best_dir
    return new, old, old_copy


def test_a_moved_corpus_needs_its_files_and_new_or_reworded_texts_are_left_out(
        two_models, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import written_heldout

    new, old, old_copy = two_models
    monkeypatch.setattr(sys, "argv", ["written_heldout.py", str(new), str(old)])
    with pytest.raises(SystemExit, match=r"old model .* trained on corpus \w+, but .* builds \w+: pass that "
                                         r"model's corpus files with --old-source"):
        written_heldout.main()

    monkeypatch.setattr(sys, "argv", ["written_heldout.py", str(new), str(old), "--old-source", str(old_copy)])
    written_heldout.main()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "2 texts of the new corpus are new or reworded: left out"
    assert len(lines) == 3
    for line, name in zip(lines[1:], ("held out from training by both (test or validation)", "in both test splits"),
                          strict=True):
        assert line.startswith(name + ": ")
        assert line == f"{name}: no texts" or re.fullmatch(rf"{re.escape(name)}: \d+ texts; new \d\.\d{{4}}, old \d\.\d{{4}}", line)
