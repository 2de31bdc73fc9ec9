"""The transformer's runtime on a tiny offline BERT: CPU fast paths chosen at load, and the plain-torch
BERT runtime that loaded models run (scores like transformers', without importing it)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import scamlens.runtime.transformer as transformer_module  # noqa: E402
from scamlens.runtime.classifier import Classifier  # noqa: E402

from .tiny_bert import tiny_bert  # noqa: E402, F401
from .tiny_transformer import LONG_TEXT, TRAIN, VALIDATION, fitted, make, own_copy  # noqa: E402, F401


# --- CPU fast paths ---------------------------------------------------------------------------------
def test_int8_fast_path_quantizes_a_copy_and_gives_close_scores(own_copy):  # noqa: F811
    fp32 = own_copy.predict_proba(VALIDATION.texts)
    own_copy.set_fast_path("int8")
    try:
        assert own_copy.fast_path_active
        query = own_copy.inference_model().layers[0].query  # a copy of bert.py's runtime, as after loading
        assert "quantized" in type(query).__module__
        assert "quantized" not in type(own_copy.model.bert.encoder.layer[0].attention.self.query).__module__
        int8 = own_copy.predict_proba(VALIDATION.texts)
    finally:
        own_copy.set_fast_path("none")
    np.testing.assert_allclose(int8, fp32, atol=0.05)
    assert not np.array_equal(int8, fp32)
    np.testing.assert_array_equal(own_copy.predict_proba(VALIDATION.texts), fp32)


def test_bf16_fast_path_runs_a_bf16_copy_where_the_cpu_computes_bf16(own_copy, monkeypatch):  # noqa: F811
    fp32 = own_copy.predict_proba(VALIDATION.texts)
    monkeypatch.setattr(transformer_module, "cpu_computes_bf16", lambda: True)
    own_copy.set_fast_path("bf16")
    try:
        assert own_copy.fast_path_active
        assert {p.dtype for p in own_copy.inference_model().parameters()} == {torch.bfloat16}
        assert {p.dtype for p in own_copy.model.parameters()} == {torch.float32}
        bf16 = own_copy.predict_proba(VALIDATION.texts)
        assert bf16.dtype == np.float32
        # Without native bf16 the same model silently stays fp32 rather than running an emulated bf16.
        monkeypatch.setattr(transformer_module, "cpu_computes_bf16", lambda: False)
        assert not own_copy.fast_path_active
        np.testing.assert_array_equal(own_copy.predict_proba(VALIDATION.texts), fp32)
    finally:
        own_copy.set_fast_path("none")
    np.testing.assert_allclose(bf16, fp32, atol=0.05)
    assert not np.array_equal(bf16, fp32)


def test_unknown_fast_path_is_refused(fitted, tiny_bert):  # noqa: F811
    with pytest.raises(ValueError, match="unknown fast path 'fp8'"):
        fitted.set_fast_path("fp8")
    with pytest.raises(ValueError, match="fast_path must be auto, none, int8, bf16; got 'fp8'"):
        make(tiny_bert, fast_path="fp8")


def _report(drop=0.01, **f1):
    return {"max_f1_drop": drop, "variants": {name: {"val_macro_f1": v, "val_seconds": 1.0} for name, v in f1.items()}}


@pytest.mark.parametrize(("report", "native", "expected"), [
    # bf16 is the fastest where the CPU computes it natively, int8 next where it has VNNI...
    (_report(fp32=0.90, int8=0.899, bf16=0.899), {"bf16", "int8"}, "bf16"),
    (_report(fp32=0.90, int8=0.899, bf16=0.899), {"int8"}, "int8"),
    (_report(fp32=0.90, int8=0.899, bf16=0.899), set(), "none"),
    # ...a variant that lost the F1 budget at training is passed over (a drop exactly at it too)...
    (_report(fp32=0.90, int8=0.899, bf16=0.85), {"bf16", "int8"}, "int8"),
    (_report(fp32=0.90, int8=0.89), {"int8"}, "none"),
    # ...a variant training could not measure is never chosen, nor anything without an fp32 row.
    (_report(fp32=0.90, int8=0.899), {"bf16"}, "none"),
    ({}, {"bf16", "int8"}, "none"),
])
def test_fast_path_chosen_at_load_is_the_fastest_native_variant_within_the_f1_budget(report, native, expected):
    from scamlens.runtime.cpu import choose_at_load

    assert choose_at_load(report, native) == expected


def test_native_variants_come_from_cpu_flags_or_torchs_capability():
    from scamlens.runtime.cpu import cpu_flags, native_variants

    flags = cpu_flags("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_vnni avx512_bf16\n")
    assert {"avx512_vnni", "avx512_bf16"} <= flags
    assert native_variants(flags) == {"bf16", "int8"}
    assert native_variants({"avx2", "avx_vnni"}) == {"int8"}
    assert native_variants(set()) == set()
    assert native_variants(set(), torch_capability="AVX512_BF16") == {"bf16"}


@pytest.mark.parametrize("max_drop", [1.0, 0.0])
def test_fast_paths_are_measured_at_training_and_chosen_for_the_cpu_at_load(tiny_bert, tmp_path, max_drop, monkeypatch):  # noqa: F811
    from scamlens.runtime import cpu

    classifier = make(tiny_bert, epochs=1, fast_path="auto", fast_path_max_f1_drop=max_drop).fit(TRAIN, VALIDATION)
    report = classifier.fast_path_report
    variants = {"fp32", "int8"} | ({"bf16"} if transformer_module.cpu_computes_bf16() else set())
    assert set(report["variants"]) == variants and report["max_f1_drop"] == max_drop
    assert classifier.fast_path_mode == cpu.choose_at_load(report, cpu.this_cpu())
    classifier.save(tmp_path)
    loaded = Classifier.load(tmp_path)
    assert loaded.fast_path_mode == classifier.fast_path_mode and loaded.fast_path_report == report
    assert np.array_equal(loaded.predict_proba(VALIDATION.texts), classifier.predict_proba(VALIDATION.texts))
    # Another CPU decides for itself: one without VNNI or bf16 runs fp32.
    monkeypatch.setattr(cpu, "this_cpu", lambda: frozenset())
    assert Classifier.load(tmp_path).fast_path_mode == "none"
    monkeypatch.setattr(cpu, "this_cpu", lambda: frozenset({"int8"}))
    assert Classifier.load(tmp_path).fast_path_mode == ("int8" if max_drop == 1.0 else cpu.choose_at_load(report, {"int8"}))


def test_load_overrides_the_fast_path_and_info_shows_the_table(trained_tiny_transformer):
    import scamlens
    from scamlens.info import model_info

    folder = trained_tiny_transformer[1].best_dir
    assert scamlens.load(folder, fast_path="int8").classifier.fast_path_mode == "int8"
    assert scamlens.load(folder, fast_path="fp32").classifier.fast_path_mode == "none"
    with pytest.raises(ValueError, match="unknown fast path 'fp8'"):
        scamlens.load(folder, fast_path="fp8")
    info = model_info(scamlens.load(folder, fast_path="none"))
    assert info["kind"] == "transformer" and info["fast_path"]["chosen"] == "none"
    assert set(info["fast_path"]["variants"]) >= {"fp32", "int8"}
    assert info["calibration"] == "none" and info["pooling"] == {"method": "max", "k": 2}



# --- the plain-torch BERT runtime ----------------------------------------------------------------
def test_plain_torch_bert_runtime_matches_transformers(fitted, tmp_path):  # noqa: F811
    """Loading picks the plain-torch BERT (no transformers import) and it scores like transformers."""
    from unittest import mock

    from scamlens.runtime import bert

    fitted.save(tmp_path / "m")
    native = Classifier.load(tmp_path / "m")
    assert isinstance(native.model, bert.BertClassifier)
    with mock.patch.object(bert, "supports", lambda folder: False):
        reference = Classifier.load(tmp_path / "m")
    assert not isinstance(reference.model, bert.BertClassifier)
    texts = [*TRAIN.texts, LONG_TEXT, "", "x"]
    np.testing.assert_allclose(native.predict_proba(texts), reference.predict_proba(texts), atol=1e-5)
    assert native.count_tokens(LONG_TEXT) == reference.count_tokens(LONG_TEXT)
    # A natively loaded model saves the same encoder files back, so a model folder round-trips.
    native.save(tmp_path / "again")
    np.testing.assert_allclose(Classifier.load(tmp_path / "again").predict_proba(texts), native.predict_proba(texts), atol=1e-6)


@pytest.mark.parametrize("mode", ["none", "bf16"])
def test_a_trained_model_scores_exactly_like_its_loaded_copy(own_copy, tmp_path, monkeypatch, mode):  # noqa: F811
    """After fit, prediction runs bert.py's runtime, as a loaded model does: the thresholds tuned and
    the test metrics measured at training time are what deployment gets, even in bf16, where
    transformers' and bert.py's forward passes would round differently."""
    from scamlens.runtime import bert

    monkeypatch.setattr(transformer_module, "cpu_computes_bf16", lambda: True)
    texts = [*TRAIN.texts, LONG_TEXT, "x"]
    own_copy.save(tmp_path / "m")
    loaded = Classifier.load(tmp_path / "m")
    own_copy.set_fast_path(mode)
    loaded.set_fast_path(mode)
    try:
        assert isinstance(own_copy.inference_model(), bert.BertClassifier)
        np.testing.assert_array_equal(own_copy.predict_proba(texts), loaded.predict_proba(texts))
    finally:
        own_copy.set_fast_path("none")


def test_loading_a_bert_model_does_not_import_transformers(fitted, tmp_path):  # noqa: F811
    import subprocess

    fitted.save(tmp_path / "m")
    code = ("import sys; from scamlens.runtime.classifier import Classifier;"
            f"c = Classifier.load({str(tmp_path / 'm')!r}); c.predict_proba(['a raid']);"
            "print('transformers' in sys.modules, 'torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
