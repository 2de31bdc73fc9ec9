"""Building the DatasetDict: grouped splits, features, fingerprint and byte-for-byte reproducibility."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from scamlens.config import DataConfig
from scamlens.data.dataset import BUILD_INFO, build_corpus, load_build, save_build
from scamlens.data.labels import load_labels
from scamlens.data.splits import assign_splits

from .conftest import LABELS_FILE

LABELS = load_labels(LABELS_FILE)


def tree_digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_build_twice_gives_same_fingerprint_and_bytes(tmp_path: Path, baseline_config) -> None:
    first = build_corpus(baseline_config.data, LABELS)
    second = build_corpus(baseline_config.data, LABELS)
    assert first.fingerprint == second.fingerprint and len(first.fingerprint) == 64
    save_build(first, baseline_config.data, tmp_path / "a")
    save_build(second, baseline_config.data, tmp_path / "b")
    assert tree_digest(tmp_path / "a") == tree_digest(tmp_path / "b")


def test_fingerprint_changes_with_data_and_split_config(baseline_config, tiny_corpus: Path) -> None:
    original = build_corpus(baseline_config.data, LABELS).fingerprint
    reseeded = baseline_config.data.model_copy(update={"split": baseline_config.data.split.model_copy(update={"seed": 99})})
    assert build_corpus(reseeded, LABELS).fingerprint != original
    lines = tiny_corpus.read_text().splitlines()
    tiny_corpus.write_text("\n".join(lines[:-1]) + "\n")
    assert build_corpus(baseline_config.data, LABELS).fingerprint != original


def test_saved_dataset_has_classlabel_features_and_build_info(tmp_path: Path, baseline_config) -> None:
    from datasets import ClassLabel

    build = build_corpus(baseline_config.data, LABELS)
    dataset, info = load_build(save_build(build, baseline_config.data, tmp_path / "built"))
    assert set(dataset) == {"train", "validation", "test"}
    train = dataset["train"]
    assert list(train.features) == ["id", "text", "labels", "story", "kind", "register", "form"]
    assert isinstance(train.features["labels"].feature, ClassLabel)
    assert train.features["labels"].feature.names == list(LABELS.names)
    assert info["fingerprint"] == build.fingerprint
    assert sum(len(d) for d in dataset.values()) == 30
    assert json.loads((tmp_path / "built" / BUILD_INFO).read_text())["labels"] == list(LABELS.names)


def test_no_story_is_in_two_splits(baseline_config) -> None:
    build = build_corpus(baseline_config.data, LABELS)
    split_of_story: dict[str, set[str]] = {}
    for example, split in zip(build.examples, build.splits, strict=True):
        split_of_story.setdefault(example.group, set()).add(split)
    assert all(len(s) == 1 for s in split_of_story.values())
    # s01 has two rows: they must stay together
    assert len(split_of_story["s01"]) == 1


def test_assign_splits_groups_stratifies_and_is_deterministic() -> None:
    groups = [f"g{i // 2}" for i in range(400)]  # 200 groups of two rows
    keys = [[f"combo={'pos' if (i // 2) % 4 == 0 else 'neg'}"] for i in range(400)]
    splits = assign_splits(groups, keys, (0.7, 0.15, 0.15), seed=3)
    assert splits == assign_splits(groups, keys, (0.7, 0.15, 0.15), seed=3)
    assert splits != assign_splits(groups, keys, (0.7, 0.15, 0.15), seed=4)
    for g in set(groups):
        assert len({s for s, gg in zip(splits, groups, strict=True) if gg == g}) == 1
    counts = {s: splits.count(s) for s in ("train", "validation", "test")}
    assert counts == {"train": 280, "validation": 60, "test": 60}
    positives = {s: sum(1 for i, sp in enumerate(splits) if sp == s and keys[i][0] == "combo=pos") for s in counts}
    # 50 positive groups: 35 to train, and the 15 held out split 7/8 (a group cannot be halved).
    assert positives["train"] == 70
    assert sorted([positives["validation"], positives["test"]]) == [14, 16]


def test_user_labels_flow_through_the_build(tmp_path: Path) -> None:
    from scamlens.data.labels import LabelSet

    rows = [{"t": f"text number {i} is about {'refunds' if i % 2 else 'phishing'} in city {i}",
             "y": ["refund"] if i % 2 else ["phishing"]} for i in range(40)]
    path = tmp_path / "mine.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    config = DataConfig(source=[str(path)], text_column="t", labels_column="y", id_column=None,
                        group_column=None, extra_columns=[], split={"stratify_by": []})
    build = build_corpus(config, LabelSet(("phishing", "refund")))
    dataset, _ = load_build(save_build(build, config, tmp_path / "out"))
    assert dataset["train"].features["labels"].feature.names == ["phishing", "refund"]
    assert sum(len(d) for d in dataset.values()) == 40
