"""Worker functions for tests that kill their own process on chosen tasks, like a decoder crash."""

import os
import signal

from mgc.cache.builder import process_track
from mgc.parallel import Done, Failed


def crash_on_marked_files(task, audio, spec):
    if "CRASH" in task[1]:
        os._exit(139)  # what a segfaulting decoder looks like to the pool
    return process_track(task, audio, spec)


def square_unless_odd(task: int, kill: int = -1):
    """``Done(task, task ** 2)`` for an even task, ``Failed(task, "odd")`` for an odd one; the
    process is killed (SIGKILL, like the OOM killer) on task ``kill``."""
    if task == kill:
        os.kill(os.getpid(), signal.SIGKILL)
    return Failed(task, "odd") if task % 2 else Done(task, task ** 2)
