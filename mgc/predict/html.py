"""``predict --html FILE``: the predictions as one self-contained HTML page.

The page holds a header (title, model, counts of files, ok, unknown and failed), the library's
genre distribution (CSS bars, a click filters by that genre), and a table of files: name (the full
path in its tooltip), genre, confidence, status, reason, the file's genre timeline from its
windows (``--segments``) and a player for local files. A header click sorts (again to reverse),
a genre menu and a path search filter by toggling ``hidden``.

Rows are rendered here, every value escaped; the inline script only sorts and filters, so the page
stays quick at 10k+ files. Nothing is loaded from anywhere (no URL, no external script, style or
font; a Content-Security-Policy forbids it), so it works opened from disk. Each player's ``src`` is
the file's path relative to the page's folder (percent-encoded): the page keeps working when its
folder moves together with the library. A row holds a play button (``button.play``, the ``src`` in
``data-src``) that becomes an ``<audio controls preload="none">`` when pressed: 10k ``<audio>``
elements take Chromium a minute to lay out, 10k buttons next to nothing.

Hooks for tests and scripts: ``table#files``, a ``tr.file`` per file with ``data-genre`` (the
genre, ``unknown``, or ``failed`` for a failed file), ``select#genre-filter``, ``input#search``
and ``#shown`` ("N of M files shown").
"""

from __future__ import annotations

import math
import os
from html import escape
from pathlib import Path, PurePath
from urllib.parse import quote

from mgc.contract import UNKNOWN_GENRE
from mgc.predict import html_assets
from mgc.predict.table import write_text

FAILED = "failed"  # a failed file's filter key (its genre is empty)


def _number(value) -> float | None:
    """A confidence or probability from a CSV string, a float or None; None when there is none."""
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _percent(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f} %"


def _clock(seconds: float) -> str:
    """``m:ss`` (``h:mm:ss`` from an hour on)."""
    whole = max(int(seconds), 0)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _key(record: dict) -> str:
    """The filter key of a row: its genre, or ``failed`` for a file that failed."""
    if str(record.get("status") or "") == FAILED:
        return FAILED
    return str(record.get("genre") or "") or UNKNOWN_GENRE


class _Colours:
    """A CSS class per genre: the label's place in ``labels`` picks from the palette (the same
    colours on every page of that model); other genres follow the labels, unknown grey."""

    def __init__(self, labels):
        self.classes = {label: f"c{i}" for i, label in enumerate(labels)}
        self.colours = {f"c{i}": html_assets.PALETTE[i % len(html_assets.PALETTE)] for i in range(len(labels))}
        self.classes[UNKNOWN_GENRE], self.colours["cu"] = "cu", html_assets.UNKNOWN_COLOUR
        self.classes[FAILED], self.colours["cf"] = "cf", html_assets.FAILED_COLOUR

    def __call__(self, genre: str) -> str:
        if genre not in self.classes:
            i = len(self.colours) - 2  # after the labels' own
            self.classes[genre] = f"c{i}"
            self.colours[f"c{i}"] = html_assets.PALETTE[i % len(html_assets.PALETTE)]
        return self.classes[genre]

    def css(self) -> str:
        return "\n".join(f".{name} {{ --c: {colour}; }}" for name, colour in self.colours.items())


def _audio_src(path: str, base_dir: Path | None) -> str | None:
    """The player's ``src`` for a local file that exists: its path relative to ``base_dir``,
    percent-encoded (a ``file:`` URI where there is no relative path, as across Windows drives)."""
    if base_dir is None or not path:
        return None
    try:
        target = Path(path).resolve()
        if not target.is_file():
            return None
        relative = os.path.relpath(target, Path(base_dir).resolve())
    except ValueError:  # no relative path between them (another drive)
        return target.as_uri()
    except OSError:
        return None
    return quote(PurePath(relative).as_posix())


def _ranked(record: dict, labels) -> list[tuple[str, float]]:
    """The likeliest genres (up to three) from the ``p_<label>`` columns, else from ``genre_k``."""
    pairs = [(label, p) for label in labels if (p := _number(record.get(f"p_{label}"))) is not None]
    if not pairs:
        k, pairs = 2, [(str(record.get("genre") or ""), _number(record.get("confidence")))]
        while f"genre_{k}" in record:
            pairs.append((str(record.get(f"genre_{k}") or ""), _number(record.get(f"confidence_{k}"))))
            k += 1
        pairs = [(g, p) for g, p in pairs if g and p is not None]
    return sorted(pairs, key=lambda pair: -pair[1])[:3]


def _timeline(segments, colour) -> str:
    """A bar of the file's windows, each coloured by its genre, titled ``0:00–0:30 rock 91 %``."""
    pieces = []
    for segment in segments or ():
        start, end, genre = _number(segment[0]), _number(segment[1]), str(segment[2] or UNKNOWN_GENRE)
        if start is not None and end is not None and end > start:
            pieces.append((start, end, genre, _number(segment[3]) if len(segment) > 3 else None))
    if not pieces:
        return ""
    total = max(end for _, end, _, _ in pieces)  # the file's length: its last window ends there
    span = max(total, 1e-9)
    out = []
    for start, end, genre, confidence in pieces:
        tip = f"{_clock(start)}\u2013{_clock(end)} {genre}"
        tip += "" if confidence is None else f" {100 * confidence:.0f} %"
        out.append(f'<span class="{colour(genre)}" style="left:{100 * start / span:.3f}%;'
                   f'width:{100 * (end - start) / span:.3f}%" title="{escape(tip)}"></span>')
    return f'<div class="tl" title="{escape(_clock(total))}">{"".join(out)}</div>'


def segment_timelines(segments) -> dict[str, list[tuple]]:
    """``render_html``'s ``timelines`` from the ``--segments`` table's dicts (``path, start, end, genre,
    confidence``; :func:`mgc.predict.segments.segment_records` or read back from its CSV), in window order."""
    out: dict[str, list[tuple]] = {}
    for segment in segments:
        out.setdefault(str(segment["path"]), []).append(
            (segment["start"], segment["end"], segment["genre"], segment.get("confidence")))
    return out


def _row(record: dict, labels, colour, timelines, base_dir) -> str:
    path = str(record.get("path") or "")
    status = str(record.get("status") or "")
    key = _key(record)
    confidence = None if key == FAILED else _number(record.get("confidence"))
    name = PurePath(path).name or path
    genre = "" if key == FAILED else key
    ranked = _ranked(record, labels) if genre else []
    genre_tip = ", ".join(f"{g} {100 * p:.1f} %" for g, p in ranked)
    genre_cell = (f'<span class="genre {colour(key)}" title="{escape(genre_tip)}">{escape(genre)}</span>'
                  if genre else "")
    src = _audio_src(path, base_dir)
    player = (f'<button type="button" class="play" data-src="{escape(src)}" title="play {escape(name)}">'
              "\u25b6</button>" if src else "")
    reason = str(record.get("reason") or "")
    return (f'<tr class="file" data-genre="{escape(key)}" data-path="{escape(path)}" data-name="{escape(name)}" '
            f'data-confidence="{"" if confidence is None else f"{confidence:.6f}"}" data-status="{escape(status)}" '
            f'data-reason="{escape(reason)}">'
            f'<td class="path" title="{escape(path)}">{escape(name)}</td><td>{genre_cell}</td>'
            f'<td class="num">{_percent(confidence)}</td><td>{escape(status)}</td>'
            f'<td class="reason">{escape(reason)}</td><td>{_timeline(timelines.get(path), colour)}</td>'
            f"<td>{player}</td></tr>")


def _order(keys, labels) -> list[str]:
    """The genres present: the model's order, then any others, then unknown and failed."""
    present = set(keys)
    last = [UNKNOWN_GENRE, FAILED]
    ordered = [label for label in labels if label in present and label not in last]
    ordered += sorted(present - set(ordered) - set(last))
    return ordered + [key for key in last if key in present]


def _distribution(counts: dict, labels, colour) -> str:
    """A bar per genre of the model (present or not), then others, unknown and failed: count and %."""
    total = sum(counts.values())
    genres = [label for label in labels if label not in (UNKNOWN_GENRE, FAILED)]
    genres += [g for g in _order(counts, labels) if g not in genres]
    top = max(counts.values(), default=0) or 1
    bars = []
    for genre in genres:
        n = counts.get(genre, 0)
        share = 100 * n / total if total else 0.0
        bars.append(f'<div class="bar" data-genre="{escape(genre)}" title="show only {escape(genre)}">'
                    f'<span class="name">{escape(genre)}</span><span class="track">'
                    f'<span class="fill {colour(genre)}" style="width:{100 * n / top:.2f}%"></span></span>'
                    f'<span class="n">{n} ({share:.1f} %)</span></div>')
    return "".join(bars) or "<p>no files</p>"


def render_html(records, labels, *, timelines=None, title: str = "mgc predict", model: str = "",
                base_dir=None) -> str:
    """The page for ``records`` (the per-file table's dicts, from the CSV's strings or JSON's floats)
    of a model with ``labels``; ``timelines``: ``{path: [(start_s, end_s, genre, confidence), ...]}``;
    ``base_dir``: the folder the page goes to (players only for existing local files, and only with it).
    Rendering 10k files takes about a second."""
    records = list(records)
    labels = [str(label) for label in labels]
    timelines = {str(path): segments for path, segments in (timelines or {}).items()}
    base_dir = None if base_dir is None else Path(base_dir)
    colour = _Colours(labels)
    keys = [_key(record) for record in records]
    counts: dict[str, int] = {}
    for key in keys:
        counts[key] = counts.get(key, 0) + 1
    rows = "\n".join(_row(record, labels, colour, timelines, base_dir) for record in records)
    distribution = _distribution(counts, labels, colour)
    options = "".join(f'<option value="{escape(g)}">{escape(g)}</option>' for g in _order(keys, labels))
    failed, unknown = counts.get(FAILED, 0), counts.get(UNKNOWN_GENRE, 0)
    summary = [("files", len(records)), ("ok", len(records) - failed - unknown), ("unknown", unknown),
               ("failed", failed)]
    head = [("name", "file", ""), ("genre", "genre", ""), ("confidence", "confidence", "number"),
            ("status", "status", ""), ("reason", "reason", "")]
    ths = "".join(f'<th data-sort="{key}" tabindex="0"' + (f' data-type="{kind}"' if kind else "") + f">{text}</th>"
                  for key, text, kind in head) + "<th>timeline</th><th>listen</th>"
    model_line = f'<span class="model">model {escape(str(model))}</span>' if model else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{html_assets.CSP}">
<title>{escape(str(title))}</title>
<style>{html_assets.CSS}
{colour.css()}
</style>
</head>
<body>
<header><h1>{escape(str(title))}</h1>{model_line}
<ul class="counts">{"".join(f'<li><b>{n}</b> {what}</li>' for what, n in summary)}</ul></header>
<h2>Genres</h2>
<section id="distribution">{distribution}</section>
<h2>Files</h2>
<div class="controls">
<label>genre <select id="genre-filter"><option value="">all genres</option>{options}</select></label>
<label>path <input id="search" type="search" placeholder="filter by path" autocomplete="off"></label>
<p id="shown">{len(records)} of {len(records)} files shown</p>
</div>
<table id="files">
<thead><tr>{ths}</tr></thead>
<tbody>
{rows}
</tbody>
</table>
<script>{html_assets.JS}</script>
</body>
</html>
"""


def write_html(path, records, labels, *, timelines=None, title: str = "mgc predict", model: str = "",
               option: str = "--html") -> Path:
    """The page at ``path``, atomically (its players relative to ``path``'s folder); raises
    :class:`~mgc.predict.table.OutputError` naming ``option`` when it cannot be written."""
    path = Path(path)
    text = render_html(records, labels, timelines=timelines, title=title, model=model, base_dir=path.parent)
    return write_text(path, text, option)
