"""``predict --write-tags`` / ``--undo-tags``: tags read back with mutagen equal what was written,
the audio is unchanged (decoded before and after), a failure leaves the file as it was, and undo
restores the previous tags exactly, in every format mgc tags."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mutagen
import numpy as np
import pytest
import soundfile as sf

from conftest import REAL_AUDIO
from mgc.audio.payload import audio_digest
from mgc.predict import file_tags, tag_writer
from mgc.predict.tag_writer import TagWriter, UndoJournal, undo

M4A = Path(__file__).parent / "reference" / "tone.m4a"  # ffmpeg's AAC, with title and genre "Jazz"
MUSIC = REAL_AUDIO / "Kevin_MacLeod_-_Vibe_Ace.ogg"


def _make(folder: Path, ext: str) -> Path:
    """A 4 s excerpt of a real recording in format ``ext``, with a title and the genre "Jazz" already."""
    path = folder / f"song{ext}"
    if ext == ".m4a":
        shutil.copy(M4A, path)
        return path
    x, sr = sf.read(MUSIC, frames=4 * 44100, dtype="float32")
    if ext == ".opus":
        sf.write(path, x, 48000, format="OGG", subtype="OPUS")
    else:
        sf.write(path, x, sr)
    audio = file_tags.open_file(path)
    if audio.tags is None:
        audio.add_tags()
    if ext in (".mp3", ".wav"):
        from mutagen import id3

        audio.tags.add(id3.TIT2(encoding=3, text=["Vibe Ace"]))
        audio.tags.add(id3.TCON(encoding=3, text=["Jazz"]))
    else:
        audio.tags["TITLE"] = ["Vibe Ace"]
        audio.tags["GENRE"] = ["Jazz"]
    audio.save()
    return path


def _everything(path: Path) -> dict:
    """Every tag mutagen reads in the file, as text."""
    tags = mutagen.File(path).tags
    return {str(k): str(v) for k, v in (tags.items() if hasattr(tags, "items") else tags)} if tags else {}


FORMATS = [".mp3", ".ogg", ".opus", ".flac", ".wav", ".m4a"]


@pytest.mark.parametrize("ext", FORMATS)
def test_write_tags_reads_back_keeps_the_audio_and_undo_restores_exactly(tmp_path, ext):
    path = _make(tmp_path, ext)
    before_tags = _everything(path)
    decodable = ext != ".m4a"  # libsndfile has no AAC: there the audio bytes are compared
    samples = sf.read(path, dtype="float32")[0] if decodable else None
    digest = audio_digest(path)
    length = mutagen.File(path).info.length
    writer = TagWriter("feature_fusion3", "3", undo=tmp_path / "undo.json")
    assert writer.tag(str(path), "Rock", 0.912345)
    audio = file_tags.open_file(path)
    values = file_tags.read(audio)
    genre_key, *_ = file_tags.keys(audio)
    genre = values[genre_key]
    assert (genre["text"] if isinstance(genre, dict) else genre) == ["Rock"]
    note = [v for k, v in values.items() if "MGC" in k][0]
    text = note["text"] if isinstance(note, dict) else note
    assert text == ["confidence=0.912345; model=feature_fusion3; version=3; mgc=" + __import__("mgc").__version__]
    assert "Vibe Ace" in " ".join(_everything(path).values()) or ext == ".m4a"  # other tags kept
    assert audio_digest(path) == digest
    if decodable:
        assert np.array_equal(sf.read(path, dtype="float32")[0], samples)
    assert mutagen.File(path).info.length == length
    assert not list(tmp_path.glob(".*mgc-tags*"))  # no temporary copy left
    assert writer.tag(str(path), "Rock", 0.912345) is False and writer.unchanged == 1  # the same again: no-op
    restored, already, problems = undo(tmp_path / "undo.json")
    assert (restored, already, problems) == (1, 0, [])
    assert _everything(path) == before_tags
    assert audio_digest(path) == digest
    assert undo(tmp_path / "undo.json") == (0, 1, [])  # twice: nothing more to do


def test_a_file_without_tags_gets_none_back_and_an_id3v23_file_stays_v23(tmp_path):
    x, sr = sf.read(MUSIC, frames=2 * 44100, dtype="float32")
    bare = tmp_path / "bare.mp3"
    sf.write(bare, x, sr)
    original = bare.read_bytes()
    old = tmp_path / "old.mp3"
    sf.write(old, x, sr)
    from mutagen import id3

    tags = id3.ID3()
    tags.add(id3.TCON(encoding=1, text=["Blues"]))
    tags.save(old, v2_version=3)
    writer = TagWriter("cnn", "checkpoint", undo=tmp_path / "undo.json")
    assert writer.tag(str(bare), "Pop", 0.5) and writer.tag(str(old), "Pop", 0.5)
    assert id3.ID3(old).version[:2] == (2, 3) and id3.ID3(old)["TCON"].text == ["Pop"]
    undo(tmp_path / "undo.json")
    assert bare.read_bytes() == original  # the tag block mgc added is gone again
    assert id3.ID3(old)["TCON"].text == ["Blues"] and id3.ID3(old)["TCON"].encoding == 1


def test_a_failed_write_leaves_the_original_and_records_nothing(tmp_path, monkeypatch):
    path = _make(tmp_path, ".flac")
    original = path.read_bytes()
    real = tag_writer.audio_digest
    monkeypatch.setattr(tag_writer, "audio_digest", lambda p: "x" if ".mgc-tags" in str(p) else real(p))
    writer = TagWriter("cnn", "1", undo=tmp_path / "undo.json")
    assert not writer.tag(str(path), "Rock", 0.9)
    assert "changed the audio data" in writer.problems[0]
    assert path.read_bytes() == original
    assert not (tmp_path / "undo.json").exists() and not list(tmp_path.glob(".*mgc-tags*"))


def test_the_audio_digest_sees_audio_changes_and_ignores_tags(tmp_path):
    for ext in (".mp3", ".flac", ".wav", ".ogg"):
        path = _make(tmp_path, ext)
        digest = audio_digest(path)
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF  # a byte of audio (tags lie at the start, or at the end of a WAV)
        changed = tmp_path / f"changed{ext}"
        changed.write_bytes(bytes(data))
        assert audio_digest(changed) != digest, ext


def test_undo_leaves_a_file_retagged_since_and_the_journal_survives_a_cut_line(tmp_path):
    a, b = _make(tmp_path, ".ogg"), tmp_path / "b.ogg"
    shutil.copy(a, b)
    journal = tmp_path / "undo.json"
    writer = TagWriter("cnn", "1", undo=journal)
    assert writer.tag(str(a), "Rock", 0.9) and writer.tag(str(b), "Rock", 0.9)
    json.loads(journal.read_text())  # valid JSON after every file
    journal.write_bytes(journal.read_bytes()[:-9])  # a kill in the middle of the last append
    assert len(UndoJournal(journal).entries()) == 1
    c = tmp_path / "c.ogg"
    (tmp_path / "x").mkdir()
    shutil.copy(_make(tmp_path / "x", ".ogg"), c)
    TagWriter("cnn", "1", undo=journal).tag(str(c), "Pop", 0.9)
    assert [Path(e["path"]).name for e in json.loads(journal.read_text())["entries"]] == ["song.ogg", "c.ogg"]
    audio = file_tags.open_file(a)
    audio.tags["GENRE"] = ["Chosen by hand"]
    audio.save()
    restored, already, problems = undo(journal)
    assert restored == 1 and "changed since" in problems[0]
    assert file_tags.open_file(a).tags["GENRE"] == ["Chosen by hand"]


@pytest.mark.slow
def test_predict_writes_the_tables_genres_into_the_files_the_page_lists_them_and_a_rerun_skips_them(
        smoke_run, tmp_path, capsys):
    import csv

    from mgc.pipelines.cli import main

    library = tmp_path / "library"
    library.mkdir()
    song = _make(library, ".mp3")
    shutil.copy(REAL_AUDIO / "sorohanro_-_solo-trumpet-06.ogg", library / "trumpet.ogg")
    samples = {p.name: sf.read(p, dtype="float32")[0] for p in library.iterdir()}
    table, page, journal = tmp_path / "genres.csv", tmp_path / "report.html", tmp_path / "undo.json"
    command = ["predict", "--model", str(smoke_run / "models" / "joint"), str(library), "--output", str(table),
               "--html", str(page), "--write-tags", "--undo-file", str(journal), "--quiet"]
    assert main(command) == 0
    rows = list(csv.DictReader(table.open()))
    assert len(rows) == 2
    for row in rows:
        audio = file_tags.open_file(row["path"])
        genre = file_tags.read(audio)[file_tags.keys(audio)[0]]
        assert (genre["text"] if isinstance(genre, dict) else genre) == [row["genre"]]
        assert np.array_equal(sf.read(row["path"], dtype="float32")[0], samples[Path(row["path"]).name])
    assert page.read_text().count('<tr class="file"') == 2
    capsys.readouterr()
    assert main(command) == 0  # the tagged files' rows carry their new stamps: nothing to do again
    assert "2 of 2 files already in" in capsys.readouterr().err
    assert main(["predict", "--undo-tags", str(journal)]) == 0
    assert file_tags.read(file_tags.open_file(song))["TCON"]["text"] == ["Jazz"]
