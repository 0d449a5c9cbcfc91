"""musicnn in Keras 3: the pretrained MSD / MTT music auto-taggers (Pons & Serra, 2019) as a feature extractor.

A port of ``build_musicnn`` from musicnn 0.1.0's ``models.py`` (ISC licence, MTG/UPF), in keras layers and
``keras.ops`` only, so it runs on the TensorFlow, JAX and PyTorch backends. On (n, frames, 96) patches of
:mod:`mgc.features.musicnn_input`:

* front-end: batch norm of the input, then timbral convolutions (7 x 38 and 7 x 67 mel bands, 204 filters
  each) and temporal ones (128, 64 and 32 frames x 1 band, 51 filters each), each ReLU -> batch norm ->
  max over frequency: 561 maps per frame;
* mid-end: three 7-frame convolutions of 64 filters (ReLU -> batch norm), the last two residual; the
  front-end and the three outputs, concatenated: 753 maps per frame;
* back-end: max and mean over time (``max_pool``, ``mean_pool``: 753 each; ``pooled``: both, 1506),
  batch norm, dropout 0.5, dense 200 ReLU, batch norm (``penultimate``: 200), dropout 0.5, dense 50
  (``logits``; ``tags``: their sigmoid).

Batch norm runs on its moving statistics and dropout is off unless the model is called with
``training=True``. The port pads time explicitly (for the temporal convolutions' ``same``, TensorFlow's
split: the odd frame after), so every backend computes the same thing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import keras
from keras import layers, ops

from mgc.config.models import MUSICNN_EMBEDDINGS
from mgc.contract import PATCHES
from mgc.errors import UserError
from mgc.features.musicnn_input import HOP, N_FFT, N_MELS, PATCH_FRAMES, SR  # noqa: F401  (re-exported)

# musicnn/configuration.py
MTT_TAGS = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast", "piano", "ambient",
    "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male", "singing", "vocals", "no vocals",
    "harpsichord", "loud", "quiet", "flute", "woman", "male vocal", "no vocal", "pop", "soft", "sitar", "solo",
    "man", "classic", "choir", "voice", "new age", "dance", "male voice", "female vocal", "beats", "harp", "cello",
    "no voice", "weird", "country", "metal", "female voice", "choral",
)
MSD_TAGS = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s", "alternative rock",
    "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock", "soul", "indie rock", "Mellow",
    "electronica", "80s", "folk", "90s", "chill", "instrumental", "punk", "oldies", "blues", "hard rock", "ambient",
    "acoustic", "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country",
    "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal", "Progressive rock", "60s", "rnb",
    "indie pop", "sad", "House", "happy",
)
TAGS = {"msd": MSD_TAGS, "mtt": MTT_TAGS}

OUTPUT_NAMES = ("tags", "logits", "penultimate", "pooled", "max_pool", "mean_pool")
INPUT = PATCHES  # the model's one input
TIMBRAL = (int(0.4 * N_MELS), int(0.7 * N_MELS))  # kernel heights in mel bands (7 frames wide): 38, 67
TEMPORAL = (128, 64, 32)  # kernel lengths in frames (1 band high)
TIMBRAL_FILTERS, TEMPORAL_FILTERS = int(1.6 * 128), int(1.6 * 32)  # 204, 51 (models.py: num_filt=1.6)
MIDEND_FILTERS, BACKEND_UNITS, N_TAGS = 64, 200, 50
FRONTEND_SIZE = len(TIMBRAL) * TIMBRAL_FILTERS + len(TEMPORAL) * TEMPORAL_FILTERS  # 561
MIDEND_SIZE = FRONTEND_SIZE + 3 * MIDEND_FILTERS  # 753
EPSILON = 1e-3  # tf.compat.v1.layers.batch_normalization's
# patches per model call in predict_patches: no faster beyond this on CPU, while the timbral maps (about 15 MB
# a patch) grow with the call: 32 a call peaked 700 MiB above 8 (python benchmarks/predict.py --only patches)
PATCH_BATCH = 8


def _bn(name: str):
    return layers.BatchNormalization(epsilon=EPSILON, name=name)


def _conv_block(x, filters: int, kernel: tuple[int, int], pad: tuple[int, int], name: str):
    """Pad time -> conv (valid) ReLU -> batch norm -> max over the frequency axis: (n, frames, filters)."""
    x = layers.ZeroPadding2D((pad, (0, 0)), name=f"{name}_pad")(x)
    x = layers.Conv2D(filters, kernel, activation="relu", name=name)(x)
    return ops.max(_bn(f"{name}_bn")(x), axis=2)


def _musicnn(frames: int | None) -> tuple[keras.KerasTensor, dict]:
    """The whole network: its input and every output of :data:`OUTPUT_NAMES`."""
    patches = keras.Input((frames, N_MELS), name=INPUT)
    x = _bn("input_bn")(ops.expand_dims(patches, -1))
    front = [_conv_block(x, TIMBRAL_FILTERS, (7, height), (3, 3), f"timbral_{height}") for height in TIMBRAL]
    front += [_conv_block(x, TEMPORAL_FILTERS, (length, 1), ((length - 1) // 2, length // 2), f"temporal_{length}")
              for length in TEMPORAL]
    maps = [ops.concatenate(front, axis=-1)]  # (n, frames, 561)
    for i in (1, 2, 3):
        y = ops.expand_dims(maps[-1], -1)
        y = _conv_block(y, MIDEND_FILTERS, (7, y.shape[2]), (3, 3), f"midend_{i}")  # one position: max = squeeze
        maps.append(y if i == 1 else layers.Add(name=f"midend_{i}_residual")([y, maps[-1]]))
    midend = ops.concatenate(maps, axis=-1)  # (n, frames, 753)

    max_pool = layers.Identity(name="max_pool")(ops.max(midend, axis=1))
    mean_pool = layers.Identity(name="mean_pool")(ops.mean(midend, axis=1))
    pooled = layers.Concatenate(name="pooled")([max_pool, mean_pool])
    # models.py concatenates (n, 753, 1) max and mean on axis 2 and flattens: interleaved max_i, mean_i.
    x = ops.reshape(ops.stack([max_pool, mean_pool], axis=-1), (-1, 2 * MIDEND_SIZE))
    x = layers.Dropout(0.5, name="pooled_dropout")(_bn("pooled_bn")(x))
    x = layers.Dense(BACKEND_UNITS, activation="relu", name="dense")(x)
    penultimate = _bn("penultimate")(x)
    logits = layers.Dense(N_TAGS, name="logits")(layers.Dropout(0.5, name="dropout")(penultimate))
    tags = layers.Activation("sigmoid", name="tags")(logits)
    return patches, {"tags": tags, "logits": logits, "penultimate": penultimate, "pooled": pooled,
                     "max_pool": max_pool, "mean_pool": mean_pool}


def build_musicnn(
    weights: str | None = "msd",
    *,
    outputs: str | Sequence[str] = "tags",
    frames: int | None = PATCH_FRAMES,
    name: str = "musicnn",
) -> keras.Model:
    """musicnn from ``{"patches": (n, frames, 96)}`` to ``outputs``: one name of :data:`OUTPUT_NAMES` (one tensor)
    or several (a dict).

    ``weights``: ``"msd"`` / ``"mtt"`` (MSD_musicnn / MTT_musicnn from the musicnn 0.1.0 wheel, downloaded
    and converted once into a user cache, see :func:`weights_file`), a
    ``.weights.h5`` file of this port (:func:`convert`), a TF1 checkpoint
    folder, or ``None`` / ``"none"`` (random). ``frames``: patch length; musicnn was trained on 187
    (3 s) but pools over time, so ``None`` takes any length.
    """
    names = [outputs] if isinstance(outputs, str) else list(outputs)
    unknown = [o for o in names if o not in OUTPUT_NAMES]
    if unknown or not names:
        raise UserError(f"musicnn outputs {unknown or names} not in {', '.join(OUTPUT_NAMES)}")
    patches, every = _musicnn(frames)
    model = keras.Model({INPUT: patches}, every, name=name)
    if weights not in (None, "", "none"):
        from mgc.models import musicnn_weights

        musicnn_weights.load(model, weights)
    if names == list(OUTPUT_NAMES):
        return model
    selected = every[names[0]] if isinstance(outputs, str) else {o: every[o] for o in names}
    return keras.Model({INPUT: patches}, selected, name=name)


def convert(source: str | Path, model: str = "msd", out: str | Path | None = None) -> Path:
    """Write ``model``'s checkpoint from ``source`` (a wheel, an unpacked wheel or a checkpoint folder)
    as the port's ``.weights.h5`` (default: ``musicnn_<model>.weights.h5`` beside ``source``); its path."""
    from mgc.models import musicnn_weights

    source = Path(source).expanduser()
    port = build_musicnn(None, outputs=OUTPUT_NAMES)
    musicnn_weights.assign(port, musicnn_weights.read_checkpoint(source, model))
    return musicnn_weights.save(port, out or source.with_name(f"musicnn_{model}.weights.h5"))


def weights_file(model: str = "msd") -> Path:
    """``model``'s (``msd`` / ``mtt``) converted ``.weights.h5`` in the user cache, made once (downloading
    the wheel if needed; see :func:`mgc.models.musicnn_weights.load`)."""
    from mgc.models import musicnn_weights

    path = musicnn_weights.cached_weights(model)
    if not path.is_file():
        build_musicnn(model)  # converts and caches
    return path


def embedding_model(weights: str = "msd", embedding: str = "penultimate") -> keras.Model:
    """musicnn from patches (n, 187, 96) to its ``embedding`` layer (n, dim), ``weights`` loaded.

    The default, ``penultimate`` (200-d, the back-end's last layer before the tags), matches the
    original graph within 1e-5 and summarises what musicnn learned to tag; ``mean_pool`` (753-d)
    is the mid-end's features averaged over time, before the back-end (within 1.6e-5).
    ``max_pool`` is not offered: a max over time keeps float noise (up to 5e-4 from the original)."""
    if embedding not in MUSICNN_EMBEDDINGS:
        raise UserError(f"[models.musicnn] embedding must be one of {', '.join(MUSICNN_EMBEDDINGS)}, "
                        f"got {embedding!r}")
    return build_musicnn(weights, outputs=embedding)


def embedder(weights: str = "msd", embedding: str = "penultimate"):
    """``(embed, dim)`` for the pretrained view: ``embed`` maps (n, 187, 96) patches to their
    (n, dim) :func:`embedding_model` outputs (float32 numpy)."""
    model = embedding_model(weights, embedding)
    return (lambda patches: predict_patches(model, patches)), int(model.output.shape[-1])


def predict_patches(model: keras.Model, patches):
    """A musicnn ``model``'s output on (n, 187, 96) patches as float32 numpy, :data:`PATCH_BATCH` patches a
    call (memory stays that of a few patches, however many windows predict batches together)."""
    import numpy as np

    patches = np.asarray(patches, np.float32)
    parts = [keras.ops.convert_to_numpy(model.predict_on_batch({INPUT: patches[i:i + PATCH_BATCH]}))
             for i in range(0, len(patches), PATCH_BATCH)]
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, model.output.shape[-1]), np.float32)
