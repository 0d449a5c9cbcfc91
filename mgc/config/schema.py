"""The whole config: :class:`Config` (one field per table), its validation, and how a TOML table
becomes a typed dataclass (unknown keys and wrong types are user errors, never defaults)."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mgc.config.models import MODEL_PARAMS, MODELS, TrainingParams, param_fields, pretrained
from mgc.config.sections import (
    DATASET_KINDS,
    DEVICE_PATTERN,
    DISTRIBUTE_STRATEGIES,
    FMA_LABELS,
    PRECISIONS,
    SPLIT_METHODS,
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
    check_ranges,
    range_error,
)
from mgc.errors import UserError


@dataclass
class Config:
    run: RunConfig = field(default_factory=RunConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    spectrogram: SpectrogramConfig = field(default_factory=SpectrogramConfig)
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    input: InputConfig = field(default_factory=InputConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    distribute: DistributeConfig = field(default_factory=DistributeConfig)
    # Model hyper-parameters and grids; filled in by the model stages (free-form tables,
    # validated by the model builders): [models.<name>] and [grid.<name>].
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    grid: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    source: str = ""  # the TOML file this came from (informational)

    @property
    def workdir(self) -> Path:
        return Path(self.run.workdir)

    @property
    def export_dir(self) -> Path:
        return Path(self.export.dir.replace("{workdir}", self.run.workdir))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def validate(self) -> "Config":
        """Check values whose mistakes would otherwise surface deep inside a stage: every numeric
        setting's range (:func:`bounded`), then the rules that relate several settings."""
        for f in dataclasses.fields(self):
            if dataclasses.is_dataclass(section := getattr(self, f.name)):
                check_ranges(section, f.name)
        if self.dataset.kind not in DATASET_KINDS:
            raise UserError(
                f"unknown dataset kind {self.dataset.kind!r}; choose one of {', '.join(DATASET_KINDS)}"
            )
        self._validate_protocol()
        if self.run.seed + self.run.repeats > 2**32:
            raise UserError(f"[run] seed + repeats must stay below 2**32 (seeds are 32-bit), got {self.run.seed} "
                            f"+ {self.run.repeats}")
        fractions = [self.split.baseline_train, self.split.fusion_train, self.split.test]
        if any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
            raise UserError(f"[split] fractions must be >= 0 and sum to 1, got {fractions}")
        if self.split.baseline_train <= 0 or (self.split.test <= 0 and self.split.method == "stratified"):
            raise UserError("[split] baseline_train and test must be > 0")
        if self.audio.decoder not in ("soundfile", "tfio"):
            raise UserError(f"[audio] decoder must be 'soundfile' or 'tfio', got {self.audio.decoder!r}")
        if self.audio.min_duration > self.audio.duration:
            raise UserError("[audio] min_duration cannot exceed duration")
        if self.dataset.subset not in ("", "small", "medium", "large"):
            raise UserError(f"[dataset] subset must be small, medium or large, got {self.dataset.subset!r}")
        if self.train.fusion_cnn not in ("cnn", "small_cnn"):
            raise UserError("[train] fusion_cnn must be 'cnn' or 'small_cnn'")
        self._validate_recipe()
        self._validate_distribute()
        check_models(self)
        return self

    def _validate_protocol(self) -> None:
        """The split method and label rule fit the dataset (a published split exists for one dataset)."""
        method, kind = self.split.method, self.dataset.kind
        if method not in SPLIT_METHODS:
            raise UserError(f"[split] method must be one of {', '.join(SPLIT_METHODS)}, got {method!r}")
        needs = {"official": "fma", "fault_filtered": "gtzan"}.get(method)
        if needs and kind != needs:
            raise UserError(f'[split] method = "{method}" is {needs.upper()}\'s published split; it needs '
                            f'[dataset] kind = "{needs}" (this config has {kind!r}); use method = "stratified"')
        if self.dataset.label not in FMA_LABELS:
            raise UserError(f"[dataset] label must be one of {', '.join(FMA_LABELS)}, got {self.dataset.label!r}")
        if self.dataset.label != "root" and kind != "fma":
            raise UserError(f'[dataset] label = "{self.dataset.label}" is an FMA column; it needs kind = "fma"')

    def _validate_recipe(self) -> None:
        """[train]'s crops, fine-tuning and precision, and [augment], fit together and the clip."""
        t, a = self.train, self.augment
        if t.crop_seconds and not t.crop_seconds < self.audio.duration:
            raise UserError(f"[train] crop_seconds must be shorter than [audio] duration ({self.audio.duration:g} s), "
                            f"got {t.crop_seconds:g}; 0 trains on whole clips")
        if t.crop_seconds and t.crop_seconds * self.audio.sample_rate < self.spectrogram.n_fft:
            raise UserError(f"[train] crop_seconds = {t.crop_seconds:g} is shorter than one FFT window "
                            f"({self.spectrogram.n_fft} samples)")
        if t.mixed_precision not in PRECISIONS:
            raise UserError(f"[train] mixed_precision must be one of {', '.join(PRECISIONS)}, "
                            f"got {t.mixed_precision!r}")
        if not isinstance(t.jit_compile, bool) and t.jit_compile != "auto":
            raise UserError(f'[train] jit_compile must be true, false or "auto", got {t.jit_compile!r}')
        if t.jit_compile is True and self.run.deterministic and keras_backend() == "tensorflow":
            raise UserError("[train] jit_compile = true needs [run] deterministic = false under TensorFlow: Keras "
                            "runs XLA only without TensorFlow's deterministic kernels (it would fall back to no "
                            "XLA); set run.deterministic = false, or jit_compile = \"auto\"")
        if t.steps_per_execution > 1 and keras_backend() == "torch":
            raise UserError("[train] steps_per_execution must be 1 under the PyTorch backend (Keras runs one batch "
                            "per call there)")
        if t.freeze_epochs:
            weights = self.models.get("cnn", {}).get("weights", "none")
            searched = "weights" in self.grid.get("cnn", {})
            if "cnn" in self.train.models and weights in ("", "none") and not searched:
                raise UserError('[train] freeze_epochs fine-tunes a pretrained CNN: set [models.cnn] weights = '
                                '"imagenet" or a local notop weights file, or freeze_epochs = 0')
        if a.copies and not a.waveform_active():
            raise UserError("[augment] copies needs a change to make: speed, pitch_semitones or noise_snr_db > 0")
        if a.waveform_active() and not a.copies:
            raise UserError("[augment] speed, pitch_semitones and noise_snr_db change the extra copies: set "
                            "copies >= 1 (or leave them at 0)")
        if a.freq_mask_bands > self.spectrogram.n_mels and a.freq_masks:
            raise UserError(f"[augment] freq_mask_bands cannot exceed [spectrogram] n_mels ({self.spectrogram.n_mels})")

    def _validate_distribute(self) -> None:
        d = self.distribute
        if d.strategy not in DISTRIBUTE_STRATEGIES:
            raise UserError(f"[distribute] strategy must be one of {', '.join(DISTRIBUTE_STRATEGIES)}, "
                            f"got {d.strategy!r}")
        for device in d.devices:
            if not isinstance(device, str) or not re.fullmatch(DEVICE_PATTERN, device.strip(), re.IGNORECASE):
                raise UserError(f"[distribute] devices: {device!r} is not a device like 'gpu:0' or 'cpu:1'")
        if d.devices and d.strategy == "multi_worker":
            raise UserError('[distribute] devices applies to strategy = "data_parallel" only (multi_worker uses '
                            "every worker's GPUs, or its CPU)")
        backend = keras_backend()
        if d.strategy != "none" and backend not in ("tensorflow", "jax"):
            raise UserError(f"[distribute] strategy = {d.strategy!r} needs the TensorFlow or JAX backend "
                            f"(Keras has no distribution for {backend}); set KERAS_BACKEND=tensorflow or jax")


def check_models(config: Config) -> None:
    """Model names in [train] models, [models.*] and [grid.*] exist, and every key of those
    tables is a real hyper-parameter of a valid type and range (mgc.config.models)."""
    for name in list(config.train.models) + list(config.models) + list(config.grid):
        if name not in MODEL_PARAMS:
            raise UserError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    for name in [n for n in list(config.train.models) + list(config.grid) if pretrained(n)]:
        raise UserError(f"{name!r} is a pretrained model, not trained by a run: [models.{name}] configures "
                        f"the view it makes; train the models that read that view")
    for where, tables in (("models", config.models), ("grid", config.grid)):
        for name, table in tables.items():
            if not isinstance(table, dict):
                raise UserError(f"[{where}.{name}] must be a table")
            fields = param_fields(name)
            unknown = sorted(set(table) - set(fields))
            if unknown:
                raise UserError(f"unknown key {unknown[0]!r} in [{where}.{name}]; known keys: "
                                f"{', '.join(sorted(fields))}")
            hints = {**typing.get_type_hints(MODEL_PARAMS[name]), **typing.get_type_hints(TrainingParams)}
            for key, value in table.items():
                values = value if where == "grid" else [value]
                if where == "grid" and (not isinstance(value, list) or not value):
                    raise UserError(f"[grid.{name}] {key} must be a non-empty list of values")
                for i, item in enumerate(values):
                    label = f"{where}.{name}.{key}" + (f"[{i}]" if where == "grid" else "")
                    _coerce(item, hints[key], label)
                    choices = fields[key].metadata.get("choices")
                    if choices and isinstance(item, str) and item not in choices:  # e.g. the SVM's gamma
                        number = " or a number" if hints[key] is not str else ""
                        raise UserError(f"[{where}.{name}] {key} must be {', '.join(map(repr, choices))}{number}, "
                                        f"got {item!r}")
                    if not isinstance(item, (list, bool, str)) and (problem := range_error(fields[key], item)):
                        raise UserError(f"[{where}.{name}] {key} {problem}, got {item!r}")


def keras_backend() -> str:
    """The Keras backend this process uses (or will), without importing Keras: KERAS_BACKEND,
    else keras.json's ``backend``, else TensorFlow (Keras's own order)."""
    if "keras" in sys.modules:
        return sys.modules["keras"].backend.backend()
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        return json.loads(Path(home, "keras.json").read_text()).get("backend", "tensorflow")
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


def _build(cls: type, values: dict[str, Any], where: str) -> Any:
    """Build dataclass ``cls`` from a TOML table, rejecting unknown keys and wrong types."""
    if not isinstance(values, dict):
        raise UserError(f"[{where}] must be a table")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise UserError(
            f"unknown key {unknown[0]!r} in [{where}]; known keys: {', '.join(sorted(known))}"
        )
    kwargs = {}
    for name, value in values.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _build(hint, value, name if where == "config" else f"{where}.{name}")
        else:
            kwargs[name] = _coerce(value, hint, f"{where}.{name}" if where != "config" else name)
    return cls(**kwargs)


def _coerce(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint) or hint
    if origin in (typing.Union, types.UnionType):  # e.g. the MLP's width: int | list[int]
        for option in typing.get_args(hint):
            try:
                return _coerce(value, option, where)
            except UserError:
                pass
        names = " or ".join((typing.get_origin(o) or o).__name__ for o in typing.get_args(hint))
        raise UserError(f"{where} must be {names}, got {value!r}")
    if origin is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if origin in (str, int, float, bool):
        if not isinstance(value, origin) or (origin is int and isinstance(value, bool)):
            raise UserError(f"{where} must be {origin.__name__}, got {value!r}")
    elif origin in (list, dict) and not isinstance(value, origin):
        raise UserError(f"{where} must be a {origin.__name__}, got {value!r}")
    elif origin is list and typing.get_args(hint):
        return [_coerce(item, typing.get_args(hint)[0], f"{where}[{i}]") for i, item in enumerate(value)]
    return value


