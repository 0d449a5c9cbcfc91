"""Writing predictions: the table (CSV, JSON or text on stdout) and ``--organize``.

Columns, in this order: ``path, genre, confidence, status, reason``, with ``--top-k K`` the
runners-up ``genre_2, confidence_2, ... genre_K, confidence_K``, then ``p_<label>`` for every
class in the model's label order. A failed row has an empty genre, confidence and probabilities
(JSON: ``null``) and its one-line reason; an ok row has an empty reason. A tagger
(:mod:`mgc.predict.tagger`) adds ``tag_<name>`` for each of its tags (``tags``), after the ``p_`` columns.
"""

from __future__ import annotations

import csv
import filecmp
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from mgc.errors import UserError

FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl"}  # JSON Lines: one object per line
BASE_COLUMNS = ["path", "genre", "confidence", "status", "reason"]
DIGITS = 6
TOP_TAGS = 3  # a tagger's text table: its likeliest tags per file


def tag_column(tag: str) -> str:
    """``tag_`` + the tag, spaces as ``_`` (``female vocalists`` -> ``tag_female_vocalists``)."""
    return "tag_" + str(tag).replace(" ", "_")


def top_columns(top_k: int) -> list[str]:
    """``genre_2, confidence_2, ...`` up to ``top_k`` (none for 1)."""
    return [f"{what}_{k}" for k in range(2, top_k + 1) for what in ("genre", "confidence")]


def columns(labels, tags=(), top_k: int = 1) -> list[str]:
    return BASE_COLUMNS + top_columns(top_k) + [f"p_{label}" for label in labels] + [tag_column(tag) for tag in tags]


def output_format(path: str | os.PathLike, option: str = "--output") -> str:
    """``"csv"`` or ``"json"`` from the file's extension; anything else is a user error."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise UserError(f"{option} must end in .csv, .json or .jsonl, got {os.fspath(path)!r}")
    return fmt


def records(rows, labels, tags=(), top_k: int = 1) -> list[dict]:
    """Rows as dicts in column order; ``None`` where a failed row has no value."""
    out = []
    for row in rows:
        ok = row.status == "ok"
        record = {"path": row.path, "genre": row.genre if ok else "",
                  "confidence": round(float(row.confidence), DIGITS) if ok else None,
                  "status": row.status, "reason": row.reason}
        ranked = np.argsort(-np.asarray(row.probabilities), kind="stable") if ok else []
        for k in range(2, top_k + 1):  # the runners-up (the model's own order of preference)
            record[f"genre_{k}"] = labels[ranked[k - 1]] if ok else ""
            record[f"confidence_{k}"] = round(float(row.probabilities[ranked[k - 1]]), DIGITS) if ok else None
        for i, label in enumerate(labels):
            record[f"p_{label}"] = round(float(row.probabilities[i]), DIGITS) if ok else None
        for i, tag in enumerate(tags):
            record[tag_column(tag)] = round(float(row.tags[i]), DIGITS) if ok else None
        out.append(record)
    return out


def records_csv(header: list[str], values: list[dict]) -> str:
    """``values`` (dicts in ``header``'s order) as CSV text: floats with :data:`DIGITS` decimals, None empty."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for record in values:
        writer.writerow(["" if v is None else (f"{v:.{DIGITS}f}" if isinstance(v, float) else v)
                         for v in record.values()])
    return buffer.getvalue()


def to_csv(rows, labels, tags=(), top_k: int = 1) -> str:
    return records_csv(columns(labels, tags, top_k), records(rows, labels, tags, top_k))


def to_json(rows, labels, tags=(), top_k: int = 1) -> str:
    return json.dumps(records(rows, labels, tags, top_k), indent=2, ensure_ascii=False) + "\n"


class OutputError(UserError):
    """``--output`` could not be written after all (a full disk, ...); ``text`` is the table."""

    def __init__(self, message: str, text: str):
        super().__init__(message)
        self.text = text


def _cannot_write(path, reason, option: str = "--output") -> str:
    return f"cannot write {option} {os.fspath(path)}: {reason}"


def check_output(path: str | os.PathLike, option: str = "--output") -> None:
    """Fail now, before any work, when the table could not be written to ``path``: not a
    folder, its folder can be created (the nearest existing one is a folder) and written (a
    temporary file is created there and removed). Raises :class:`UserError` naming ``path``."""
    target = Path(path)
    if target.is_dir():
        raise UserError(_cannot_write(path, "it is a directory", option))
    folder = target.parent
    while not folder.exists() and folder != folder.parent:  # the folders write_table will create
        folder = folder.parent
    if not folder.is_dir():
        raise UserError(_cannot_write(path, f"{folder} is not a directory", option))
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".check", dir=folder)
    except OSError as exc:
        raise UserError(_cannot_write(path, exc.strerror or exc, option)) from None
    os.close(fd)
    os.unlink(probe)


def write_table(rows, labels, path: str | os.PathLike, tags=(), top_k: int = 1) -> Path:
    """Write the table to ``path`` (format by extension), atomically (a temporary file, flushed
    to disk and renamed). Raises :class:`OutputError` naming ``path`` when it cannot."""
    path = Path(path)
    csv_text = output_format(path) == "csv"
    return write_text(path, to_csv(rows, labels, tags, top_k) if csv_text else to_json(rows, labels, tags, top_k))


def write_text(path: Path, text: str, option: str = "--output") -> Path:
    """``text`` into ``path`` atomically; :class:`OutputError` (holding ``text``) when it cannot."""
    from mgc.io import atomic_write_text

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, text)
    except OSError as exc:  # atomic_write_text removes its temporary file itself
        raise OutputError(_cannot_write(path, exc.strerror or exc, option), text) from None
    return path


def _top_tags(row, tags, n: int = TOP_TAGS) -> str:
    best = sorted(range(len(tags)), key=lambda i: -row.tags[i])[:n]
    return ", ".join(f"{tags[i]} {100 * row.tags[i]:.0f}%" for i in best)


def to_text(rows, labels, tags=()) -> str:
    """A readable, aligned table: path, genre, confidence and each class's probability (%);
    a failed row shows its reason instead. A tagger's rows end with their three likeliest tags."""
    tags = list(tags)
    header = ["path", "genre", "confidence", *labels, *(["top tags"] if tags else [])]
    ok = [[row.path, row.genre, f"{100 * row.confidence:.1f}%", *(f"{100 * p:.1f}%" for p in row.probabilities),
           *([_top_tags(row, tags)] if tags else [])]
          for row in rows if row.status == "ok"]
    widths = [max(len(line[i]) for line in [header, *ok]) for i in range(len(header))]
    widths[0] = max(widths[0], *(len(row.path) for row in rows))

    def fmt(cells):
        return "  ".join(c.ljust(w) if i < 2 or (tags and i == len(cells) - 1) else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    out, ok_lines = [fmt(header)], iter(ok)
    for row in rows:
        out.append(fmt(next(ok_lines)) if row.status == "ok" else f"{row.path.ljust(widths[0])}  failed: {row.reason}")
    return "\n".join(out) + "\n"


def _folder_name(label: str) -> str:
    name = label.replace(os.sep, "_").replace("/", "_").strip()
    return "_" + name if not name or name.startswith(".") else name


def _same_file(source: str, dest: Path, copy: bool) -> bool:
    """Whether ``dest`` is ``source`` already placed: a link resolving to it (or, for a copy, a
    regular file with the same content, compared by size then bytes)."""
    if not copy:
        return dest.is_symlink() and os.path.realpath(dest) == os.path.realpath(source)
    try:
        return not dest.is_symlink() and filecmp.cmp(source, dest, shallow=False)
    except OSError:
        return False


def _inside(source: str, folder: Path) -> bool:
    """Whether ``source`` lies in ``folder`` (at any depth): predict run on an organized folder."""
    parent = os.path.realpath(os.path.dirname(os.path.abspath(source)))
    return Path(parent).is_relative_to(os.path.realpath(folder))


def place(source: str, folder: Path, copy: bool = False) -> tuple[Path, bool]:
    """Link (or copy) ``source`` into ``folder`` under its own name, never replacing anything:
    ``name.ext``, else ``name (1).ext``, ``name (2).ext``, ... Symlinks point at the absolute path.

    ``(destination, already)``: a file already there (``source`` itself lies in ``folder``, or
    one of those names is already a link to it, or for a copy, a file with its content) is left
    alone and ``already`` is true, so running the same command again places nothing twice."""
    if _inside(source, folder):
        return Path(source), True
    folder.mkdir(parents=True, exist_ok=True)
    name = os.path.basename(source)
    stem, ext = os.path.splitext(name)
    target = os.path.abspath(source)
    n = 0
    while True:
        dest = folder / (name if n == 0 else f"{stem} ({n}){ext}")
        n += 1
        try:
            if not copy:
                os.symlink(target, dest)
                return dest, False
            with open(dest, "xb") as out:  # exclusive create: an existing file is never touched
                try:
                    with open(source, "rb") as inp:
                        shutil.copyfileobj(inp, out)
                except BaseException:
                    out.close()
                    os.unlink(dest)
                    raise
            shutil.copystat(source, dest)
            return dest, False
        except FileExistsError:
            if _same_file(source, dest, copy):
                return dest, True
            continue


def organize(rows, directory: str | os.PathLike, copy: bool = False) -> tuple[int, int, int, list[str]]:
    """Put each ok file into ``directory/<genre>/``; ``(placed, renamed, already, problems)``.

    Sets each row's ``destination``. A file already in place (see :func:`place`) is counted in
    ``already`` and left alone. A file that cannot be placed (permissions, a vanished source) is
    a problem line, not an error: the others are still placed.
    """
    directory = Path(directory)
    placed = renamed = already = 0
    problems = []
    for row in rows:
        if row.status != "ok":
            continue
        try:
            dest, there = place(row.path, directory / _folder_name(row.genre), copy)
        except OSError as exc:
            problems.append(f"{row.path}: {exc.strerror or exc}")
            continue
        row.destination = str(dest)
        if there:
            already += 1
            continue
        placed += 1
        renamed += dest.name != os.path.basename(row.path)
    return placed, renamed, already, problems
