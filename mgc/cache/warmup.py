"""Imported once by the extraction fork server: loads librosa and its numba-compiled code.

Workers forked from that server start warm instead of each paying about a second and a half
of imports and numba cache loading (the cost that dominates short extractions).
"""

import warnings

import numpy as np

from mgc.config import SpectrogramConfig
from mgc.features import extract_views

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    _signal = np.random.default_rng(0).standard_normal(22050).astype(np.float32) * 0.1
    extract_views(_signal, 22050, SpectrogramConfig())
