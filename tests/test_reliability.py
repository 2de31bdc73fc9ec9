"""Robustness: arbitrary input, threads, crashes mid-save, corrupted corpora, killed training, no network."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import scamlens
from scamlens.config import DataConfig
from scamlens.data.corpus import read_examples
from scamlens.data.labels import load_labels

from .conftest import LABELS_FILE, ROOT, TINY_CORPUS

LABELS = load_labels(LABELS_FILE)
ANY_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400)
CONTROL_HEAVY = st.text(alphabet=st.sampled_from(["\x00", "\x07", "\u200b", "\ufeff", "\n", "\t", "\r", " ", "a", ".", "é", "詐"]),
                        max_size=200)


@pytest.fixture(scope="module", params=["tfidf", "transformer"])
def model(request) -> scamlens.Model:
    trained = request.getfixturevalue("trained_baseline" if request.param == "tfidf" else "trained_tiny_transformer")
    return scamlens.load(trained[1].best_dir)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.one_of(ANY_TEXT, CONTROL_HEAVY), max_size=8))
def test_predict_never_crashes_and_scores_stay_in_range(model: scamlens.Model, texts: list[str]) -> None:
    predictions = model.predict(texts)
    scores = model.predict_proba(texts)
    assert len(predictions) == len(texts) and scores.shape == (len(texts), len(model.labels))
    assert np.all((scores >= 0) & (scores <= 1)) and not np.isnan(scores).any()
    for text, prediction in zip(texts, predictions, strict=True):
        if not text.strip():
            assert prediction["labels"] == []
        for chunks in prediction["evidence"].values():
            for chunk in chunks:
                assert text[chunk["start"]:chunk["end"]] == chunk["text"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=st.lists(st.one_of(ANY_TEXT, st.none(), st.integers(), st.binary(max_size=5)), min_size=1, max_size=5))
def test_mixed_lists_either_predict_or_raise_type_error(model: scamlens.Model, items: list) -> None:
    if all(isinstance(i, str) for i in items):
        assert len(model.predict(items)) == len(items)
    else:
        with pytest.raises(TypeError, match=r"texts\[\d+\] is "):
            model.predict(items)


def test_a_one_megabyte_text_is_scored(model: scamlens.Model) -> None:
    sentence = "Police in Bavet said the compound had been emptied, and the workers were taken to a shelter. "
    text = (sentence * (1_000_000 // len(sentence) + 1))[:1_000_000]
    prediction = model.predict(text)
    assert all(0 <= s <= 1 for s in prediction["scores"].values())
    for chunks in prediction["evidence"].values():
        assert all(text[c["start"]:c["end"]] == c["text"] for c in chunks)


def test_threads_sharing_one_model_get_single_thread_results(model: scamlens.Model) -> None:
    texts = [f"Immigration removed {n} foreign workers after a raid on a compound in town {n}." for n in range(64)]
    texts += ["A typhoon hit the coast.", "", "Shelter staff helped returnees call home."] * 8
    expected = model.predict_proba(texts)
    results: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for _ in range(5):
                results[i] = model.predict_proba(texts[i % 7:] + texts[:i % 7])
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for i, scores in results.items():
        np.testing.assert_array_equal(scores, np.roll(expected, -(i % 7), axis=0))


JSON_FIELDS = st.dictionaries(st.sampled_from(["id", "text", "labels", "story", "kind", "register", "x"]),
                              st.one_of(st.none(), st.integers(), ANY_TEXT, st.lists(ANY_TEXT, max_size=3)))
ONE_LINE = ANY_TEXT.filter(lambda s: not any(c in s for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"))


@settings(max_examples=100, deadline=None)
@given(lines=st.lists(st.one_of(ONE_LINE, st.builds(json.dumps, JSON_FIELDS)), max_size=12))
@example(lines=["\xa0"])  # a no-break space is not JSON whitespace: a bad line, not a blank one
def test_corpus_reader_reports_every_bad_line_and_never_crashes(tmp_path_factory, lines: list[str]) -> None:
    path = tmp_path_factory.mktemp("c") / "c.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    examples, problems = read_examples(DataConfig(source=[str(path)]), LABELS)
    # Every non-blank line either became an example or is named in at least one problem. Blank means
    # ASCII whitespace only, as JSON's grammar and the reader see it (str.strip() would also drop
    # Unicode spaces such as U+00A0, which the reader rightly reports as invalid JSON).
    numbered = {n for n, line in enumerate(path.read_bytes().splitlines(), 1) if line.strip()}
    named = {int(p.where.rsplit(":", 1)[1]) for p in problems if p.where.startswith(str(path) + ":")}
    good = {int(e.where.rsplit(":", 1)[1]) for e in examples}
    assert numbered == good | named
    assert all(str(p).startswith(str(path)) for p in problems)


def test_a_crash_while_saving_keeps_the_previous_model(trained_baseline, tmp_path: Path, monkeypatch) -> None:
    from scamlens.runtime.tfidf import TfidfPredictor
    from scamlens.training import write_model_folder

    config, result = trained_baseline
    target = shutil.copytree(result.best_dir, tmp_path / "model-best")
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    model = scamlens.load(target)

    def half_save(self, folder):
        Path(folder, "tfidf_vocabulary.json").write_text("{truncated")
        raise OSError("disk full")

    monkeypatch.setattr(TfidfPredictor, "_save_weights", half_save)
    with pytest.raises(OSError, match="disk full"):
        write_model_folder(model.classifier, model.meta, config, LABELS, target)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["model-best"]  # no staging folder left behind
    scamlens.load(target)


def test_a_corrupted_corpus_line_leaves_the_previous_build_intact(baseline_config, tiny_corpus: Path, tmp_path: Path) -> None:
    from scamlens.data.corpus import CorpusError
    from scamlens.data.dataset import build_corpus, save_build

    out = tmp_path / "processed"
    save_build(build_corpus(baseline_config.data, LABELS), baseline_config.data, out)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with tiny_corpus.open("a", encoding="utf-8") as handle:
        handle.write('{"id": "t-31", "text": "cut off mid-wri\n')
    with pytest.raises(CorpusError, match=rf"{tiny_corpus}:31: json: not valid JSON"):
        save_build(build_corpus(baseline_config.data, LABELS), baseline_config.data, out)
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


NO_SOCKET_CHILD = """
import socket, sys

def refuse(*args, **kwargs):
    raise AssertionError("network access attempted")

# Blocked before the first import of scamlens, so importing it is checked too.
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
import scamlens

model = scamlens.load(sys.argv[1])
print(model.meta["kind"], bool(model.predict("A raid on a compound")["scores"]))
"""


@pytest.mark.parametrize("kind", ["tfidf", "transformer"])
def test_import_and_load_open_no_socket(kind: str, request) -> None:
    """In a fresh interpreter whose sockets refuse to connect from the start, import scamlens, load a
    model and predict: nothing may reach for the network."""
    trained = request.getfixturevalue("trained_baseline" if kind == "tfidf" else "trained_tiny_transformer")
    env = {k: v for k, v in os.environ.items() if k not in {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"}}
    out = subprocess.run([sys.executable, "-c", NO_SOCKET_CHILD, str(trained[1].best_dir)], capture_output=True,
                         text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == [kind, "True"]


@pytest.mark.slow
def test_a_killed_training_run_resumes_to_the_uninterrupted_result(tmp_path: Path) -> None:
    """SIGKILL a `scamlens train` process once its first checkpoint is on disk; `--resume` then
    finishes the run with the same weights as a run that was never interrupted."""
    pytest.importorskip("torch")
    from scamlens.config import load_config
    from scamlens.kinds.transformer import CHECKPOINTS_DIR

    from .tiny_bert import build_tiny_bert

    base = build_tiny_bert(tmp_path / "tiny-bert")

    def settings(out: Path) -> list[str]:
        return [f"data.source=[{TINY_CORPUS}]", f"data.labels={LABELS_FILE}", f"data.processed_dir={out / 'processed'}",
                f"output_dir={out / 'train'}", "tracking.enabled=false", f"model.base_model={base}",
                "model.max_length=32", "model.epochs=40", "model.batch_size=4", "model.learning_rate=0.005",
                "model.early_stopping_patience=100", "model.fast_path=none"]

    def command(out: Path, *extra: str) -> list[str]:
        sets = [arg for setting in settings(out) for arg in ("--set", setting)]
        return [sys.executable, "-m", "scamlens.cli", "train", str(ROOT / "configs" / "transformer.yaml"), *sets, *extra]

    killed_out, clean_out = tmp_path / "killed", tmp_path / "clean"
    state = load_config(ROOT / "configs" / "transformer.yaml", settings(killed_out)).run_dir / CHECKPOINTS_DIR / "latest" / "state.json"
    process = subprocess.Popen(command(killed_out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    deadline = time.monotonic() + 300
    while not state.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL, "training finished before it could be killed"
    epochs_done = json.loads(state.read_text())["state"]["epoch"]
    assert 1 <= epochs_done < 40

    resume = subprocess.run(command(killed_out, "--resume"), check=True, capture_output=True, text=True, cwd=ROOT)
    assert f"resuming after epoch {epochs_done}" in " ".join((resume.stdout + resume.stderr).split())
    subprocess.run(command(clean_out), check=True, capture_output=True, cwd=ROOT)
    resumed = scamlens.load(load_config(ROOT / "configs" / "transformer.yaml", settings(killed_out)).run_dir / "model-best")
    clean = scamlens.load(load_config(ROOT / "configs" / "transformer.yaml", settings(clean_out)).run_dir / "model-best")
    texts = ["Police raided a compound and freed 40 workers.", "The flight left for Beijing with 312 deportees.", "Rain."]
    np.testing.assert_array_equal(resumed.predict_proba(texts), clean.predict_proba(texts))
    assert resumed.meta["metrics"] == clean.meta["metrics"]
