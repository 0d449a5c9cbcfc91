"""Input pipelines: the cache streamed through tf.data (:mod:`.tfdata`), the feature table
(:mod:`.feature_view`) and feature standardisation (:mod:`.scaling`)."""

from mgc.input.feature_view import feature_view
from mgc.input.scaling import FeatureScaler
from mgc.input.tfdata import VIEWS, class_names, fit_scaler, make_dataset, spectrogram_shape

__all__ = ["VIEWS", "FeatureScaler", "class_names", "feature_view", "fit_scaler", "make_dataset", "spectrogram_shape"]
