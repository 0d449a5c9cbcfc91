"""The facts every stage shares, defined once: views, which inputs each model reads, the model
groups, the export's signatures and outputs, and the clip every model sees (:class:`ClipSpec`).

Input, training, reports, export, serving and predict all read these names from here, so a
model, a view or a signature is added in one place. No TensorFlow or Keras: a REST client or a
config check imports this without either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from mgc.config.sections import AudioConfig, SpectrogramConfig

# -- views: the inputs a model reads, in this order ------------------------------------------
SPECTROGRAM = "spectrogram"  # the log-mel, (n_mels, frames)
FEATURES = "features"  # FMA's 518 summary features
PRETRAINED = "pretrained"  # a pretrained music model's embedding of the clip ([models.musicnn])
WAVEFORM = "waveform"  # raw mono audio of one clip: the serve_waveform signature's input
PATCHES = "patches"  # musicnn's input: a clip's 3 s log-mel patches at 16 kHz, (patches, 187, 96)
VIEWS = (SPECTROGRAM, FEATURES, PRETRAINED)  # every view, in the order models take them
PAIR = (SPECTROGRAM, FEATURES)  # the two views the joint model and the two-branch fusions read
VECTOR_VIEWS = (FEATURES, PRETRAINED)  # one vector per track, held in memory (the log-mel streams)

# -- models and their groups ----------------------------------------------------------------
# FMA's own baselines: scikit-learn on the standardised features, trained on baseline_train (not
# Keras models, never fusion branches, not exported): the reference line every neural model must beat
FEATURE_BASELINES = ("svm", "logreg")  # FMA's scikit-learn baselines on the 518 features
PRETRAINED_BASELINES = ("musicnn_svm", "musicnn_logreg")  # the same classifiers on the pretrained view
BASELINES = (*FEATURE_BASELINES, *PRETRAINED_BASELINES)
BASELINE_FILE = "model.joblib"  # <workdir>/models/<name>/: a baseline's fitted scikit-learn pipeline
SPECTROGRAM_BRANCHES = ("cnn", "small_cnn")  # read the spectrogram only
FEATURE_BRANCH = "mlp"  # reads the features only
PRETRAINED_BRANCH = "musicnn_probe"  # a small head on the frozen musicnn embedding (the pretrained view)
PRETRAINED_MODEL = "musicnn"  # [models.musicnn]: the pretrained model behind the view (not trained here)
SINGLE_MODALITY = (*BASELINES, *SPECTROGRAM_BRANCHES, FEATURE_BRANCH, PRETRAINED_BRANCH)  # what a fusion must beat
# [train] crop_seconds > 0: these train on random crops, are scored per track over windows, and
# export crop-length inputs; [augment] applies to the models that read the spectrogram
CROPPED = SPECTROGRAM_BRANCHES
AUGMENTED = (*SPECTROGRAM_BRANCHES, "joint")
JOINT = AUGMENTED[-1]  # both views, trained end to end
# Keras models trained from the views on baseline_train
BRANCHES = (*SPECTROGRAM_BRANCHES, FEATURE_BRANCH, PRETRAINED_BRANCH, JOINT)
# heads over frozen branches: the CNN and the MLP, or (the three-modality ones) also the musicnn probe
THREE_MODALITY_FUSIONS = ("feature_fusion3", "attention_fusion3")
FROZEN_FUSIONS = ("logit_fusion", "feature_fusion", "attention_fusion", *THREE_MODALITY_FUSIONS)
GATED_FUSIONS = ("attention_fusion", "attention_fusion3")  # a per-example gate over the modalities (reports show it)
GATES_CSV = "test_gates.csv"  # <workdir>/models/<gated fusion>/: each test track's gate weights (mgc.training.gates)
INPUTS: dict[str, tuple[str, ...]] = {
    **{name: (FEATURES,) for name in FEATURE_BASELINES},
    **{name: (PRETRAINED,) for name in PRETRAINED_BASELINES},
    **{name: (SPECTROGRAM,) for name in SPECTROGRAM_BRANCHES},
    FEATURE_BRANCH: (FEATURES,),
    PRETRAINED_BRANCH: (PRETRAINED,),
    JOINT: PAIR,
    **{name: VIEWS if name in THREE_MODALITY_FUSIONS else PAIR for name in FROZEN_FUSIONS},
}


def fusion_branches(kind: str, fusion_cnn: str) -> tuple[str, ...]:
    """The trained branches fusion ``kind`` freezes, in its order: ``[train] fusion_cnn`` and the MLP,
    then the musicnn probe for the three-modality fusions."""
    if kind not in FROZEN_FUSIONS:
        raise ValueError(f"unknown fusion {kind!r}; choose one of {FROZEN_FUSIONS}")
    return (fusion_cnn, FEATURE_BRANCH, *((PRETRAINED_BRANCH,) if kind in THREE_MODALITY_FUSIONS else ()))


def inputs_of(name: str) -> tuple[str, ...]:
    """The views model ``name`` reads (the :data:`PAIR` for a model this module does not know)."""
    return INPUTS.get(name, PAIR)


def needs_pretrained(models: Iterable[str]) -> bool:
    """Whether any of ``models`` reads the :data:`PRETRAINED` view (then ``extract`` computes it)."""
    return any(PRETRAINED in inputs_of(name) for name in models)


def trained_on(name: str) -> str:
    """The split a model is trained on: baselines and branches on baseline_train, fusion heads on fusion_train."""
    return "baseline_train" if name in BRANCHES or name in BASELINES else "fusion_train"


# -- exports -----------------------------------------------------------------------------------
SERVING_DEFAULT = "serving_default"  # the views, raw (standardisation is inside the model)
SERVE_WAVEFORM = "serve_waveform"  # a clip's waveform (+ features); the log-mel is computed in the graph
SIGNATURES = (SERVING_DEFAULT, SERVE_WAVEFORM)
OUTPUTS = ("probabilities", "logits", "class_id", "genre")  # every signature returns these
UNKNOWN_GENRE = "unknown"  # predict --min-confidence: the genre of a file the model is unsure of
TAGS_UNDO_FILE = "tags-undo.json"  # predict --write-tags: where the previous tags go (predict --undo-tags FILE)
UNKNOWN_PRECISION = 0.95  # the report's suggested --min-confidence keeps this precision on the test tracks
ASSETS_JSON = "mgc.json"  # <version>/assets/: what a client needs (ClipSpec.to_assets and more)
LABELS_TXT = "labels.txt"  # <version>/assets/: the genre names, one per line


def signature_inputs(signature: str, inputs: Iterable[str]) -> tuple[str, ...]:
    """The inputs ``signature`` takes for a model reading ``inputs``."""
    inputs = tuple(inputs)
    if signature == SERVE_WAVEFORM:
        return (WAVEFORM, *(name for name in inputs if name == FEATURES))
    if signature == SERVING_DEFAULT:
        return inputs
    raise ValueError(f"unknown signature {signature!r}; choose one of {', '.join(SIGNATURES)}")


def column_name(column: Any) -> str:
    """A feature column as one string: FMA's ``("mfcc", "mean", "01")`` -> ``"mfcc/mean/01"``."""
    return "/".join(str(part) for part in column) if isinstance(column, tuple) else str(column)


def column_names(columns: Iterable[Any]) -> list[str]:
    """:func:`column_name` of each column (a pandas MultiIndex, or a flat list)."""
    return [column_name(column) for column in columns]


# -- the clip -----------------------------------------------------------------------------------
def clip_samples(duration: float, sample_rate: int) -> int:
    """Samples in a clip of ``duration`` seconds at ``sample_rate``."""
    return int(round(duration * sample_rate))


def n_frames(n_samples: int, hop_length: int) -> int:
    """Frames of a centred STFT over ``n_samples`` samples."""
    return 1 + n_samples // hop_length


def window_starts(n_samples: int, clip_samples: int, hop_samples: int) -> list[int]:
    """Start samples of the windows over a track of ``n_samples`` samples.

    Windows start at 0, hop, 2 hop, ... A window running past the end is kept (zero-padded)
    only if it holds at least half a clip of audio, except the first, which is always kept.
    """
    starts = [0]
    start = hop_samples
    while start < n_samples and 2 * (n_samples - start) >= clip_samples:
        if starts[-1] + clip_samples >= n_samples:  # the previous window already reached the end
            break
        starts.append(start)
        start += hop_samples
    return starts


@dataclass(frozen=True)
class ClipSpec:
    """The clip a model sees: mono audio at ``sample_rate``, ``clip_samples`` long, and its
    log-mel settings; with the usability rule (``min_duration``) and decoder of its run.

    Built from a config (:meth:`from_config`) when training and exporting, and from an export's
    ``assets/mgc.json`` (:meth:`from_assets`) by predict and the serving client.
    """

    sample_rate: int
    clip_seconds: float
    clip_samples: int
    spectrogram: SpectrogramConfig = field(default_factory=SpectrogramConfig)
    min_duration: float = AudioConfig.min_duration  # seconds: a shorter file is "too short"
    decoder: str = "soundfile"

    @property
    def frames(self) -> int:
        return n_frames(self.clip_samples, self.spectrogram.hop_length)

    @property
    def spectrogram_shape(self) -> tuple[int, int]:
        """(n_mels, frames) of a clip's log-mel."""
        return self.spectrogram.n_mels, self.frames

    @classmethod
    def from_audio(cls, audio: AudioConfig, spectrogram: SpectrogramConfig) -> "ClipSpec":
        return cls(int(audio.sample_rate), float(audio.duration), clip_samples(audio.duration, audio.sample_rate),
                   spectrogram, float(audio.min_duration), audio.decoder)

    @classmethod
    def from_config(cls, config) -> "ClipSpec":
        """The clip of a config's ``[audio]`` and ``[spectrogram]``."""
        return cls.from_audio(config.audio, config.spectrogram)

    @classmethod
    def for_model(cls, config, name: str) -> "ClipSpec":
        """The clip model ``name`` reads: a crop of ``[train] crop_seconds`` for the :data:`CROPPED`
        models when it is set (their windows), else the config's whole clip."""
        clip = cls.from_config(config)
        seconds = float(config.train.crop_seconds)
        return clip.cropped(seconds) if seconds and name in CROPPED else clip

    def cropped(self, seconds: float) -> "ClipSpec":
        """A ``seconds``-long crop of this clip (same rate and log-mel settings)."""
        return ClipSpec(self.sample_rate, float(seconds), clip_samples(seconds, self.sample_rate), self.spectrogram,
                        min(self.min_duration, float(seconds)), self.decoder)

    def window_frames(self, window: "ClipSpec") -> list[int]:
        """Start frames of ``window``-length windows over this clip's log-mel, placed as predict
        places windows over a track (:func:`window_starts`, hop = one window)."""
        hop = self.spectrogram.hop_length
        return [s // hop for s in window_starts(self.clip_samples, window.clip_samples, window.clip_samples)]

    def to_assets(self) -> dict[str, Any]:
        """The clip's part of an export's ``assets/mgc.json`` (JSON-able, in this key order)."""
        spec = self.spectrogram
        return {
            "sample_rate": int(self.sample_rate),
            "clip_seconds": float(self.clip_seconds),
            "clip_samples": int(self.clip_samples),
            "min_duration": float(self.min_duration),  # predict's shortest usable file (training's)
            "spectrogram": {"n_mels": int(spec.n_mels), "n_fft": int(spec.n_fft), "hop_length": int(spec.hop_length),
                            "top_db": float(spec.top_db), "frames": self.frames},
        }

    @classmethod
    def from_assets(cls, assets: dict[str, Any]) -> "ClipSpec":
        """The clip an export's assets describe. Older exports lack ``min_duration`` (then
        :class:`AudioConfig`'s default) and may lack ``clip_samples`` (then from ``clip_seconds``)."""
        rate = int(assets["sample_rate"])
        if "clip_samples" in assets:
            samples = int(assets["clip_samples"])
            seconds = float(assets.get("clip_seconds", samples / rate))
        else:
            seconds = float(assets["clip_seconds"])
            samples = clip_samples(seconds, rate)
        spec = SpectrogramConfig(**{key: assets["spectrogram"][key] for key in ("n_mels", "n_fft", "hop_length",
                                                                                "top_db")})
        return cls(rate, seconds, samples, spec, float(assets.get("min_duration", AudioConfig.min_duration)))
