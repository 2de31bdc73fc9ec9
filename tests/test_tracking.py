"""MLflow: runs, dataset inputs, registration with aliases, and failing fast without a store."""

from __future__ import annotations

from pathlib import Path

import pytest

from scamlens.tracking import TrackingError, promote, resolve_uri


def client_for(config):
    from mlflow import MlflowClient

    uri = resolve_uri(config.tracking, config.output_dir)
    return MlflowClient(tracking_uri=uri, registry_uri=uri), uri


def test_run_params_metrics_dataset_and_registration(trained_baseline) -> None:
    config, result = trained_baseline
    client, _ = client_for(config)
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["model.kind"] == "tfidf" and run.data.params["model.C"] == "8.0"
    assert run.data.metrics["test_macro_f1"] == pytest.approx(result.metrics["test"]["macro_f1"])
    assert "val_deportation_f1" in run.data.metrics
    inputs = run.inputs.dataset_inputs
    contexts = {dict((t.key, t.value) for t in i.tags)["mlflow.data.context"] for i in inputs}
    assert contexts == {"train", "validation", "test"}
    assert {i.dataset.digest for i in inputs} == {result.fingerprint[:16]}
    version = client.get_model_version_by_alias("tiny-baseline", "challenger")
    assert str(version.version) == result.registered_version
    assert version.tags["corpus_fingerprint"] == result.fingerprint
    assert Path(config.output_dir, "mlflow.db").exists()


def test_promote_moves_champion(trained_baseline) -> None:
    config, result = trained_baseline
    client, uri = client_for(config)
    promote("tiny-baseline", result.registered_version, tracking_uri=uri)
    assert str(client.get_model_version_by_alias("tiny-baseline", "champion").version) == result.registered_version
    with pytest.raises(TrackingError, match="has no version 99"):
        promote("tiny-baseline", 99, tracking_uri=uri)


def test_unreachable_store_fails_before_training(baseline_config, monkeypatch) -> None:
    from scamlens import training

    called = []
    monkeypatch.setattr(training, "build_corpus", lambda *a, **k: called.append(1))
    config = baseline_config.model_copy(update={"tracking": baseline_config.tracking.model_copy(
        update={"enabled": True, "uri": "http://127.0.0.1:9"})})
    with pytest.raises(TrackingError, match=r"http://127.0.0.1:9 is unreachable.*tracking.enabled=false"):
        training.train(config)
    assert called == []


def test_tracking_disabled_trains_without_mlflow(baseline_config) -> None:
    from scamlens.training import train

    result = train(baseline_config)
    assert result.run_id is None and result.registered_version is None
    assert not Path(baseline_config.output_dir, "mlflow.db").exists()
    assert (result.best_dir / "manifest.json").exists()


def test_a_crash_marks_the_run_failed_and_registers_nothing(tmp_path: Path, baseline_config, monkeypatch) -> None:
    from mlflow import MlflowClient

    from scamlens import training

    config = baseline_config.model_copy(update={"tracking": baseline_config.tracking.model_copy(
        update={"enabled": True, "registered_model": "crashy"})})

    def explode(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(training, "tune_and_evaluate", explode)
    with pytest.raises(RuntimeError, match="disk on fire"):
        training.train(config)
    uri = resolve_uri(config.tracking, config.output_dir)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name("scamlens").experiment_id])
    assert [r.info.status for r in runs] == ["FAILED"]
    assert client.search_registered_models(filter_string="name='crashy'") == []
    assert not (Path(config.output_dir) / config.name / "model-best").exists()


def test_a_registered_version_is_fetched_once_and_an_alias_pins_its_version(trained_baseline) -> None:
    import scamlens
    from scamlens.fetch import cache_root, download_model

    config, result = trained_baseline
    _, uri = client_for(config)
    by_number = download_model(f"models:/tiny-baseline/{result.registered_version}", uri)
    copies = sorted(cache_root().iterdir())
    assert download_model(f"models:/tiny-baseline/{result.registered_version}", uri) == by_number
    promote("tiny-baseline", result.registered_version, alias="served", tracking_uri=uri)
    assert download_model("models:/tiny-baseline@served", uri) == by_number
    assert sorted(cache_root().iterdir()) == copies  # no second copy, no staging folder left
    texts = ["Police raided a scam compound", "Flood victims got rice"]
    assert scamlens.load(by_number).predict_proba(texts).tolist() == scamlens.load(result.best_dir).predict_proba(texts).tolist()


def test_fetch_errors_name_the_uri_and_leave_no_partial_copy(trained_baseline) -> None:
    from scamlens.fetch import cache_root, download_model

    config, _ = trained_baseline
    _, uri = client_for(config)
    before = sorted(cache_root().iterdir()) if cache_root().exists() else []
    with pytest.raises(TrackingError, match=r"cannot fetch models:/tiny-baseline/99 from sqlite:///"):
        download_model("models:/tiny-baseline/99", uri)
    with pytest.raises(TrackingError, match=r"'tiny-baseline' has no version with alias 'nobody'"):
        download_model("models:/tiny-baseline@nobody", uri)
    with pytest.raises(TrackingError, match=r"name a version number or an alias .*not a stage"):
        download_model("models:/tiny-baseline/Production", uri)
    assert (sorted(cache_root().iterdir()) if cache_root().exists() else []) == before


def test_a_sqlite_store_keeps_new_experiments_artifacts_beside_it(tmp_path: Path, baseline_config,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow import MlflowClient

    from scamlens.tracking import artifact_root
    from scamlens.training import train

    beside = (tmp_path / "my dir" / "mlartifacts").resolve().as_uri()
    assert artifact_root(f"sqlite:///{tmp_path}/my dir/store.db") == beside
    assert artifact_root(f"sqlite+pysqlite:///{tmp_path}/my%20dir/store.db?timeout=5") == beside
    assert artifact_root("http://mlflow.internal:5000") is None
    assert artifact_root("databricks") is None
    assert artifact_root("sqlite:///:memory:") is None

    monkeypatch.chdir(tmp_path)  # MLflow's own default would write ./mlruns here
    store = tmp_path / "shared-store" / "runs.db"
    store.parent.mkdir()
    uri = f"sqlite:///{store}"
    config = baseline_config.model_copy(update={"tracking": baseline_config.tracking.model_copy(
        update={"enabled": True, "uri": uri, "experiment": "own", "registered_model": None})})
    result = train(config)
    run = MlflowClient(tracking_uri=uri).get_run(result.run_id)
    assert run.info.artifact_uri.startswith((store.parent / "mlartifacts").as_uri() + "/")
    assert any((store.parent / "mlartifacts").rglob("meta.json"))
    assert not (tmp_path / "mlruns").exists()
