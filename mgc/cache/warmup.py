"""Imported once by the extraction fork server (and only there): warms librosa, and makes the
server and every worker it forks safe to interrupt and to orphan.

- Workers forked from the server start warm instead of each paying about a second and a half
  of imports and numba cache loading (the cost that dominates short extractions).
- SIGINT is ignored here, before the server saves its signal handlers, so every worker is born
  ignoring Ctrl-C: the parent alone handles it (it commits finished work and stops them).
- The server dies with the process that started it (a parent-death signal), and each worker
  with the server (:func:`die_with_parent` in the worker initializer), so ``kill -9`` of
  ``extract`` or ``predict`` leaves no process behind holding the terminal or a pipe.
"""

import ctypes
import os
import signal
import sys
import warnings

import numpy as np

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent exits (no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


signal.signal(signal.SIGINT, signal.SIG_IGN)
die_with_parent()

from mgc.config import SpectrogramConfig  # noqa: E402  (after the signal set-up: imports take a while)
from mgc.features import extract_views  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    _signal = np.random.default_rng(0).standard_normal(22050).astype(np.float32) * 0.1
    extract_views(_signal, 22050, SpectrogramConfig())
