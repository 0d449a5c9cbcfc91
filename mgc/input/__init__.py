"""Input pipelines: the cache streamed through tf.data, and feature standardisation."""

from mgc.input.datasets import VIEWS, class_names, fit_scaler, make_dataset, spectrogram_shape
from mgc.input.feature_view import feature_view
from mgc.input.scaling import FeatureScaler

__all__ = ["VIEWS", "FeatureScaler", "class_names", "feature_view", "fit_scaler", "make_dataset", "spectrogram_shape"]
