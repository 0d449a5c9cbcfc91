"""The fork server's preload for ``extract`` and ``predict`` workers (imported there, and only
there: never import it in the parent, it makes the importing process ignore Ctrl-C).

- First, :func:`mgc.parallel.prepare_server`: the server ignores SIGINT, before it saves its
  signal handlers, so every worker is born ignoring Ctrl-C (the parent alone handles it: it
  commits finished work and stops them), and it dies with the process that started it (each
  worker dies with the server), so ``kill -9`` of ``extract`` or ``predict`` leaves no process
  behind holding the terminal or a pipe.
- Then it warms librosa: workers forked from the server start warm instead of each paying about
  a second and a half of imports and numba cache loading (the cost that dominates short
  extractions).
"""

from mgc.parallel import prepare_server

prepare_server()

import warnings  # noqa: E402  (after the signal set-up: imports take a while)

import numpy as np  # noqa: E402

from mgc.config import SpectrogramConfig  # noqa: E402
from mgc.features import extract_views  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    _signal = np.random.default_rng(0).standard_normal(22050).astype(np.float32) * 0.1
    extract_views(_signal, 22050, SpectrogramConfig())
