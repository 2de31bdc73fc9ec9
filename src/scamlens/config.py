"""Run configuration: strict pydantic models loaded from YAML, with dotted command-line overrides.

Unknown keys are rejected everywhere so a typo (``epoch: 3``) fails loudly instead of being ignored.
Relative paths in a config are resolved against the current working directory, like the CLI.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, ValidationError, field_validator, model_validator

from .runtime.decision import DEFAULT_OPERATING_POINT
from .runtime.errors import ScamlensError


class ConfigError(ScamlensError, ValueError):
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
    # The folder that `source` paths of labels-by-reference rows are relative to (see data/references.py).
    text_root: str | None = None
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


class KindConfig(Strict):
    """What every kind's model section has; each kind's schema (in scamlens.kinds) adds its settings
    and holds the one set of defaults for them."""

    kind: str
    chunking: ChunkingConfig = Field(default_factory=ChunkingConfig)


class KindSchemaError(ValueError):
    """A model section that its kind's schema rejects; carries the schema's own errors."""

    def __init__(self, kind: str, error: ValidationError):
        self.kind, self.error = kind, error
        super().__init__("; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()))


def _default_model() -> KindConfig:
    from .kinds import DEFAULT_KIND, get_kind

    return get_kind(DEFAULT_KIND).config()


class TrackingConfig(Strict):
    enabled: bool = True
    # None: MLFLOW_TRACKING_URI if set, else an embedded SQLite store under the run's output dir.
    uri: str | None = None
    experiment: str = "scamlens"
    # Registered under this name with the alias "challenger"; None logs the run without registering.
    registered_model: str | None = "scamlens"


class ThresholdRule(Strict):
    """How per-label thresholds are tuned on the validation split.

    max_f1: per-label threshold maximising validation F1. precision_target: the lowest threshold whose
    validation precision reaches precision_target (max-F1 where none does, with a warning). prior_f1:
    the threshold maximising F1 with validation negatives weighted so that positives make up
    deployment_prior, the share of on-theme items where the model serves (a news feed: well under 1%).
    """

    policy: Literal["max_f1", "precision_target", "prior_f1"] = "max_f1"
    precision_target: float = Field(0.9, gt=0, le=1)
    deployment_prior: float = Field(0.005, gt=0, lt=1)


class OperatingPointConfig(ThresholdRule):
    """Another threshold rule, fitted beside the run's on the same validation scores and stored in the
    same model folder under a name; `load(..., operating_point=NAME)` serves with it."""

    policy: Literal["max_f1", "precision_target", "prior_f1"] = "prior_f1"


class DecisionConfig(ThresholdRule):
    """How scores become decisions; fitted on the written validation split after the classifier:
    calibration, then thresholds by the inherited rule (the default operating point)."""

    # Per-label calibration of the classifier's scores, applied before thresholds (runtime/calibration.py).
    calibration: Literal["none", "temperature", "isotonic"] = "none"
    # How a long document's window scores combine (runtime/pooling.py); load(..., pooling=) overrides it.
    pooling: Literal["max", "mean_top_k", "noisy_or"] = "max"
    pooling_k: int = Field(2, ge=1)
    # Named alternatives to `policy`, e.g. {feed: {policy: prior_f1, deployment_prior: 0.005}} for a
    # raw news feed where almost nothing is on-theme; one model folder then serves both streams.
    operating_points: dict[str, OperatingPointConfig] = Field(default_factory=dict)

    @field_validator("operating_points")
    @classmethod
    def _named(cls, points: dict[str, OperatingPointConfig]) -> dict[str, OperatingPointConfig]:
        for name in points:
            if name == DEFAULT_OPERATING_POINT or not re.fullmatch(r"[A-Za-z0-9_-]+", name):
                raise ValueError(f"operating point name {name!r}: use letters, digits, _ or -, and not "
                                 f"{DEFAULT_OPERATING_POINT!r} (the run's own policy)")
        return points


class RunConfig(Strict):
    name: str = "baseline"
    seed: int = 13
    output_dir: str = "train"
    data: DataConfig = Field(default_factory=DataConfig)
    model: SerializeAsAny[KindConfig] = Field(default_factory=_default_model)
    decision: DecisionConfig = Field(default_factory=DecisionConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)

    @field_validator("tracking", mode="before")
    @classmethod
    def _tracking_may_be_a_switch(cls, value: Any) -> Any:
        # `tracking: false` is the documented way to train without MLflow.
        return {"enabled": value} if isinstance(value, bool) else value

    @field_validator("model", mode="before")
    @classmethod
    def _model_of_its_kind(cls, value: Any) -> Any:
        # The schema is the kind's own (a plug-in's included), chosen by the section's `kind`.
        from .kinds import DEFAULT_KIND, get_kind

        if isinstance(value, KindConfig):
            return value
        if not isinstance(value, dict):
            raise ValueError(f"expected a mapping with a 'kind', got {value!r}")
        kind = get_kind(value.get("kind", DEFAULT_KIND))
        try:
            return kind.config.model_validate({**value, "kind": kind.name})
        except ValidationError as exc:
            raise KindSchemaError(kind.name, exc) from None

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
        inner = (problem.get("ctx") or {}).get("error")
        if isinstance(inner, KindSchemaError):  # name the kind's field: model.tfidf.C
            for sub in inner.error.errors():
                lines.append(f"  {where}.{inner.kind}.{'.'.join(str(p) for p in sub['loc'])}: {sub['msg']}")
            continue
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
