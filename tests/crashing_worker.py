"""A worker function for tests that kills its own process on chosen files, like a decoder crash."""

import os

from mgc.cache.builder import process_track


def crash_on_marked_files(task, audio, spec):
    if "CRASH" in task[1]:
        os._exit(139)  # what a segfaulting decoder looks like to the pool
    return process_track(task, audio, spec)
