"""Models (Keras 3 functional API, ``keras.ops`` only): the branches and their fusions."""

from mgc.contract import FROZEN_FUSIONS
from mgc.models.branches import EMBEDDING, build_cnn, build_mlp, build_small_cnn, embedding_model
from mgc.models.fusion import build_fusion, build_fusion_head, build_joint, extractors
from mgc.models.layers import ModalityGate, SpectrogramImage

__all__ = [
    "EMBEDDING",
    "FROZEN_FUSIONS",
    "ModalityGate",
    "SpectrogramImage",
    "build_cnn",
    "build_fusion",
    "build_fusion_head",
    "build_joint",
    "build_mlp",
    "build_small_cnn",
    "embedding_model",
    "extractors",
]
