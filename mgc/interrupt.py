"""Ctrl-C as a request that cannot be lost.

Python turns SIGINT into a ``KeyboardInterrupt`` raised wherever the main thread happens to be;
raised inside a finalizer or a library's ``except BaseException`` it can be swallowed, and a
long stage would then finish and exit 0 as if never interrupted. :func:`handling` (around every CLI
command) also records the request, so work loops call :func:`check` between units of work and the
CLI exits 130 whenever Ctrl-C was pressed, every time.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

INTERRUPTED = 130  # the exit status of an interrupted command (128 + SIGINT, as shells report it)

_requested = threading.Event()


def _on_sigint(signum, frame) -> None:
    _requested.set()
    raise KeyboardInterrupt


@contextmanager
def handling():
    """Record every SIGINT while inside (and raise KeyboardInterrupt, as Python does); the
    previous handler and a clear record are restored on the way out. Main thread only."""
    _requested.clear()
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, _on_sigint) if main else None
    try:
        yield
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)
        _requested.clear()


def requested() -> bool:
    """Whether Ctrl-C was pressed since :func:`install`."""
    return _requested.is_set()


def check() -> None:
    """Raise KeyboardInterrupt if Ctrl-C was pressed, even if its first exception got lost."""
    if _requested.is_set():
        raise KeyboardInterrupt
