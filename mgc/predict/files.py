"""Which files a ``predict`` command line means: files, folders (recursive) and glob patterns."""

from __future__ import annotations

import glob
import os
import sys

from mgc.datasets.folder import AUDIO_EXTENSIONS
from mgc.errors import UserError

WILDCARDS = frozenset("*?[")


def is_audio(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS and not os.path.basename(name).startswith(".")


def _real(path: str) -> str:
    """The file a path means once every symlink is resolved: two paths to one file, one row."""
    return os.path.normcase(os.path.realpath(path))


def _walk(folder: str) -> list[str]:
    """Audio files under ``folder`` (any depth; hidden files and folders skipped), sorted.

    Symlinked folders are followed, but each real folder is walked once (a link back to a
    parent is not a loop of copies), and a file reached by two paths (a symlinked file, or a
    folder reached through a link) is listed once, under the path that sorts first."""
    found = []
    visited: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        try:
            st = os.stat(dirpath)
        except OSError:  # vanished or unreadable meanwhile: os.walk skips what it cannot list
            dirnames[:] = []
            continue
        if (st.st_dev, st.st_ino) in visited:  # already walked by another path
            dirnames[:] = []
            continue
        visited.add((st.st_dev, st.st_ino))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(os.path.join(dirpath, name) for name in filenames if is_audio(name))
    unique, seen = [], set()
    for path in sorted(found):
        if (real := _real(path)) not in seen:
            seen.add(real)
            unique.append(path)
    return unique


def expand_paths(args: list[str]) -> list[str]:
    """Audio files named by ``args``, in argument order, each argument's files sorted, no duplicates
    (paths that resolve to the same real file, through symlinks, are one file: the first found).

    A file is taken as given (whatever its extension: a bad one becomes a failed row, so does a
    file that does not exist); a folder gives the audio files under it (mp3, wav, flac, ogg, opus, au,
    any case, recursively; a folder without any is warned about); an argument with ``*``, ``?``
    or ``[`` is a glob pattern (``**`` spans folders; quote it so the shell leaves it to predict)
    whose matching audio files and folders count. Raises :class:`UserError` when no audio file
    is found at all.
    """
    files: list[str] = []
    seen: set[str] = set()
    empty: list[str] = []

    def add(path: str) -> None:
        key = _real(path)  # a file and a symlink to it are one file
        if key not in seen:
            seen.add(key)
            files.append(path)

    for arg in args:
        arg = os.path.expanduser(arg)
        if os.path.isdir(arg):
            matched = _walk(arg)
        elif os.path.lexists(arg) or not WILDCARDS & set(arg):
            matched = [arg]  # an existing file, or a missing one: a failed row "file not found"
        else:
            matched = []
            for hit in sorted(glob.glob(arg, recursive=True)):
                if os.path.isdir(hit):
                    matched.extend(_walk(hit))
                elif is_audio(hit):
                    matched.append(hit)
        if not matched:
            empty.append(arg)
        for path in matched:
            add(path)
    if not any(os.path.exists(path) for path in files):
        exts = ", ".join(e.lstrip(".") for e in AUDIO_EXTENSIONS)
        shown = ", ".join(args[:3]) + (", ..." if len(args) > 3 else "")
        raise UserError(f"no audio files ({exts}) found in {shown}")
    for arg in empty:
        print(f"warning: no audio files in {arg}", file=sys.stderr)
    return files
