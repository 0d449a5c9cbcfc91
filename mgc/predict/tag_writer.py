"""``predict --write-tags`` and ``predict --undo-tags FILE``: genres written into the files themselves.

Each file is tagged safely (:meth:`TagWriter.tag`): its tags are written into a copy in its own
folder, the copy is read back (the tags must be what was written, and the audio data, by
:func:`mgc.audio.payload.audio_digest`, the original's byte for byte), the previous values go into
the undo file, and only then the copy replaces the original (``os.replace``, atomic). A failure at
any step leaves the original as it was.

The undo file (``tags-undo.json`` by default) is one JSON object, ``{"mgc_tags_undo": 1, "entries":
[...]}``, one entry a line (path, format, ``before`` and ``after`` values: :mod:`.file_tags`), grown by
one synced write per file, so an interrupted run keeps the record of every file it changed.
:func:`undo` restores the ``before`` values, newest entry first, of each file whose tags are still
what mgc wrote (a file re-tagged since is left alone and named).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from mgc.audio.payload import audio_digest
from mgc.contract import TAGS_UNDO_FILE
from mgc.errors import AudioError, UserError
from mgc.predict import file_tags
from mgc.predict.file_tags import TagError

UNDO_FILE = TAGS_UNDO_FILE
HEAD = '{"mgc_tags_undo": 1, "entries": [\n'
TAIL = "\n]}\n"


def mgc_note(confidence: float, model: str, version: str) -> str:
    """The :data:`~mgc.predict.file_tags.MGC_TAG` value: who wrote the genre, and how sure it was."""
    from mgc import __version__

    return f"confidence={confidence:.6f}; model={model}; version={version}; mgc={__version__}"


class UndoJournal:
    """The undo file at ``path``: read tolerantly (a line cut by a kill is dropped), grown a line at a time."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._count: int | None = None

    def entries(self) -> list[dict]:
        if not self.path.is_file():
            raise UserError(f"no undo file {self.path}")
        text = self.path.read_text(encoding="utf-8")
        if not text.startswith(HEAD.strip()):
            raise UserError(f"{self.path} is not an mgc tags undo file")
        out = []
        for line in text.splitlines()[1:]:
            line = line.strip().strip(",")
            if not line or line == "]}":
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:  # the last line, cut short by a kill
                break
        return out

    def append(self, entry: dict) -> None:
        """Add ``entry`` on a line of its own, synced to disk, leaving the file valid JSON."""
        line = json.dumps(entry, ensure_ascii=False)
        try:
            if self._count is None:  # first use: start the file, or rewrite one an interrupt cut, whole
                kept = self.entries() if self.path.is_file() and self.path.stat().st_size else []
                self._rewrite(kept)
                self._count = len(kept)
            with open(self.path, "r+", encoding="utf-8") as fh:
                end = fh.seek(0, os.SEEK_END)
                fh.seek(end - len(TAIL))
                fh.write((",\n" if self._count else "") + line + TAIL)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise UserError(f"cannot write the undo file {self.path}: {exc.strerror or exc}") from None
        self._count += 1

    def _rewrite(self, entries: list[dict]) -> None:
        from mgc.io import atomic_write_text

        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path, HEAD + ",\n".join(json.dumps(e, ensure_ascii=False) for e in entries) + TAIL)


def same_tags(a: dict, b: dict) -> bool:
    """Whether two :func:`~mgc.predict.file_tags.read` dicts hold the same tag values (whether a tag
    block exists is not a value: an ID3 tag left without frames is not saved at all)."""
    return all(a.get(key) == b.get(key) for key in set(a) | set(b) if key != file_tags.TAG_BLOCK)


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.stem}.mgc-tags{path.suffix}")  # the same folder: os.replace is atomic


def replace_tags(path: str | os.PathLike, values: dict, before_replace=None) -> None:
    """Give ``path`` the tag ``values`` safely: on a copy, verified, then put in place (see the module).
    ``before_replace`` is called once the copy is verified, before the original is replaced."""
    path = Path(path)
    temporary = _temporary(path)
    try:
        original = audio_digest(path)
        shutil.copy2(path, temporary)
        file_tags.apply(file_tags.open_file(temporary), values)
        written = file_tags.read(file_tags.open_file(temporary))
        if not same_tags(written, values):
            changed = next(key for key in values if key != file_tags.TAG_BLOCK and written.get(key) != values[key])
            raise TagError(f"the tags read back differ from those written ({changed}: {written.get(changed)!r})")
        if audio_digest(temporary) != original:
            raise TagError("writing the tags changed the audio data")
        if before_replace is not None:
            before_replace()
        os.replace(temporary, path)
    except OSError as exc:
        raise TagError(f"cannot write its tags: {exc.strerror or exc}") from None
    except AudioError as exc:
        raise TagError(str(exc)) from None
    except TagError:
        raise
    except Exception as exc:  # mutagen's own errors (a corrupt frame, ...)
        raise TagError(f"cannot write its tags: {file_tags.one_line(exc)}") from None
    finally:
        temporary.unlink(missing_ok=True)


class TagWriter:
    """Writes predicted genres into files (``dry_run``: only says what it would change), recording
    the previous values in ``undo``'s journal. Counts what it did in ``tagged``, ``unchanged``, ``failed``."""

    def __init__(self, model: str, version: str, undo: str | os.PathLike = UNDO_FILE, dry_run: bool = False,
                 echo=print):
        self.model, self.version, self.dry_run, self.echo = model, str(version), dry_run, echo
        self.journal = UndoJournal(undo)
        self.tagged = self.unchanged = 0
        self.problems: list[str] = []

    def tag(self, path: str, genre: str, confidence: float) -> bool:
        """Tag one file; whether it was changed (a failure is a problem line, never an error)."""
        try:
            audio = file_tags.open_file(path)
            before = file_tags.read(audio)
            after = file_tags.wanted(audio, genre, mgc_note(confidence, self.model, self.version))
            if same_tags(before, after):
                self.unchanged += 1
                return False
            old = _genre_text(audio, before)
            if self.dry_run:
                self.echo(f"would tag {path}: genre {old!r} -> {genre!r} ({file_tags.format_name(audio)})")
                self.tagged += 1
                return False
            entry = {"path": os.path.abspath(path), "format": file_tags.format_name(audio), "before": before,
                     "after": after}
            replace_tags(path, after, before_replace=lambda: self.journal.append(entry))
        except TagError as exc:
            self.problems.append(f"{path}: {exc}")
            return False
        self.tagged += 1
        return True


def _genre_text(audio, values: dict) -> str:
    value = values.get(file_tags.keys(audio)[0])
    if value is None:
        return ""
    return "; ".join(value["text"] if isinstance(value, dict) else value)


def undo(undo_file: str | os.PathLike, dry_run: bool = False, echo=print) -> tuple[int, int, list[str]]:
    """Restore the tags the undo file recorded, newest first: ``(restored, already, problems)``.

    A file whose tags are no longer what mgc wrote (re-tagged since) is a problem line and left
    alone; one already as it was before is counted in ``already``, so undoing twice changes nothing."""
    restored = already = 0
    problems = []
    for entry in reversed(UndoJournal(undo_file).entries()):
        path = entry["path"]
        try:
            audio = file_tags.open_file(path)
            current = file_tags.read(audio)
            if same_tags(current, entry["before"]):
                already += 1
                continue
            if not same_tags(current, entry["after"]):
                problems.append(f"{path}: its tags changed since mgc wrote them; left as they are")
                continue
            if dry_run:
                echo(f"would restore {path}: genre {_genre_text(audio, current)!r} -> "
                     f"{_genre_text(audio, entry['before'])!r}")
            else:
                replace_tags(path, entry["before"])
            restored += 1
        except TagError as exc:
            problems.append(f"{path}: {exc}")
    return restored, already, problems
