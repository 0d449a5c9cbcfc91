"""The config's tables: one dataclass per ``[section]``, each numeric setting with its valid range.

Ranges are declared with :func:`bounded` next to the default and checked by
:func:`check_ranges` when a config is loaded, so a value like ``batch_size = 0`` or
``offset = -2`` is refused before any work starts.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from mgc.errors import UserError

DATASET_KINDS = ("synthetic", "fma", "gtzan", "folder", "csv")
SPLITS = ("baseline_train", "fusion_train", "validation", "test")  # a manifest's split column, in order
VALIDATION = "validation"  # a published protocol's validation tracks: early stopping for every model
UNUSED = "unused"  # tracks a published split leaves out (kept in the manifest so it says so)
SPLIT_METHODS = ("stratified", "official", "fault_filtered")
FMA_LABELS = ("root", "genre_top")
DISTRIBUTE_STRATEGIES = ("none", "data_parallel", "multi_worker")
PRECISIONS = ("off", "mixed_float16", "mixed_bfloat16")  # [train] mixed_precision
DEVICE_PATTERN = r"(?:/device:|/)?(cpu|gpu|tpu):(\d+)"  # "gpu:0", "GPU:0", "/gpu:0", "/device:GPU:0"


def bounded(default, *, ge=None, gt=None, le=None, lt=None):
    """A numeric setting with its valid range, checked by :meth:`Config.validate` at load time, so a
    value like ``batch_size = 0`` or ``offset = -2`` is refused before any work starts."""
    return field(default=default, metadata={"range": {">=": ge, ">": gt, "<=": le, "<": lt}})


def range_error(f: dataclasses.Field, value: Any) -> str | None:
    """``"must be >= 1"`` when ``value`` is outside the :func:`bounded` range of field ``f``, else None."""
    tests = {">=": lambda v, b: v >= b, ">": lambda v, b: v > b, "<=": lambda v, b: v <= b, "<": lambda v, b: v < b}
    limits = f.metadata.get("range", {})
    for op, bound in limits.items():
        if bound is not None and not (value == value and tests[op](value, bound)):  # NaN fails too
            return "must be " + " and ".join(f"{o} {b}" for o, b in limits.items() if b is not None)
    return None


def check_ranges(section: Any, where: str) -> None:
    """Raise UserError for the first field of dataclass ``section`` outside its :func:`bounded` range."""
    for f in dataclasses.fields(section):
        value = getattr(section, f.name)
        if (problem := range_error(f, value)) is not None:
            raise UserError(f"[{where}] {f.name} {problem}, got {value!r}")


@dataclass
class RunConfig:
    """Where a run writes and which seed drives every random choice."""

    name: str = "run"
    workdir: str = "data/runs/run"
    seed: int = bounded(0, ge=0, lt=2**32)  # numpy, TensorFlow and Keras seeds are 32-bit
    # > 1: the model stages again with seeds seed+1, seed+2, ... on the same split and cache
    # (<workdir>/repeats/seed-<s>/); the report adds mean ± std across them
    repeats: int = bounded(1, ge=1, le=100)
    deterministic: bool = True  # deterministic kernels only (mgc.training.determinism): same seed, same files
    threads: int = bounded(0, ge=0)  # the backend's intra-op threads; 0 = its default (every core)


@dataclass
class DatasetConfig:
    """Which collection to read; each ``kind`` uses the keys documented next to it."""

    kind: str = "synthetic"
    # fma: FMA's fma_metadata/ folder and the fma_{small,medium,large}/ audio folder.
    metadata_dir: str = ""
    audio_dir: str = ""
    # "root": the FMA fusion study's rule (single-genre tracks, labelled with their root genre);
    # "genre_top": FMA's own track.genre_top column (every track that has one; FMA's benchmark).
    label: str = "root"
    top_k: int = bounded(5, ge=0)  # keep the k most frequent genres; 0 keeps them all
    subset: str = ""  # "", "small", "medium" or "large" (nested, as FMA defines them)
    # gtzan / folder: <root>/<genre>/...;  csv: a file with path,genre[,artist].
    root: str = ""
    csv: str = ""
    # gtzan: optional Kaggle features_30_sec.csv (the GTZAN two-branch study's feature source).
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
    """How tracks are split into baseline_train / fusion_train / test (mgc.splits).

    ``method``: "stratified" (the FMA fusion study's seeded 40/40/20, optionally by artist),
    "official" (FMA's own ``set.split``) or "fault_filtered" (GTZAN's published partition). With a
    published split its test (and validation) sides are taken as published, and its training side
    is cut into baseline_train / fusion_train in the ratio baseline_train : fusion_train.
    """

    baseline_train: float = bounded(0.4, gt=0, le=1)
    fusion_train: float = bounded(0.4, ge=0, lt=1)
    test: float = bounded(0.2, ge=0, lt=1)  # > 0 for "stratified"; a published split brings its own
    group_by_artist: bool = False
    method: str = "stratified"  # or "official" (FMA), "fault_filtered" (GTZAN)


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
    # > 0: a Keras model's grid folds train at most this many epochs, a shorter budget that ranks
    # the combinations at a fraction of the cost; the final model still trains its own epochs
    max_epochs: int = bounded(0, ge=0)


@dataclass
class TrainConfig:
    """Which models a run trains, and how long. Per-model hyper-parameters: [models.<name>]."""

    models: list[str] = field(
        default_factory=lambda: ["cnn", "mlp", "logit_fusion", "feature_fusion", "attention_fusion", "joint"]
    )
    epochs: int = bounded(30, ge=1)
    patience: int = bounded(5, ge=1)  # early stopping on the validation slice (best weights restored)
    # epochs before early stopping starts watching (slow starters: CNNs from scratch)
    warmup_epochs: int = bounded(0, ge=0)
    # the stratified slice of each training set used for early stopping
    validation_fraction: float = bounded(0.15, gt=0, lt=0.5)
    fusion_cnn: str = "cnn"  # the spectrogram branch the frozen fusions read: "cnn" or "small_cnn"
    # > 0: the spectrogram branches (cnn, small_cnn) train on random crops of this many seconds of
    # the cached clips and are scored per track by averaging their windows' probabilities
    # (mgc.training.windows); their exports take crop-length windows. 0: whole clips.
    crop_seconds: float = bounded(0.0, ge=0)
    # Fine-tuning a pretrained CNN ([models.cnn] weights = "imagenet" or a file): the backbone is
    # frozen (batch norm in inference mode) for the first freeze_epochs epochs, then trained with
    # the learning rate times backbone_lr_scale (the new top keeps the full rate).
    freeze_epochs: int = bounded(0, ge=0)
    backbone_lr_scale: float = bounded(0.1, gt=0, le=1)
    # "off" (float32), "mixed_float16" (GPUs) or "mixed_bfloat16" (recent CPUs, TPUs, GPUs):
    # layers compute in 16 bits, weights, logits and loss stay float32; exports stay float32 in and out
    mixed_precision: str = "off"
    jit_compile: bool | str = "auto"  # XLA: true, false or "auto" (Keras's rule: on for JAX, off under TF determinism)
    steps_per_execution: int = bounded(1, ge=1)  # batches per compiled call (fewer host round trips on a GPU)


@dataclass
class AugmentConfig:
    """Training-time augmentation of the models that read the spectrogram (cnn, small_cnn, joint).

    Spectrogram augmentations run inside the model (:class:`mgc.models.augment.SpecAugment`),
    active only in training steps, so validation, test, grid validation folds, export and predict
    see the clips unchanged; mixup mixes training batches in tf.data. ``copies`` adds waveform-level
    variety the cache cannot give on the fly: N extra copies of every baseline_train track, changed
    in speed, pitch and noise at extraction and cached like the clips (never a copy of another
    split's track). Every random draw takes the run's seed. All zero (the default): no augmentation.
    """

    time_masks: int = bounded(0, ge=0, le=16)  # SpecAugment: masks over time per example
    time_mask_frames: int = bounded(20, ge=1)  # widest time mask, in spectrogram frames
    freq_masks: int = bounded(0, ge=0, le=16)  # masks over mel bands per example
    freq_mask_bands: int = bounded(8, ge=1)  # widest frequency mask, in mel bands
    shift_seconds: float = bounded(0.0, ge=0)  # roll each example in time by up to +- this
    gain_db: float = bounded(0.0, ge=0)  # random gain up to +- this, within the clip's own dB range
    mixup_alpha: float = bounded(0.0, ge=0)  # mixup's Beta(alpha, alpha); 0 = off; labels become soft
    copies: int = bounded(0, ge=0, le=20)  # extra augmented copies of each baseline_train track
    speed: float = bounded(0.0, ge=0, lt=0.5)  # copies: speed (and pitch) changed by a factor in 1 +- this
    pitch_semitones: float = bounded(0.0, ge=0, le=12)  # copies: pitch shifted by up to +- this
    noise_snr_db: float = bounded(0.0, ge=0)  # copies: white noise at an SNR of this to this + 20 dB; 0 = none

    def spectrogram_active(self) -> bool:
        return bool(self.time_masks or self.freq_masks or self.shift_seconds or self.gain_db)

    def waveform_active(self) -> bool:
        return bool(self.speed or self.pitch_semitones or self.noise_snr_db)


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
    # > 0: split the host CPU into this many logical devices (to try it without accelerators)
    cpu_devices: int = bounded(0, ge=0)


