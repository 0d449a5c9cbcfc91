"""Committing files: atomic writes, file stamps, a one-writer lock, the settings hash.

Every file a stage commits (tables, the cache's shards and indexes, manifests, reports) is
written to a temporary name next to it, flushed to disk and renamed into place, so a reader
(or the next run, after a crash or ``kill -9``) sees the old file or the whole new one, never a
part. The temporary name is unique per writer (pid and a random suffix): ``extract --shard``
workers on other machines (maybe with the same pid, as in containers) may write the same file
on shared storage. A failed write (a full disk, Ctrl-C) removes its temporary file.

Stdlib only (pandas is only passed in): no TensorFlow, nothing else of mgc but its errors.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from mgc.errors import UserError

if TYPE_CHECKING:
    import pandas as pd

MISSING = "missing"  # the stamp of a path that does not exist


def _temporary(path: Path) -> Path:
    """A name next to ``path`` that no other writer uses: ``.<name>.tmp<pid>-<random>``."""
    return path.with_name(f".{path.name}.tmp{os.getpid()}-{uuid.uuid4().hex[:8]}")


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a unique temporary path next to ``path`` for a writer that needs a path of its own
    (``tf.io.TFRecordWriter``, or ``open`` for ``np.savez``: give it the open file, since
    given a path it appends ``.npz``). On success the file is flushed to disk and renamed to
    ``path``; on any exception it is removed and the exception goes on."""
    path = Path(path)
    tmp = _temporary(path)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:  # a full disk, Ctrl-C: leave no temporary file behind
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the whole new one."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """:func:`atomic_write_bytes` of ``text`` as UTF-8."""
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path: str | os.PathLike, payload: Any) -> None:
    """``payload`` as indented JSON with sorted keys and a final newline, atomically."""
    atomic_write_text(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")


def atomic_write_csv(path: str | os.PathLike, frame: pd.DataFrame, **to_csv) -> None:
    """``frame.to_csv(**to_csv)`` (e.g. ``index=False``), atomically."""
    atomic_write_text(path, frame.to_csv(**to_csv))


def file_stamp(path: str | os.PathLike) -> str:
    """``size:mtime_ns`` of a file, or ``missing``: changes when the file is replaced."""
    try:
        stat = os.stat(path)
    except OSError:
        return MISSING
    return f"{stat.st_size}:{stat.st_mtime_ns}"


@contextmanager
def exclusive(directory: str | os.PathLike, message: str):
    """Hold ``directory/.lock`` for one writer at a time, else raise ``UserError(message)`` at
    once. The OS drops the lock when the holder dies (even ``kill -9``). No lock where the
    platform has no ``fcntl``."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    with open(Path(directory) / ".lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(message) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def settings_hash(payload: dict[str, Any], length: int = 12) -> str:
    """A stable short hash of JSON-able settings (used to key caches and runs)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]
