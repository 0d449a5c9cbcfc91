"""Models (Keras 3 functional API, ``keras.ops`` only): the branches and their fusions; and FMA's
scikit-learn baselines (:mod:`.baselines`, not Keras models)."""

from mgc.contract import FROZEN_FUSIONS
from mgc.models.baselines import build_baseline, fit_baseline, load_baseline, save_baseline
from mgc.models.branches import EMBEDDING, build_cnn, build_mlp, build_small_cnn, embedding_model
from mgc.models.fusion import build_fusion, build_fusion_head, build_joint, extractors
from mgc.models.layers import ModalityGate, SpectrogramImage

__all__ = [
    "EMBEDDING",
    "FROZEN_FUSIONS",
    "ModalityGate",
    "SpectrogramImage",
    "build_baseline",
    "build_cnn",
    "build_fusion",
    "build_fusion_head",
    "build_joint",
    "build_mlp",
    "build_small_cnn",
    "embedding_model",
    "extractors",
    "fit_baseline",
    "load_baseline",
    "save_baseline",
]
