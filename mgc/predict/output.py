"""Tables that grow as files finish and survive an interrupt: ``predict --output`` in CSV or JSON Lines.

Each finished file's row is appended at once (written whole, flushed and synced to disk), so
Ctrl-C, a crash or SIGKILL keeps every finished row; a row cut short by a kill is dropped when the table is opened
again. Each row ends with the file's ``file_stamp`` (size and modification time,
:func:`mgc.io.file_stamp`): running the same command again skips the files whose row is there
and whose stamp is unchanged, and replaces the rows of files that changed, so the finished
table has one row per file. Rows of files the command does not name are kept.

A ``.json`` table (one JSON array) cannot grow this way: it is written once, at the end.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Iterable

from mgc.errors import UserError

STAMP = "file_stamp"  # the last column: what a rerun compares to skip a file
RESUMABLE = ("csv", "jsonl")
COMMIT_ROWS = 1  # rows per commit: every finished file at once (one write and fsync, ~0.4 ms), so a kill loses none


class GrowingTable:
    """An append-only table at ``path`` (``fmt``: ``csv`` or ``jsonl``) with ``columns`` (ending in
    :data:`STAMP`), keyed by its ``path`` column. ``option`` names the flag in error messages."""

    def __init__(self, path: str | os.PathLike, fmt: str, columns: list[str], option: str = "--output"):
        if fmt not in RESUMABLE or columns[-1] != STAMP:
            raise ValueError(f"a growing table is csv or jsonl and ends with {STAMP}")
        self.path, self.fmt, self.columns, self.option = Path(path), fmt, list(columns), option
        self.pending: list[dict] = []
        self.committed = 0

    # -- reading what an earlier run left ------------------------------------------------------
    def existing(self) -> list[dict]:
        """The committed rows already in the file (a partial last line, from a kill, is cut off
        the file). A file with other columns (another model, another --top-k) is refused."""
        if not self.path.is_file() or self.path.stat().st_size == 0:
            return []
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):  # a line cut short by a kill: never committed
            with open(self.path, "rb+") as fh:
                fh.truncate(end)
            data = data[:end]
        text = data.decode("utf-8")
        if self.fmt == "csv":
            reader = csv.reader(io.StringIO(text))
            header = next(reader, [])
            if header != self.columns:
                raise self._other_table(f"its columns are {', '.join(header[:6])}...")
            return [dict(zip(header, line)) for line in reader if line]
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        if rows and list(rows[0]) != self.columns:
            raise self._other_table(f"its rows have the keys {', '.join(list(rows[0])[:6])}...")
        return rows

    def _other_table(self, what: str) -> UserError:
        return UserError(f"{self.option} {self.path} is not this command's table ({what}); give another file, "
                         f"or remove it to start over")

    def keep_only(self, rows: list[dict]) -> None:
        """Rewrite the file with just ``rows`` (atomically): an earlier run's rows of files that changed go."""
        from mgc.io import atomic_write_text

        atomic_write_text(self.path, self._header() + "".join(self._line(row) for row in rows))

    # -- writing ---------------------------------------------------------------------------------
    def _header(self) -> str:
        if self.fmt != "csv":
            return ""
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(self.columns)
        return buffer.getvalue()

    def _line(self, record: dict) -> str:
        if self.fmt == "jsonl":
            return json.dumps({c: record.get(c) for c in self.columns}, ensure_ascii=False) + "\n"
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(["" if record.get(c) is None else _cell(record.get(c))
                                                          for c in self.columns])
        return buffer.getvalue()

    def add(self, records: Iterable[dict]) -> None:
        """Queue rows; they are committed every :data:`COMMIT_ROWS` rows (and by :meth:`commit`)."""
        self.pending.extend(records)
        if len(self.pending) >= COMMIT_ROWS:
            self.commit()

    def commit(self) -> None:
        """Append the queued rows in one write, then flush and sync: committed rows survive a kill."""
        if not self.pending and self.path.exists():
            return
        new = not self.path.exists() or self.path.stat().st_size == 0
        text = (self._header() if new else "") + "".join(self._line(row) for row in self.pending)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8", newline="") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:  # a full disk: stop, keeping what was committed (a cut line is dropped next time)
            raise UserError(f"cannot write {self.option} {self.path}: {exc.strerror or exc} ({self.committed} rows "
                            f"kept; run the same command again to go on)") from None
        self.committed += len(self.pending)
        self.pending = []


def _cell(value) -> str:
    from mgc.predict.table import DIGITS

    return f"{value:.{DIGITS}f}" if isinstance(value, float) else str(value)


def stamps_of(paths: list[str]) -> dict[str, str | None]:
    """Each path's :func:`mgc.io.file_stamp` (None for a file that cannot be read: its row will say why)."""
    from mgc.io import file_stamp

    stamps = {}
    for path in paths:
        try:
            stamps[path] = file_stamp(path)
        except OSError:
            stamps[path] = None
    return stamps


def resume(table: GrowingTable, paths: list[str], stamps: dict[str, str | None] | None = None) -> tuple[list[str], int]:
    """``(todo, kept)``: the paths whose rows must still be computed, and how many rows an earlier
    run left for the others (same path, same stamp: ``stamps``, by default read now). Rows of named
    files that changed (or vanished) are removed from the file first."""
    rows = table.existing()
    stamps = stamps_of(paths) if stamps is None else stamps
    done = {row["path"] for row in rows if row["path"] in stamps and stamps[row["path"]] is not None
            and str(row.get(STAMP)) == stamps[row["path"]]}
    keep, seen = [], set()
    for row in rows:  # one row per file: an earlier run's rows of files that changed are dropped
        if (row["path"] in done or row["path"] not in stamps) and row["path"] not in seen:
            keep.append(row)
            seen.add(row["path"])
    if len(keep) != len(rows):
        table.keep_only(keep)
    return [p for p in paths if p not in done], len(done)


class RowSink:
    """Where ``predict``'s rows go as they finish: the ``--output`` and ``--segments`` tables (growing
    ones for CSV and JSON Lines, else kept and written at the end), ``--write-tags`` (``tag_writer``: a
    :class:`~mgc.predict.tag_writer.TagWriter`; files tagged before they are organized, so copies carry
    the tags) and ``--organize``."""

    def __init__(self, labels, tags, *, output=None, segments=None, top_k: int = 1, min_confidence: float = 0.0,
                 organize_dir=None, copy: bool = False, tag_writer=None, timelines: bool = False):
        from mgc.predict.segments import segment_columns
        from mgc.predict.table import columns, output_format

        self.labels, self.tags, self.top_k, self.min_confidence = list(labels), list(tags), top_k, min_confidence
        self.output, self.segments, self.organize_dir, self.copy = output, segments, organize_dir, copy
        self.tag_writer = tag_writer
        self.untagged = 0  # ok files left untouched by --write-tags: below --min-confidence
        self.timelines: dict | None = {} if timelines else None  # --html: each file's windows, compact
        self.rows: list = []  # kept only for a table written at the end (.json, stdout)
        self.segment_rows: list = []
        self.table = self.segment_table = None
        if output and output_format(output) in RESUMABLE:
            self.table = GrowingTable(output, output_format(output), columns(labels, tags, top_k) + [STAMP])
        if segments and output_format(segments, "--segments") in RESUMABLE:
            self.segment_table = GrowingTable(segments, output_format(segments, "--segments"),
                                              segment_columns(labels) + [STAMP], "--segments")
        self.n = self.failed = self.placed = self.renamed = self.already = 0
        self.problems: list[str] = []
        self.stamps: dict[str, str | None] = {}  # read once, before the files are predicted

    def resume(self, paths: list[str], settings: dict | None = None) -> tuple[list[str], int]:
        """``(todo, kept)``: the paths still to predict (all of them without a growing ``--output``);
        a growing ``--segments`` table loses its rows of those paths.

        ``settings`` (the model and the options that change a row) are kept beside the table
        (``.<name>.mgc.json``); a table made with other settings is refused, never mixed."""
        todo, kept = paths, 0
        if self.table is not None or self.segment_table is not None:
            self.stamps = stamps_of(paths)  # a file changed while it is predicted gets a stale stamp: done again
        if self.table is not None:
            check_settings(self.table.path, settings or {})
            todo, kept = resume(self.table, paths, self.stamps)
        if self.segment_table is not None:  # segments of the files predicted (again) are replaced
            again = set(todo)
            rows = self.segment_table.existing()
            if any(row["path"] in again for row in rows):
                self.segment_table.keep_only([row for row in rows if row["path"] not in again])
        return todo, kept

    def add(self, row) -> None:
        from mgc.contract import UNKNOWN_GENRE
        from mgc.predict.segments import segment_records
        from mgc.predict.table import organize, records

        self.n += 1
        self.failed += row.status != "ok"
        stamp = self.stamps.get(row.path) or ""
        if self.tag_writer is not None and row.status == "ok":
            if row.genre == UNKNOWN_GENRE:
                self.untagged += 1
            elif self._unchanged(row.path, stamp) and self.tag_writer.tag(row.path, row.genre, row.confidence) \
                    and stamp:  # a growing table's row is of the tagged file: a rerun skips it
                stamp = stamps_of([row.path])[row.path] or stamp
        if self.organize_dir and row.status == "ok":
            placed, renamed, already, problems = organize([row], self.organize_dir, copy=self.copy)
            self.placed, self.renamed = self.placed + placed, self.renamed + renamed
            self.already += already
            self.problems += problems
        if self.table is not None:
            (record,) = records([row], self.labels, self.tags, self.top_k)
            self.table.add([{**record, STAMP: stamp}])
        else:
            self.rows.append(row)
        found = segment_records([row], self.labels, self.min_confidence) if self.segments or \
            self.timelines is not None else []
        if self.timelines is not None and found:
            from mgc.predict.html import segment_timelines

            self.timelines.update(segment_timelines(found))
        if self.segments:
            if self.segment_table is not None:
                self.segment_table.add([{**record, STAMP: stamp} for record in found])
            else:
                self.segment_rows.append(row)

    def page_records(self) -> list[dict]:
        """The rows for the HTML page: the growing table's (kept ones included), else this run's."""
        from mgc.predict.table import records

        if self.table is not None and self.table.path.is_file():
            return self.table.existing()
        return records(sorted(self.rows, key=lambda row: row.index), self.labels, self.tags, self.top_k)

    def page_timelines(self) -> dict:
        """Each file's windows for the page: a growing --segments table's (earlier runs' too) and this run's."""
        from mgc.predict.html import segment_timelines

        found = {}
        if self.segment_table is not None and self.segment_table.path.is_file():
            found = segment_timelines(self.segment_table.existing())
        return {**found, **(self.timelines or {})}

    def _unchanged(self, path: str, stamp: str) -> bool:
        """Whether ``path`` is still the file that was predicted (a growing table knows its stamp):
        one changed meanwhile is not tagged (its row's stale stamp has it predicted again next time)."""
        if not stamp or stamps_of([path])[path] == stamp:
            return True
        self.tag_writer.problems.append(f"{path}: changed while it was predicted; not tagged")
        return False

    def finish(self, paths: list[str]) -> None:
        """At the end of a whole run: the growing tables rewritten (atomically) with their rows in the
        order of ``paths`` (rows of other files after them), as a table written at the end would be."""
        self.commit()
        order = {path: i for i, path in enumerate(paths)}
        for table in (self.table, self.segment_table):
            if table is not None and table.path.is_file():
                rows = table.existing()
                ranked = sorted(range(len(rows)), key=lambda i: (order.get(rows[i]["path"], len(order)), i))
                if ranked != list(range(len(rows))):
                    table.keep_only([rows[i] for i in ranked])

    def commit(self) -> None:
        """Commit what the growing tables hold (at the end, and on an interrupt)."""
        for table in (self.table, self.segment_table):
            if table is not None:
                table.commit()


def settings_file(path: Path) -> Path:
    return path.with_name(f".{path.name}.mgc.json")


def check_settings(path: Path, settings: dict) -> None:
    """Refuse to grow ``path`` with rows made under other ``settings`` than its own (recorded beside it)."""
    from mgc.io import atomic_write_json

    record = settings_file(path)
    if path.is_file() and path.stat().st_size and record.is_file():
        made = json.loads(record.read_text())
        changed = [key for key in sorted(set(made) | set(settings)) if made.get(key) != settings.get(key)]
        if changed:
            key = changed[0]
            raise UserError(f"--output {path} was made with other settings ({key}: {made.get(key)!r}, now "
                            f"{settings.get(key)!r}); give another --output, or remove it (and {record.name}) to "
                            "start over")
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(record, settings)
    except OSError as exc:
        raise UserError(f"cannot write --output {path}: {exc.strerror or exc} (its settings file {record.name})") \
            from None
