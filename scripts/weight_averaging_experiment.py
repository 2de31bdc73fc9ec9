"""An *experiment*: do averaged weights (a moving average, an epoch tail, a soup) rank real news better?

    python scripts/weight_averaging_experiment.py record OUT [--config configs/transformer.yaml] \
        [--set KEY=VALUE ...] [--ema 0.99 0.995]
    python scripts/weight_averaging_experiment.py average OUT SOURCE [SOURCE ...] [--template MODEL]
    python scripts/weight_averaging_experiment.py interpolate OUT MODEL --share 0.2 [--base REF]
    python benchmarks/bench_variants.py --redecide OUT   # thresholds refitted on written validation

Averages of fine-tuned weights are known to hold up better under a shift of distribution than the
weights of one point of training, and written-to-real is such a shift. `record` trains a run config
as `scamlens train` does (tracking off, into OUT/run) and, on the side, writes each epoch's final
weights (`OUT/epoch-N.safetensors`) and exponential moving averages of the weights over optimizer
steps (`OUT/ema-D-epoch-N.safetensors`). It wraps the trainer's step and epoch methods without
changing what they do, so the model the run saves is bit-identical to one trained without it.

`average` writes a model folder whose encoder weights are the element-wise mean of the sources: model
folders fine-tuned from one base model (a "soup") or recorded files (a tail of epochs). Every other
file comes from `--template` (by default the first source that is a folder). `interpolate` writes a
copy of a model folder whose encoder is moved `--share` of the way back to its base model's weights
(WiSE-FT: what `pretrained_share` does at the end of training, here on a folder already trained, so
several shares can be compared without training again). Either folder keeps its template's settings:
- its thresholds: read F1 only after refitting them on the written validation split
  (`bench_variants.py --redecide OUT`: its max_f1 row is the rule training uses);
- its CPU fast-path choice: the folder scores with the variant the template's measurements pick on
  this machine (bf16 here), so compare it with the template loaded the same way, or pass
  `fast_path="none"` to both;
- its metrics and model card, which describe the template, not the average.
Nothing here ships.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from scamlens.kinds.transformer import trainer
from scamlens.kinds.transformer.base_model import load_base_model
from scamlens.kinds.transformer.checkpoints import cpu_state
from scamlens.kinds.transformer.interpolation import pretrained_state, toward_pretrained
from scamlens.runtime.atomic import atomic_dir
from scamlens.runtime.bert import WEIGHTS_FILE
from scamlens.runtime.classifier import CLASSIFIER_FILE
from scamlens.runtime.folder import META_FILE, write_manifest
from scamlens.runtime.transformer import ENCODER_DIR


class MovingAverage:
    """An exponential moving average of a model's floating-point weights, one update per optimizer step.

    The first update copies the weights; update n then keeps min(decay, (1 + n) / (10 + n)) of the
    average, so that early steps, far from where training ends, fade quickly (the `num_updates` rule
    of TensorFlow's ExponentialMovingAverage).
    """

    def __init__(self, decay: float):
        if not 0 < decay < 1:
            raise ValueError(f"decay must be in (0, 1); got {decay}")
        self.decay, self.updates = decay, 0
        self.weights: dict[str, torch.Tensor] = {}

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        state = model.state_dict()
        self.updates += 1
        if self.updates == 1:
            self.weights = {k: v.detach().float().clone() for k, v in state.items() if v.is_floating_point()}
            return
        keep = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for name, average in self.weights.items():
            average.mul_(keep).add_(state[name].detach().float(), alpha=1 - keep)

    def state(self, full: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """`full` (the model's CPU state) with its floating-point weights replaced by their averages."""
        return {**full, **{k: v.to("cpu", full[k].dtype).contiguous() for k, v in self.weights.items()}}


@contextlib.contextmanager
def recording(out: Path, decays: Sequence[float]) -> Iterator[dict[float, MovingAverage]]:
    """While open, a TransformerClassifier that trains writes its epochs' weights and averages to `out`.

    One training run per context: the averages it yields follow every step taken while it is open.
    """
    out.mkdir(parents=True, exist_ok=True)
    averages = {decay: MovingAverage(decay) for decay in decays}
    step, epoch = trainer.TransformerClassifier._optimizer_step, trainer.TransformerClassifier._train_epoch

    def recorded_step(self, run):
        step(self, run)
        for average in averages.values():
            average.update(self.model)

    def recorded_epoch(self, run, state, index):
        loss = epoch(self, run, state, index)
        weights = cpu_state(self.model)  # copied once, for the epoch's file and every average's
        save_file(weights, out / f"epoch-{index + 1}.safetensors")
        for decay, average in averages.items():
            save_file(average.state(weights), out / f"ema-{decay}-epoch-{index + 1}.safetensors")
        return loss

    trainer.TransformerClassifier._optimizer_step = recorded_step
    trainer.TransformerClassifier._train_epoch = recorded_epoch
    try:
        yield averages
    finally:
        trainer.TransformerClassifier._optimizer_step, trainer.TransformerClassifier._train_epoch = step, epoch


def record(out: Path, config_path: Path, overrides: Sequence[str], decays: Sequence[float]) -> Path:
    """Train `config_path` as `scamlens train` would, recording into `out`; returns the run's model-best."""
    from scamlens.config import load_config
    from scamlens.training import train

    config = load_config(config_path, [*overrides, f"output_dir={out / 'run'}", "tracking.enabled=false",
                                       f"data.processed_dir={out / 'processed'}"])
    with recording(out, decays):
        return Path(train(config).best_dir)


def require_same_tensors(states: Sequence[dict[str, torch.Tensor]], names: Sequence[str]) -> None:
    """Raise ValueError naming the first state whose tensor names or shapes differ from the first one's."""
    first = states[0]
    for name, state in zip(names[1:], states[1:], strict=True):
        differs = sorted(state.keys() ^ first.keys()) or [k for k in first if state[k].shape != first[k].shape]
        if differs:
            raise ValueError(f"{name} does not fit {names[0]} (first difference: tensor {differs[0]!r}); "
                             "only weights of one architecture average")


def mean_state(states: Sequence[dict[str, torch.Tensor]], names: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
    """The element-wise mean of floating-point tensors (in float64, stored as they were); others from the first."""
    require_same_tensors(states, names or [f"source {i}" for i in range(1, len(states) + 1)])
    return {name: (sum(s[name].double() for s in states) / len(states)).to(tensor.dtype)
            if tensor.is_floating_point() else tensor for name, tensor in states[0].items()}


def weights_file(source: Path) -> Path:
    return source / ENCODER_DIR / WEIGHTS_FILE if source.is_dir() else source


def average(out: Path, sources: Sequence[Path], template: Path | None = None, replace: bool = False) -> Path:
    """A model folder at `out`: `template`'s files, with the mean of the sources' encoder weights.

    Everything is checked before anything is written, and the folder is swapped in atomically, so a
    failure leaves an existing `out` as it was; `out` must not overlap a source or the template.
    """
    template = template or next((s for s in sources if s.is_dir()), None)
    if template is None:
        raise ValueError("no source is a model folder: name one with --template")
    inputs = [*sources, template]
    missing = [str(weights_file(s)) for s in inputs if not weights_file(s).is_file()]
    if missing:
        raise FileNotFoundError(f"no weights at {', '.join(missing)}")
    check_output(out, inputs, replace)
    weights = mean_state([load_file(weights_file(s)) for s in sources], [str(s) for s in sources])
    if template.resolve() not in {s.resolve() for s in sources}:  # else mean_state has checked it already
        require_same_tensors([load_file(weights_file(template)), weights],
                             [f"template {template}", "the mean of the sources"])
    return write_folder(out, template, weights)


def check_output(out: Path, inputs: Sequence[Path], replace: bool) -> None:
    """Refuse an output folder that overlaps an input (swapping it in would delete that input) or that
    exists without `replace`."""
    target = out.resolve()
    for path in inputs:
        path = path.resolve()
        if target == path or target in path.parents or path in target.parents:
            raise ValueError(f"{out} overlaps the input {path}: choose another output folder")
    if out.exists() and not replace:
        raise FileExistsError(f"{out} exists: pass --replace to overwrite it")


def write_folder(out: Path, template: Path, weights: dict[str, torch.Tensor],
                 edit: Callable[[Path], None] | None = None) -> Path:
    """`template`'s files at `out` with `weights` as the encoder's (and `edit` applied to the staged
    folder), swapped in atomically so a failure leaves an existing `out` as it was."""
    with atomic_dir(out) as staging:
        shutil.copytree(template, staging, dirs_exist_ok=True)
        save_file(weights, staging / ENCODER_DIR / WEIGHTS_FILE, metadata={"format": "pt"})
        if edit is not None:
            edit(staging)
        write_manifest(staging)
    return out


def pretrained_weights(ref: str, labels: Sequence[str]) -> tuple[dict[str, torch.Tensor], set[str]]:
    """A base model's weights under the names a fine-tuned folder's encoder file uses, and the names
    the base model does not hold (the new head's)."""
    _, model, newly_initialized = load_base_model(ref, labels)
    return pretrained_state(model, newly_initialized), newly_initialized


def interpolate(out: Path, folder: Path, share: float, base: str | None = None, replace: bool = False) -> Path:
    """A copy of the model folder `folder` at `out`, its encoder moved `share` of the way back to `base`
    (by default the base model it was fine-tuned from); checked before anything is written.

    The copy records the share it now holds in its settings: a folder trained with a share s0 and moved
    by `share` holds 1 - (1 - s0) * (1 - share) of the pre-trained weights.
    """
    if not 0 <= share < 1:
        raise ValueError(f"--share must be in [0, 1); got {share}")
    if not weights_file(folder).is_file():
        raise FileNotFoundError(f"no weights at {weights_file(folder)}")
    check_output(out, [folder], replace)
    settings = json.loads((folder / CLASSIFIER_FILE).read_text(encoding="utf-8"))
    params = settings["settings"]["params"]
    base = base or params["base_model"]
    tuned = load_file(weights_file(folder))
    pretrained, head = pretrained_weights(base, settings["labels"])
    unmatched = sorted(k for k, v in tuned.items() if v.is_floating_point() and k not in pretrained and k not in head)
    if unmatched:
        raise ValueError(f"base model {base!r} holds no weight {unmatched[0]!r} of {folder} "
                         f"({len(unmatched)} such): it is not the model the folder was fine-tuned from")
    held = round(1 - (1 - params.get("pretrained_share", 0.0)) * (1 - share), 12)

    def record_share(staging: Path) -> None:  # classifier.json's settings.params, and meta.json's settings
        for name, keys in ((CLASSIFIER_FILE, ("settings", "params")), (META_FILE, ("settings",))):
            if not (staging / name).is_file():  # a folder saved outside training has no meta.json
                continue
            record = json.loads((staging / name).read_text(encoding="utf-8"))
            target = record
            for key in keys:
                target = target.setdefault(key, {})
            target["pretrained_share"] = held
            (staging / name).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")

    return write_folder(out, folder, toward_pretrained(tuned, pretrained, share), record_share)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    rec = commands.add_parser("record", help="train, writing each epoch's weights and moving averages")
    rec.add_argument("out", type=Path)
    rec.add_argument("--config", type=Path, default=Path("configs/transformer.yaml"))
    rec.add_argument("--set", dest="overrides", action="append", default=[], help="section.key=value")
    rec.add_argument("--ema", type=float, nargs="+", default=[0.99, 0.995], help="moving-average decays")
    avg = commands.add_parser("average", help="a model folder holding the mean of the sources' weights")
    avg.add_argument("out", type=Path)
    avg.add_argument("sources", type=Path, nargs="+", help="model folders or recorded .safetensors files")
    avg.add_argument("--template", type=Path, help="the model folder the other files come from")
    avg.add_argument("--replace", action="store_true", help="overwrite an existing output folder")
    wise = commands.add_parser("interpolate", help="a model folder moved part of the way back to its base model")
    wise.add_argument("out", type=Path)
    wise.add_argument("model", type=Path, help="a transformer model folder")
    wise.add_argument("--share", type=float, required=True, help="the pre-trained weights' share, in [0, 1)")
    wise.add_argument("--base", help="the base model (default: the one the folder was fine-tuned from)")
    wise.add_argument("--replace", action="store_true", help="overwrite an existing output folder")
    args = parser.parse_args()
    if args.command == "interpolate":
        print(f"wrote {interpolate(args.out, args.model, args.share, args.base, args.replace)}")
    elif args.command == "record":
        print(f"trained: {record(args.out, args.config, args.overrides, args.ema)}; weights in {args.out}")
    else:
        print(f"averaged {len(args.sources)} sources into {average(args.out, args.sources, args.template, args.replace)}")


if __name__ == "__main__":
    main()
