"""Choosing the champion among registered models by macro F1 on one labelled set, with the reason recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scamlens.cli import app
from scamlens.runtime.errors import ScamlensError

from .conftest import ROOT, TINY_CORPUS


@pytest.fixture(scope="module")
def two_registered(tmp_path_factory):
    """Two baselines in one store: a sensible one and one regularised into uselessness."""
    from scamlens.config import load_config
    from scamlens.tracking import resolve_uri
    from scamlens.training import train

    out = tmp_path_factory.mktemp("champion")
    results = {}
    for name, c in (("good", 8.0), ("weak", 1e-4)):
        config = load_config(ROOT / "configs" / "baseline.yaml", [
            f"data.source=[{TINY_CORPUS}]", f"data.labels={ROOT / 'configs' / 'labels.yaml'}", f"output_dir={out}",
            f"name={name}", "model.min_df=1", f"model.C={c}", f"tracking.registered_model=tiny-{name}"])
        results[name] = train(config)
    return results, resolve_uri(None, out)


def test_best_of_promotes_the_best_and_records_every_score(two_registered, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    from scamlens.champion import choose_champion

    results, uri = two_registered
    labelled = tmp_path / "val.jsonl"
    rows = [json.loads(line) for line in TINY_CORPUS.read_text().splitlines()]
    labelled.write_text("".join(json.dumps({"id": r["id"], "text": r["text"], "labels": r["labels"]}) + "\n" for r in rows))
    from scamlens.tracking import promote

    promote("tiny-weak", 1, tracking_uri=uri)  # an earlier choice: the loser must not keep the alias
    choice = choose_champion(["tiny-weak", "tiny-good"], str(labelled), tracking_uri=uri)
    assert [c.name for c in choice.ranking] == ["tiny-good", "tiny-weak"] and choice.note is None
    assert choice.champion.macro_f1 > choice.ranking[1].macro_f1 and choice.champion.texts == len(rows)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    assert str(client.get_model_version_by_alias("tiny-good", "champion").version) == "1"
    good = client.get_model_version("tiny-good", "1")
    assert good.tags["champion_check.chosen"] == "true"
    assert json.loads(good.tags["champion_check.scores"]) == {
        f"{c.name}/{c.version}": round(c.macro_f1, 4) for c in choice.ranking}
    assert "## Why champion" in good.description and "| tiny-weak | 1 (held champion) |" in good.description
    assert client.get_model_version("tiny-weak", "1").tags["champion_check.chosen"] == "false"
    assert "champion" not in client.get_registered_model("tiny-weak").aliases
    run = client.get_run(results["good"].run_id)
    assert run.data.tags["champion_check.macro_f1"] == f"{choice.champion.macro_f1:.4f}"


def test_best_of_on_the_written_split_says_so_and_unknown_names_are_named(two_registered) -> None:
    _, uri = two_registered
    result = CliRunner().invoke(app, ["promote", "--best-of", "tiny-good", "tiny-weak", "--on", "validation",
                                      "--tracking-uri", uri])
    assert result.exit_code == 0, result.output
    assert "ranked on each model's own written validation split" in result.output
    assert "@champion -> version 1" in result.output and "(5 texts)" in result.output  # 5 tiny validation texts
    from scamlens.champion import choose_champion

    with pytest.raises(ScamlensError, match="no registered model 'tiny-missing'"):
        choose_champion(["tiny-missing"], "validation", tracking_uri=uri)
    result = CliRunner().invoke(app, ["promote", "tiny-good", "--tracking-uri", uri])
    assert result.exit_code == 1 and "promote takes NAME VERSION, or --best-of NAME [NAME ...]" in result.output


def test_the_sitting_champion_keeps_the_alias_unless_a_newer_version_beats_it(tmp_path: Path) -> None:
    """A newer version registered for comparison (a held-back experiment) is not promoted for being newer."""
    from mlflow import MlflowClient

    from scamlens.champion import choose_champion
    from scamlens.config import load_config
    from scamlens.tracking import promote, resolve_uri
    from scamlens.training import train

    corpora = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    for corpus, c in zip(corpora, (8.0, 1e-4), strict=True):  # version 1 good, version 2 regularised into uselessness
        corpus.write_text(TINY_CORPUS.read_text())
        train(load_config(ROOT / "configs" / "baseline.yaml", [
            f"data.source=[{corpus}]", f"data.labels={ROOT / 'configs' / 'labels.yaml'}", f"output_dir={tmp_path}",
            "model.min_df=1", f"model.C={c}", "tracking.registered_model=tiny-x"]))
    uri = resolve_uri(None, tmp_path)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    labelled = tmp_path / "val.jsonl"
    labelled.write_text("".join(json.dumps({k: r[k] for k in ("id", "text", "labels")}) + "\n"
                                for r in map(json.loads, TINY_CORPUS.read_text().splitlines())))
    promote("tiny-x", 1, tracking_uri=uri)

    choice = choose_champion(["tiny-x"], str(labelled), tracking_uri=uri)
    assert [(c.version, c.incumbent) for c in choice.ranking] == [("1", True), ("2", False)]
    assert choice.ranking[0].macro_f1 > choice.ranking[1].macro_f1 and choice.left_out == []
    assert str(client.get_model_version_by_alias("tiny-x", "champion").version) == "1"
    assert "| tiny-x | 1 (held champion) |" in client.get_model_version("tiny-x", "1").description
    assert client.get_model_version("tiny-x", "2").tags["champion_check.chosen"] == "false"

    result = CliRunner().invoke(app, ["promote", "--best-of", "tiny-x", "--on", str(labelled), "--latest-only",
                                      "--tracking-uri", uri])
    assert result.exit_code == 0, result.output
    assert "held champion" not in result.output and "tiny-x@champion -> version 2" in result.output

    # On the written split, a sitting champion whose corpus has changed since it trained cannot be
    # scored (its split may now hold its training texts): it is left out, with the reason, not fatal.
    promote("tiny-x", 1, tracking_uri=uri)
    with corpora[0].open("a") as f:
        f.write(json.dumps({"id": "t-new", "text": "The harbour ferry timetable changes in May.", "labels": [],
                            "kind": "sentence", "story": "s-new", "register": "wire", "form": "news"}) + "\n")
    result = CliRunner().invoke(app, ["promote", "--best-of", "tiny-x", "--on", "validation", "--tracking-uri", uri])
    assert result.exit_code == 0, result.output
    reason = ("tiny-x version 1 held champion but was not scored, so it lost the alias: its corpus has changed since "
              "it trained, so its validation split may hold its own training texts")
    assert f"left out {reason}" in " ".join(result.output.split())
    assert "tiny-x@champion -> version 2" in result.output
    assert f"Left out: {reason}." in client.get_model_version("tiny-x", "2").description
    dropped = client.get_model_version("tiny-x", "1")  # its tags and card said why it was champion
    assert dropped.tags["champion_check.chosen"] == "false" and dropped.tags["champion_check.left_out"] == reason
    assert dropped.description.startswith("## Left out of the champion choice")

    promote("tiny-x", 1, tracking_uri=uri)
    corpora[0].unlink()  # and a sitting champion whose corpus is gone
    choice = choose_champion(["tiny-x"], "validation", tracking_uri=uri)
    assert choice.champion.version == "2" and [(o.name, o.version) for o in choice.left_out] == [("tiny-x", "1")]
    assert choice.left_out[0].reason.startswith("tiny-x version 1 held champion but was not scored, so it lost the "
                                                "alias: its corpus no longer builds (1 problem(s) in the data: ")
    assert f"{corpora[0]}: source: file not found" in choice.left_out[0].reason


def test_a_tie_keeps_the_sitting_champion(tmp_path: Path) -> None:
    from scamlens.champion import choose_champion
    from scamlens.config import load_config
    from scamlens.tracking import promote, resolve_uri
    from scamlens.training import train

    for _ in range(2):  # two versions trained alike: the same scores
        train(load_config(ROOT / "configs" / "baseline.yaml", [
            f"data.source=[{TINY_CORPUS}]", f"data.labels={ROOT / 'configs' / 'labels.yaml'}", f"output_dir={tmp_path}",
            "model.min_df=1", "tracking.registered_model=tiny-tie"]))
    uri = resolve_uri(None, tmp_path)
    promote("tiny-tie", 1, tracking_uri=uri)
    choice = choose_champion(["tiny-tie"], "validation", tracking_uri=uri)
    assert [(c.version, c.incumbent) for c in choice.ranking] == [("1", True), ("2", False)]
    assert choice.ranking[0].macro_f1 == choice.ranking[1].macro_f1 and choice.champion.version == "1"


def test_an_unreadable_store_stops_the_choice_rather_than_passing_over_the_champion(tmp_path: Path) -> None:
    from scamlens.tracking import TrackingError, alias_version, resolve_uri

    assert alias_version("tiny-none", "champion", resolve_uri(None, tmp_path)) is None  # no such model: no holder
    (tmp_path / "broken.db").write_text("not a database")
    with pytest.raises(TrackingError, match="cannot read the aliases of 'tiny-none'"):
        alias_version("tiny-none", "champion", f"sqlite:///{tmp_path / 'broken.db'}")
