"""`evaluate` and `compare` refuse a rebuilt split whose corpus no longer matches the model's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scamlens.cli import app
from scamlens.evaluation.labelled import FingerprintMismatch
from scamlens.evaluation.report import evaluate_report

NEW_ROW = {"id": "t-99", "text": "A new court case about a scam compound was heard today.", "labels": ["scam_operation"],
           "kind": "sentence", "story": "s-new", "register": "wire", "form": "news"}


@pytest.fixture()
def model_of_a_changed_corpus(baseline_config, tiny_corpus: Path) -> Path:
    from scamlens.training import train

    best = train(baseline_config).best_dir
    with tiny_corpus.open("a") as handle:  # corpus v2: the same paths now hold other rows
        handle.write(json.dumps(NEW_ROW) + "\n")
    return best


def test_a_changed_corpus_is_refused_unless_forced(model_of_a_changed_corpus: Path, tmp_path: Path) -> None:
    with pytest.raises(FingerprintMismatch, match=r"the 'test' split rebuilt from .* has corpus fingerprint"):
        evaluate_report(model_of_a_changed_corpus, "test", tmp_path / "r", resamples=10, log=False)
    result = CliRunner().invoke(app, ["evaluate", str(model_of_a_changed_corpus), "--out", str(tmp_path / "r")])
    assert result.exit_code == 1
    assert "error:" in result.output and "--force" in result.output and "Traceback" not in result.output
    compared = CliRunner().invoke(app, ["compare", str(model_of_a_changed_corpus), str(model_of_a_changed_corpus)])
    assert compared.exit_code == 1 and "corpus fingerprint" in compared.output

    forced = evaluate_report(model_of_a_changed_corpus, "test", tmp_path / "forced", resamples=10, log=False, force=True)
    notes = forced.report.data["data"]["notes"]
    assert len(notes) == 1 and notes[0].startswith("forced: the 'test' split rebuilt from")
    assert notes[0] in (tmp_path / "forced" / "report.md").read_text()


def test_an_unchanged_corpus_is_scored_without_a_note(baseline_config, tmp_path: Path) -> None:
    from scamlens.training import train

    best = train(baseline_config).best_dir
    report = evaluate_report(best, "test", tmp_path / "r", resamples=10, log=False)
    assert report.report.data["data"]["notes"] == []
