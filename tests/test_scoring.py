"""Batch scoring of files: the local engine on JSONL, CSV and Parquet, and (slow) the Spark engine."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import scamlens
from scamlens.batch import ERROR_COLUMN, EVIDENCE_COLUMN, LABELS_COLUMN, SCORE_PREFIX, score
from scamlens.batch import local as scoring
from scamlens.batch.spark import spark_session
from scamlens.cli import app

from .conftest import LABELS_FILE, ROOT, TINY_CORPUS
from .tiny_bert import SENTENCES, tiny_bert  # noqa: F401

LONG_TEXT = " ".join(SENTENCES[:12])  # several chunks for both classifiers


@pytest.fixture(scope="module")
def baseline(trained_baseline) -> tuple[Path, scamlens.Model]:
    _, result = trained_baseline
    return result.best_dir, scamlens.load(result.best_dir)


def input_rows() -> list[dict]:
    texts = [json.loads(line)["text"] for line in TINY_CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts += ["", LONG_TEXT]
    return [{"id": i, "text": text, "kind": "long" if text == LONG_TEXT else "short"} for i, text in enumerate(texts)]


def write_rows(rows: list[dict], path: Path) -> Path:
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    elif path.suffix == ".csv":
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    else:
        pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def score_matrix(table: pa.Table, labels) -> np.ndarray:
    return np.column_stack([np.asarray(table.column(f"{SCORE_PREFIX}{n}").to_pylist(), dtype=float) for n in labels])


# --- the local engine ------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_local_scores_equal_the_python_api(baseline, tmp_path: Path, suffix: str) -> None:
    folder, model = baseline
    rows = input_rows()
    source = write_rows(rows, tmp_path / f"news{suffix}")
    result = score(folder, source, tmp_path / "out", batch_size=7, progress=False)
    table = pq.read_table(tmp_path / "out")
    texts = [r["text"] for r in rows]
    assert (result.rows, result.errors, result.files) == (len(rows), 0, 1)
    assert table.column_names == ["id", "text", "kind", *(f"{SCORE_PREFIX}{n}" for n in model.labels),
                                  LABELS_COLUMN, EVIDENCE_COLUMN, ERROR_COLUMN]
    assert table.schema.field(f"{SCORE_PREFIX}{model.labels[0]}").type == pa.float64()
    assert table.column("text").to_pylist() == texts  # the input's columns, in input order
    np.testing.assert_allclose(score_matrix(table, model.labels), model.predict_proba(texts), rtol=0, atol=1e-6)
    predictions = model.predict(texts)
    assert table.column(LABELS_COLUMN).to_pylist() == [p["labels"] for p in predictions]
    assert [json.loads(e) for e in table.column(EVIDENCE_COLUMN).to_pylist()] == [p["evidence"] for p in predictions]
    assert table.column(ERROR_COLUMN).null_count == len(rows)
    assert table.column("id").type == (pa.string() if suffix == ".csv" else pa.int64())


def test_malformed_rows_are_reported_and_scored_as_null(baseline, tmp_path: Path, capsys) -> None:
    folder, model = baseline
    lines = [
        '{"id": 1, "text": "Police raided a scam compound and arrested the bosses."}',
        '{"id": 2, "text": "cut off mid-wri',
        '{"id": 3}',
        '{"id": 4, "text": null}',
        '{"id": 5, "text": 17}',
        '"just a string"',
        "",
        '{"id": 8, "text": "Immigration deported forty foreign workers on a flight home."}',
    ]
    source = tmp_path / "bad.jsonl"
    source.write_bytes(("\n".join(lines) + "\n").encode() + b'{"id": 10, "text": "caf\xe9"}\n')
    result = score(folder, source, tmp_path / "out", batch_size=3)
    table = pq.read_table(tmp_path / "out")
    expected = {
        2: "json: not valid JSON", 3: "text: missing", 4: "text: null", 5: "text: expected a string, got int",
        6: "json: expected a JSON object, got str", 9: "utf-8: not valid UTF-8",
    }
    errors = table.column(ERROR_COLUMN).to_pylist()
    assert len(errors) == 8  # the blank line is no row
    assert [e for e in errors if e] == [e for e in result.error_samples]
    for (line, reason), error in zip(expected.items(), [e for e in errors if e], strict=True):
        assert error.startswith(f"{source}:{line}: {reason}")
    bad = [i for i, e in enumerate(errors) if e]
    good = [i for i, e in enumerate(errors) if e is None]
    scores = score_matrix(table, model.labels)
    assert np.isnan(scores[bad]).all()
    assert all(table.column(LABELS_COLUMN)[i].as_py() is None for i in bad)
    texts = [table.column("text")[i].as_py() for i in good]
    np.testing.assert_allclose(scores[good], model.predict_proba(texts), rtol=0, atol=1e-6)
    assert table.column("id").to_pylist()[2:5] == [3, 4, 5]  # a row that cannot be scored keeps its columns
    summary = capsys.readouterr().err
    assert "6 row(s) not scored" in summary
    assert f"{source}:2: json: not valid JSON" in summary


def test_csv_problems_name_the_line_a_record_starts_on(baseline, tmp_path: Path) -> None:
    folder, model = baseline
    source = tmp_path / "news.csv"
    source.write_text('id,text\n1,"Police raided a scam\ncompound, said officials"\n2,too,many\n3\n\n'
                      '4,"A shelter gave rescued victims food"\n', encoding="utf-8")
    score(folder, source, tmp_path / "out", progress=False)
    table = pq.read_table(tmp_path / "out")
    assert table.column("id").to_pylist() == ["1", "2", "3", "4"]
    assert table.column(ERROR_COLUMN).to_pylist() == [
        None, f"{source}:4: csv: expected 2 fields as in the header, got 3",
        f"{source}:5: csv: expected 2 fields as in the header, got 1", None]
    assert table.column("text")[0].as_py() == "Police raided a scam\ncompound, said officials"


def test_a_text_that_breaks_the_model_is_reported_not_fatal(baseline, tmp_path: Path, monkeypatch) -> None:
    folder, model = baseline
    rows = input_rows()[:5]
    source = write_rows(rows, tmp_path / "news.jsonl")
    real = model.classifier.score_chunks

    def fragile(texts):
        if rows[1]["text"] in texts or rows[3]["text"] in texts:
            raise RuntimeError("tokenizer exploded")
        return real(texts)

    monkeypatch.setattr(model.classifier, "score_chunks", fragile)
    result = score(model, source, tmp_path / "out", progress=False)
    errors = pq.read_table(tmp_path / "out").column(ERROR_COLUMN).to_pylist()
    broken = [1, 3]
    assert result.errors == len(broken)
    assert [i for i, e in enumerate(errors) if e] == broken
    assert errors[broken[0]] == f"{source}:{broken[0] + 1}: scoring failed: RuntimeError: tokenizer exploded"


def test_rerun_replaces_the_output_and_a_failed_run_keeps_it(baseline, tmp_path: Path, monkeypatch) -> None:
    folder, _ = baseline
    rows = input_rows()
    out = tmp_path / "scores" / "out.parquet"
    score(folder, write_rows(rows[:10], tmp_path / "first.jsonl"), out, batch_size=4, progress=False)
    score(folder, write_rows(rows[10:15], tmp_path / "second.parquet"), out, batch_size=4, progress=False)
    assert pq.read_table(out).column("id").to_pylist() == list(range(10, 15))
    assert [p.name for p in out.parent.iterdir()] == ["out.parquet"]
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    calls = {"n": 0}
    real = scoring.score_chunk

    def crash_on_second_batch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(scoring, "score_chunk", crash_on_second_batch)
    with pytest.raises(OSError, match="disk full"):
        score(folder, tmp_path / "first.jsonl", out, batch_size=4, progress=False)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in out.parent.iterdir()] == ["out.parquet"]  # no staging folder left behind


def test_a_glob_of_files_is_scored_in_order_and_bad_inputs_fail_before_writing(baseline, tmp_path: Path) -> None:
    folder, _ = baseline
    rows = input_rows()
    write_rows(rows[:4], tmp_path / "a.jsonl")
    write_rows(rows[4:6], tmp_path / "b.jsonl")
    result = score(folder, str(tmp_path / "*.jsonl"), tmp_path / "out", progress=False)
    assert (result.files, result.rows) == (2, 6)
    assert pq.read_table(tmp_path / "out").column("id").to_pylist() == list(range(6))
    with pytest.raises(ValueError, match="no column 'body'"):
        score(folder, write_rows(rows, tmp_path / "c.parquet"), tmp_path / "none", text_column="body")
    with pytest.raises(ValueError, match="no record has a field 'body'"):
        score(folder, tmp_path / "a.jsonl", tmp_path / "none", text_column="body")
    with pytest.raises(ValueError, match="would be overwritten"):
        score(folder, write_rows([{"text": "x", ERROR_COLUMN: "y"}], tmp_path / "d.csv"), tmp_path / "none")
    with pytest.raises(FileNotFoundError):
        score(folder, str(tmp_path / "*.csvx"), tmp_path / "none")
    with pytest.raises(ValueError, match="engine"):
        score(folder, tmp_path / "a.jsonl", tmp_path / "none", engine="dask")
    assert not (tmp_path / "none").exists()


def test_score_command(baseline, tmp_path: Path) -> None:
    folder, model = baseline
    source = write_rows(input_rows()[:3], tmp_path / "news.jsonl")
    result = CliRunner().invoke(app, ["score", str(folder), "--input", str(source), "--output", str(tmp_path / "out"),
                                      "--no-evidence"])
    assert result.exit_code == 0, result.output
    table = pq.read_table(tmp_path / "out")
    assert table.num_rows == 3 and table.column(EVIDENCE_COLUMN).null_count == 3
    result = CliRunner().invoke(app, ["score", str(folder), "--input", str(tmp_path / "missing.jsonl"),
                                      "--output", str(tmp_path / "out2")])
    assert result.exit_code == 1 and "no such file" in result.output


# --- the Spark engine (slow: starts a JVM) ---------------------------------------------------------------
# Light settings for a local session that stays on the loopback interface.
SPARK_TEST_CONF = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.driver.memory": "1g",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}


@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java")
    with spark_session("local[2]", SPARK_TEST_CONF) as session:
        yield session


@pytest.fixture(scope="module")
def transformer_folder(tiny_bert, tmp_path_factory) -> Path:  # noqa: F811
    pytest.importorskip("torch")
    from scamlens.config import load_config
    from scamlens.training import train

    out = tmp_path_factory.mktemp("transformer")
    config = load_config(ROOT / "configs" / "transformer.yaml", [
        f"data.source=[{TINY_CORPUS}]", f"data.labels={LABELS_FILE}", f"data.processed_dir={out / 'processed'}",
        f"output_dir={out / 'train'}", "tracking.enabled=false", f"model.base_model={tiny_bert}",
        "model.max_length=32", "model.epochs=1", "model.batch_size=4", "model.learning_rate=0.005",
        # The reduced-precision fast paths round differently with the batch a text lands in (int8
        # by ~1e-5, bf16 by up to ~1e-2); fp32 scores do not, and the comparison below is to 1e-6.
        "model.fast_path=none",
    ])
    return train(config).best_dir


def thousand_texts() -> list[str]:
    texts = []
    for i in range(1000):
        if i % 10 == 3:
            text = " ".join(SENTENCES[(i + k) % len(SENTENCES)] for k in range(8))  # long: several chunks
        elif i % 3 == 1:
            text = f"{SENTENCES[i % len(SENTENCES)]} {SENTENCES[(i * 7) % len(SENTENCES)]}"
        else:
            text = SENTENCES[i % len(SENTENCES)]
        texts.append(f"{text} ({i})")
    texts[17] = ""
    return texts


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["baseline", "transformer"])
def test_spark_scores_equal_the_python_api(kind, spark, request, tmp_path: Path) -> None:
    folder = (request.getfixturevalue("baseline")[0] if kind == "baseline"
              else request.getfixturevalue("transformer_folder"))  # trained only when this case runs
    model = scamlens.load(folder)
    texts = thousand_texts()
    rows = [{"id": i, "text": t} for i, t in enumerate(texts)]
    if kind == "baseline":  # JSONL with two lines that cannot be scored, the model read from its path
        source = tmp_path / "news.jsonl"
        lines = [json.dumps(r) for r in rows]
        lines[500:500] = ['{"id": 5000, "text": ', '{"id": 5001}']
        source.write_text("\n".join(lines) + "\n", encoding="utf-8")
        result = score(folder, source, tmp_path / "out", engine="spark", batch_size=64, progress=False)
        assert (result.rows, result.errors) == (1002, 2)
        assert result.error_samples == [f"{source}:501: json: not valid JSON (Expecting value at column 22)",
                                        f"{source}:502: text: missing"]
    else:  # Parquet, the model shipped to executors with SparkFiles
        source = write_rows(rows, tmp_path / "news.parquet")
        result = score(folder, source, tmp_path / "out", engine="spark", batch_size=64, ship_model=True, progress=False)
        assert (result.rows, result.errors) == (1000, 0)
    table = pq.read_table(tmp_path / "out").filter(pa.compute.field(ERROR_COLUMN).is_null()).sort_by("id")
    assert table.column("id").to_pylist() == list(range(1000))
    np.testing.assert_allclose(score_matrix(table, model.labels), model.predict_proba(texts), rtol=0, atol=1e-6)
    assert table.column(LABELS_COLUMN).to_pylist() == [p["labels"] for p in model.predict(texts, evidence=False)]
    if kind == "baseline":  # both engines write the same table for the same input
        score(folder, source, tmp_path / "local", progress=False)
        local = pq.read_table(tmp_path / "local")
        spark_table = pq.read_table(tmp_path / "out").sort_by("id")
        assert spark_table.schema.remove_metadata() == local.schema.remove_metadata()
        assert spark_table.drop_columns(["id"]).to_pylist() == local.sort_by("id").drop_columns(["id"]).to_pylist()


@pytest.mark.slow
def test_spark_rerun_replaces_the_output_and_uris_work(baseline, spark, tmp_path: Path) -> None:
    folder, _ = baseline
    rows = input_rows()
    out = f"file://{tmp_path / 'out'}"  # a Hadoop URI: swapped in with the filesystem's renames
    score(folder, write_rows(rows[:10], tmp_path / "a.csv"), out, engine="spark", progress=False)
    result = score(folder, write_rows(rows[10:12], tmp_path / "b.csv"), out, engine="spark", progress=False)
    assert result.rows == 2
    assert sorted(pq.read_table(tmp_path / "out").column("id").to_pylist()) == ["10", "11"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.slow
def test_spark_numbers_lines_across_file_splits(baseline, spark, tmp_path: Path) -> None:
    folder, _ = baseline
    texts = thousand_texts()
    for name, bad_line in (("a", 3), ("b", 777)):
        lines = [json.dumps({"id": f"{name}{i}", "text": t}) for i, t in enumerate(texts)]
        lines[bad_line - 1] = '{"id": "broken", "text": '
        (tmp_path / f"{name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    spark.conf.set("spark.sql.files.maxPartitionBytes", "32768")  # a few splits per file
    try:
        assert spark.read.text(str(tmp_path / "b.jsonl")).rdd.getNumPartitions() > 2
        result = score(folder, str(tmp_path / "*.jsonl"), tmp_path / "spark", engine="spark", progress=False)
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    assert result.error_samples == [f"{tmp_path / 'a.jsonl'}:3: json: not valid JSON (Expecting value at column 26)",
                                    f"{tmp_path / 'b.jsonl'}:777: json: not valid JSON (Expecting value at column 26)"]
    local = score(folder, str(tmp_path / "*.jsonl"), tmp_path / "local", progress=False)
    assert local.error_samples == result.error_samples
    assert (pq.read_table(tmp_path / "spark").sort_by([("id", "ascending"), ("error", "ascending")]).to_pylist()
            == pq.read_table(tmp_path / "local").sort_by([("id", "ascending"), ("error", "ascending")]).to_pylist())


@pytest.mark.slow
def test_both_engines_decide_at_the_operating_point_asked_for(baseline, spark, tmp_path: Path) -> None:
    folder, default = baseline
    feed = scamlens.load(folder, operating_point="feed")
    rows = input_rows()
    texts = [r["text"] for r in rows]
    expected = [p["labels"] for p in feed.predict(texts, evidence=False)]
    assert expected != [p["labels"] for p in default.predict(texts, evidence=False)]  # the point matters here
    source = write_rows(rows, tmp_path / "news.jsonl")
    for engine in ("local", "spark"):
        score(folder, source, tmp_path / engine, engine=engine, operating_point="feed", progress=False)
        table = pq.read_table(tmp_path / engine).sort_by("id")
        assert table.column(LABELS_COLUMN).to_pylist() == expected, engine
        with pytest.raises(scamlens.ScamlensError, match="no operating point 'nightly'; this model has default, feed"):
            score(folder, source, tmp_path / f"{engine}-none", engine=engine, operating_point="nightly", progress=False)
        assert not (tmp_path / f"{engine}-none").exists()
    with pytest.raises(scamlens.ScamlensError, match=r"operating_point='feed', but the Model passed decides at 'default'"):
        score(default, source, tmp_path / "mixed", operating_point="feed", progress=False)
