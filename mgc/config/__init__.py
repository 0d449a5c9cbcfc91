"""One typed configuration for every stage: dataclasses loaded from TOML, overridable from the CLI.

A config file has one table per dataclass of :mod:`mgc.config.sections` (``[run]``,
``[dataset]``, ...) plus ``[models.<name>]`` and ``[grid.<name>]`` tables checked against
:mod:`mgc.config.models`. Unknown tables or keys, wrong types and out-of-range values are user
errors found when the config is loaded (:mod:`mgc.config.schema`), so a typo never silently
falls back to a default and no stage starts work on a bad config.
"""

from mgc.config.loading import bundled_configs, load_config, parse_override, resolve_config
from mgc.config.models import MODELS, model_params
from mgc.config.schema import Config, check_models, keras_backend
from mgc.config.sections import (
    DATASET_KINDS,
    DEVICE_PATTERN,
    DISTRIBUTE_STRATEGIES,
    PRECISIONS,
    SPLIT_METHODS,
    SPLITS,
    UNUSED,
    VALIDATION,
    AudioConfig,
    AugmentConfig,
    DatasetConfig,
    DistributeConfig,
    ExportConfig,
    ExtractConfig,
    InputConfig,
    RunConfig,
    SearchConfig,
    SpectrogramConfig,
    SplitConfig,
    TrainConfig,
    bounded,
    check_ranges,
)
from mgc.io import settings_hash  # re-exported: configs are hashed to key caches and exports

__all__ = [
    "DATASET_KINDS", "DEVICE_PATTERN", "DISTRIBUTE_STRATEGIES", "MODELS", "SPLIT_METHODS", "SPLITS", "UNUSED",
    "VALIDATION", "PRECISIONS", "AudioConfig", "AugmentConfig", "Config",
    "DatasetConfig", "DistributeConfig", "ExportConfig", "ExtractConfig", "InputConfig", "RunConfig", "SearchConfig",
    "SpectrogramConfig", "SplitConfig", "TrainConfig", "bounded", "bundled_configs", "check_models", "check_ranges",
    "keras_backend", "load_config", "model_params", "parse_override", "resolve_config", "settings_hash",
]

