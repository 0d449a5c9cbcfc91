"""One typed configuration for every stage: dataclasses loaded from TOML, overridable from the CLI.

A config file has one table per dataclass below (``[run]``, ``[dataset]``, ...). Unknown
tables or keys are user errors, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import sys
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mgc.errors import UserError

DATASET_KINDS = ("synthetic", "fma", "gtzan", "folder", "csv")
SPLITS = ("baseline_train", "fusion_train", "test")
DISTRIBUTE_STRATEGIES = ("none", "data_parallel", "multi_worker")
DEVICE_PATTERN = r"(?:/device:|/)?(cpu|gpu|tpu):(\d+)"  # "gpu:0", "GPU:0", "/gpu:0", "/device:GPU:0"


def bounded(default, *, ge=None, gt=None, le=None, lt=None):
    """A numeric setting with its valid range, checked by :meth:`Config.validate` at load time, so a
    value like ``batch_size = 0`` or ``offset = -2`` is refused before any work starts."""
    return field(default=default, metadata={"range": {">=": ge, ">": gt, "<=": le, "<": lt}})


def check_ranges(section: Any, where: str) -> None:
    """Raise UserError for the first field of dataclass ``section`` outside its :func:`bounded` range."""
    tests = {">=": lambda v, b: v >= b, ">": lambda v, b: v > b, "<=": lambda v, b: v <= b, "<": lambda v, b: v < b}
    for f in dataclasses.fields(section):
        value = getattr(section, f.name)
        for op, bound in f.metadata.get("range", {}).items():
            if bound is not None and not (value == value and tests[op](value, bound)):  # NaN fails too
                allowed = " and ".join(f"{o} {b}" for o, b in f.metadata["range"].items() if b is not None)
                raise UserError(f"[{where}] {f.name} must be {allowed}, got {value!r}")


@dataclass
class RunConfig:
    """Where a run writes and which seed drives every random choice."""

    name: str = "run"
    workdir: str = "data/runs/run"
    seed: int = bounded(0, ge=0, lt=2**32)  # numpy, TensorFlow and Keras seeds are 32-bit
    deterministic: bool = True  # deterministic kernels only (mgc.training.determinism): same seed, same files
    threads: int = bounded(0, ge=0)  # the backend's intra-op threads; 0 = its default (every core)


@dataclass
class DatasetConfig:
    """Which collection to read; each ``kind`` uses the keys documented next to it."""

    kind: str = "synthetic"
    # fma: FMA's fma_metadata/ folder and the fma_{small,medium,large}/ audio folder.
    metadata_dir: str = ""
    audio_dir: str = ""
    top_k: int = bounded(5, ge=1)
    subset: str = ""  # "", "small", "medium" or "large" (nested, as FMA defines them)
    # gtzan / folder: <root>/<genre>/...;  csv: a file with path,genre[,artist].
    root: str = ""
    csv: str = ""
    # gtzan: optional Kaggle features_30_sec.csv (seed 001's feature source).
    features_csv: str = ""
    # synthetic: the embedded generated dataset.
    genres: list[str] = field(
        default_factory=lambda: ["rock", "electronic", "hiphop", "folk", "pop"]
    )
    clips_per_genre: int = bounded(40, ge=1)
    artists_per_genre: int = bounded(4, ge=1)
    clip_seconds: float = bounded(30.0, gt=0)


@dataclass
class SplitConfig:
    """Seed 000's stratified 40/40/20 split, optionally keeping each artist on one side."""

    baseline_train: float = bounded(0.4, gt=0, lt=1)
    fusion_train: float = bounded(0.4, ge=0, lt=1)
    test: float = bounded(0.2, gt=0, lt=1)
    group_by_artist: bool = False


@dataclass
class AudioConfig:
    """How a file becomes a fixed-length mono clip."""

    sample_rate: int = bounded(22050, ge=11025, le=384000)  # FMA's CQT reaches 4 kHz: it needs >= 11025 Hz
    duration: float = bounded(30.0, gt=0)  # seconds; longer tracks are cropped, shorter ones zero-padded
    min_duration: float = bounded(3.0, ge=0)  # shorter tracks are failures ("too short")
    offset: float = bounded(0.0, ge=0)  # seconds skipped at the start before cropping
    decoder: str = "soundfile"  # "soundfile" or "tfio"


@dataclass
class SpectrogramConfig:
    """Log-mel settings; the defaults give 128 x 1292 for 30 s at 22050 Hz."""

    n_mels: int = bounded(128, ge=1, le=512)
    n_fft: int = bounded(2048, ge=64, le=65536)
    hop_length: int = bounded(512, ge=1)
    top_db: float = bounded(80.0, gt=0)


@dataclass
class ExtractConfig:
    """Parallel extraction into the TFRecord cache."""

    workers: int = bounded(0, ge=0)  # 0 = all cores
    shard_size: int = bounded(64, ge=1)  # tracks per TFRecord shard (also the most work lost on a crash)


@dataclass
class InputConfig:
    """tf.data settings shared by every training stage."""

    batch_size: int = bounded(64, ge=1)
    shuffle_buffer: int = bounded(1024, ge=1)


@dataclass
class SearchConfig:
    """k-fold grid search: scikit-learn ParameterGrid x StratifiedKFold."""

    folds: int = bounded(3, ge=2)
    group_by_artist: bool = False  # folds keep artists apart (StratifiedGroupKFold)


@dataclass
class TrainConfig:
    """Which models a run trains, and how long. Per-model hyper-parameters: [models.<name>]."""

    models: list[str] = field(
        default_factory=lambda: ["cnn", "mlp", "logit_fusion", "feature_fusion", "attention_fusion", "joint"]
    )
    epochs: int = bounded(30, ge=1)
    patience: int = bounded(5, ge=1)  # early stopping on the validation slice (best weights restored)
    warmup_epochs: int = bounded(0, ge=0)  # epochs before early stopping starts watching (slow starters: CNNs from scratch)
    validation_fraction: float = bounded(0.15, gt=0, lt=0.5)  # stratified slice of each training set used for early stopping
    fusion_cnn: str = "cnn"  # the spectrogram branch the frozen fusions read: "cnn" or "small_cnn"


@dataclass
class ExportConfig:
    """Where ``export`` writes SavedModels (TensorFlow Serving layout: <dir>/<model>/<version>/)."""

    dir: str = "saved_models"  # relative to the current folder, like [run] workdir; "{workdir}" expands


@dataclass
class DistributeConfig:
    """Data-parallel training on the backend's own engine (mgc.training.distribute; TensorFlow or JAX)."""

    # "none", "data_parallel" (this machine's devices: TF MirroredStrategy, JAX keras.distribution.DataParallel)
    # or "multi_worker" (TF MultiWorkerMirroredStrategy from TF_CONFIG; JAX: KERAS_DISTRIBUTION_* variables).
    strategy: str = "none"
    devices: list[str] = field(default_factory=list)  # data_parallel: e.g. ["gpu:0", "gpu:1"]; [] = all GPUs, else CPUs
    cpu_devices: int = bounded(0, ge=0)  # > 0: split the host CPU into this many logical devices (try it without accelerators)


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
        fractions = [self.split.baseline_train, self.split.fusion_train, self.split.test]
        if any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
            raise UserError(f"[split] fractions must be >= 0 and sum to 1, got {fractions}")
        if self.split.baseline_train <= 0 or self.split.test <= 0:
            raise UserError("[split] baseline_train and test must be > 0")
        if self.audio.decoder not in ("soundfile", "tfio"):
            raise UserError(f"[audio] decoder must be 'soundfile' or 'tfio', got {self.audio.decoder!r}")
        if self.audio.min_duration > self.audio.duration:
            raise UserError("[audio] min_duration cannot exceed duration")
        if self.dataset.subset not in ("", "small", "medium", "large"):
            raise UserError(f"[dataset] subset must be small, medium or large, got {self.dataset.subset!r}")
        if self.train.fusion_cnn not in ("cnn", "small_cnn"):
            raise UserError("[train] fusion_cnn must be 'cnn' or 'small_cnn'")
        self._validate_distribute()
        return self

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


def bundled_configs() -> dict[str, Path]:
    """The experiment configs that come with mgc, by name (``demo``, ``smoke``, ``fma_top5``,
    ``gtzan``): ``mgc/configs/`` in an installed package (setup.py ships the repository's
    ``pipelines/`` there), the repository's ``pipelines/`` in a checkout."""
    package = Path(__file__).resolve().parent
    for folder, marker in ((package / "configs", None), (package.parent / "pipelines", package.parent / "setup.cfg")):
        if folder.is_dir() and (marker is None or marker.is_file()):
            return {p.stem: p for p in sorted(folder.glob("*.toml"))}
    return {}


def resolve_config(name_or_path: str | Path) -> Path:
    """A config file: the path as given when it exists, else a bundled config by name
    (``demo`` or ``demo.toml``), so ``mgc run demo`` works from any folder."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    bundled = bundled_configs()
    if path.parent == Path(".") and path.stem in bundled and path.suffix in ("", ".toml"):
        return bundled[path.stem]
    names = ", ".join(bundled) or "none found"
    raise UserError(f"config file not found: {path} (bundled configs, usable by name: {names})")


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Read a TOML config (a path or a bundled config's name; the defaults when ``path`` is None)
    and apply dotted overrides.

    ``overrides`` maps ``"section.key"`` to a value, e.g. ``{"run.workdir": "/tmp/x"}``.
    """
    data: dict[str, Any] = {}
    if path is not None:
        path = resolve_config(path)
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise UserError(f"{path}: invalid TOML: {exc}") from None
    for dotted, value in (overrides or {}).items():
        *tables, key = dotted.split(".")
        if not tables or not all(tables) or not key:
            raise UserError(f"override {dotted!r} must look like section.key=value (or models.cnn.key=value)")
        target = data
        for name in tables:
            target = target.setdefault(name, {})
            if not isinstance(target, dict):
                raise UserError(f"override {dotted!r}: {name} is not a table")
        target[key] = value
    config = _build(Config, data, "config")
    config.source = str(path) if path is not None else ""
    return config.validate()


def parse_override(text: str) -> tuple[str, Any]:
    """Parse ``section.key=value`` where value is a TOML literal (bare words are strings)."""
    key, sep, raw = text.partition("=")
    raw = raw.strip()
    if not sep:
        raise UserError(f"--set expects section.key=value, got {text!r}")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.strip(), value


def settings_hash(payload: dict[str, Any], length: int = 12) -> str:
    """A stable short hash of JSON-able settings (used to key caches and runs)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]
