"""The tags ``predict --write-tags`` touches in an audio file, read and written with mutagen.

Two tags per file: the genre, where music players and library managers (beets, Picard,
foobar2000, Plex, Navidrome) read it, and :data:`MGC_TAG`, which says who wrote that genre
(``confidence=0.912345; model=feature_fusion3; version=3; mgc=0.9.0``). Per format:

============  ==================================  =========================================
format        genre                               MGC_TAG
============  ==================================  =========================================
MP3, WAV      ID3v2 ``TCON`` (WAV: its ``id3 ``   ID3v2 ``TXXX:MGC``
              chunk)
FLAC, Ogg     Vorbis comment ``GENRE``            Vorbis comment ``MGC``
Vorbis, Opus
MP4 (M4A)     ``©gen`` (a numeric ``gnre`` is     freeform ``----:org.mgc:MGC``
              removed: it would shadow ``©gen``)
============  ==================================  =========================================

A file's tag values are a JSON-able dict (:func:`read`): each key above to its value, None where the
file lacks it, plus ``"tag block"``: whether the file had a tag block at all (so undoing removes one
that only mgc added). ID3 values keep their text encoding, so undo restores them exactly.
"""

from __future__ import annotations

import os

from mgc.errors import UserError

MGC_TAG = "MGC"
TAG_BLOCK = "tag block"
MP4_MGC = "----:org.mgc:" + MGC_TAG
FORMATS = {"MP3": "MP3", "WAVE": "WAV", "FLAC": "FLAC", "OggVorbis": "Ogg Vorbis", "OggOpus": "Opus",
           "MP4": "MP4"}


class TagError(UserError):
    """A file whose tags cannot be read or written (not a format mgc tags, corrupt, read-only)."""


def open_file(path: str | os.PathLike):
    """The file's mutagen object (by content); :class:`TagError` for a format not in :data:`FORMATS`."""
    import mutagen

    try:
        audio = mutagen.File(path)
    except Exception as exc:  # mutagen raises its own error types (and OSError) for unreadable files
        raise TagError(f"cannot read its tags: {one_line(exc)}") from None
    if audio is None or type(audio).__name__ not in FORMATS:
        kind = "unknown" if audio is None else type(audio).__name__
        raise TagError(f"cannot tag this format ({kind}); mgc tags {', '.join(sorted(set(FORMATS.values())))}")
    return audio


def format_name(audio) -> str:
    return FORMATS[type(audio).__name__]


def _id3(audio) -> bool:
    return format_name(audio) in ("MP3", "WAV")


def _mp4(audio) -> bool:
    return format_name(audio) == "MP4"


def keys(audio) -> tuple[str, ...]:
    """The keys :func:`read` returns for this file's format (besides :data:`TAG_BLOCK`)."""
    if _id3(audio):
        return ("TCON", "TXXX:" + MGC_TAG)
    if _mp4(audio):
        return ("\xa9gen", "gnre", MP4_MGC)
    return ("GENRE", MGC_TAG)


def read(audio) -> dict:
    """The values of :func:`keys` (None where missing) and :data:`TAG_BLOCK`."""
    tags = audio.tags
    values: dict = {TAG_BLOCK: tags is not None}
    for key in keys(audio):
        if tags is None or key not in tags:
            values[key] = None
        elif _id3(audio):
            frame = tags[key]
            values[key] = {"encoding": int(frame.encoding), "text": [str(t) for t in frame.text]}
        elif key == MP4_MGC:
            values[key] = [bytes(v).decode("utf-8") for v in tags[key]]
        elif key == "gnre":
            values[key] = [int(v) for v in tags[key]]
        else:
            values[key] = [str(v) for v in tags[key]]
    return values


def wanted(audio, genre: str, note: str) -> dict:
    """The values after tagging: the genre and the MGC note (UTF-8 text)."""
    genre_key, *rest = keys(audio)
    if _id3(audio):
        encoding = 1 if _id3_version(audio) == 3 else 3  # ID3v2.3 has no UTF-8: UTF-16 there
        return {TAG_BLOCK: True, genre_key: {"encoding": encoding, "text": [genre]},
                rest[0]: {"encoding": encoding, "text": [note]}}
    if _mp4(audio):
        return {TAG_BLOCK: True, genre_key: [genre], "gnre": None, MP4_MGC: [note]}
    return {TAG_BLOCK: True, genre_key: [genre], rest[0]: [note]}


def apply(audio, values: dict) -> None:
    """Set the file's tags to ``values`` (a :func:`read` or :func:`wanted` dict) and save it in place.
    A tag block the values say was not there, and that holds nothing else, is removed."""
    if audio.tags is None:
        audio.add_tags()
    tags = audio.tags
    for key in keys(audio):
        value = values.get(key)
        if key in tags:
            del tags[key]
        if value is None:
            continue
        if _id3(audio):
            from mutagen import id3

            if key == "TCON":
                tags.add(id3.TCON(encoding=value["encoding"], text=value["text"]))
            else:
                tags.add(id3.TXXX(encoding=value["encoding"], desc=key.split(":", 1)[1], text=value["text"]))
        elif key == MP4_MGC:
            from mutagen.mp4 import MP4FreeForm

            tags[key] = [MP4FreeForm(v.encode("utf-8")) for v in value]
        else:
            tags[key] = list(value)
    if not values.get(TAG_BLOCK) and not _has_others(audio):
        audio.delete()
        return
    if _id3(audio):
        audio.save(v2_version=_id3_version(audio))  # an ID3v2.3 file stays v2.3
    else:
        audio.save()


def _id3_version(audio) -> int:
    return 3 if audio.tags is not None and getattr(audio.tags, "version", (2, 4, 0))[1] == 3 else 4


def _has_others(audio) -> bool:
    tags = audio.tags
    if tags is None:
        return False
    ours = set(keys(audio))
    if _id3(audio) or _mp4(audio):
        return any(key not in ours for key in tags.keys())
    return any(key.upper() not in ours for key, _ in tags)


def one_line(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
