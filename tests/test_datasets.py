"""Dataset loaders against fixtures written in the real FMA / GTZAN / Kaggle formats."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pandas as pd
import pytest
import soundfile as sf

from fixtures import (
    first_lines,
    gtzan_feature_columns,
    write_fma_audio,
    write_fma_metadata,
    write_gtzan,
    write_gtzan_features_csv,
)
from mgc.datasets.fma import load_fma, read_genres, read_tracks
from mgc.datasets.folder import load_csv, load_folder
from mgc.datasets.gtzan import load_gtzan, load_gtzan_features
from mgc.errors import UserError

COLUMNS = ["track_id", "path", "genre", "artist"]


def _t(tid, genres, subset, artist=7):
    return {"track_id": tid, "genres": genres, "subset": subset, "artist_id": artist}


# 30 tracks, listed out of order. Single-genre counts per root (all subsets):
# Rock 6, Electronic 5, Hip-Hop 4, Folk 3, Pop 3, Jazz 2, Experimental 1; plus 3 multi-genre,
# 2 genre-less and 1 unknown-genre track that must all be dropped.
TRACKS = [
    _t(155066, [12], "large", 3), _t(2, [21], "small", 1), _t(10, [25], "small", 2),
    _t(5, [66], "medium", None), _t(140, [53], "medium"), _t(3, [12], "large"),
    _t(20, [58], "small"),  # Psych-Rock
    _t(12345, [15], "small"), _t(11, [181], "small"), _t(12, [240], "small"),
    _t(13, [15], "medium"), _t(14, [15], "large"),
    _t(30, [539], "medium"), _t(31, [21], "medium"), _t(32, [100], "medium"),
    _t(40, [17], "large"), _t(41, [49], "large"), _t(42, [33], "large"),
    _t(50, [10], "small"), _t(51, [362], "medium"), _t(52, [10], "large"),
    _t(60, [4], "small"), _t(61, [4], "small"), _t(70, [1], "small"),
    _t(80, [12, 15], "small"), _t(81, [25, 66], "small"), _t(82, [21, 539], "small"),
    _t(90, [], "small"), _t(91, [], "small"), _t(92, [999999], "small"),
]
# Rock: 155066, 10, 5, 140, 3, 20 -> small {10, 20}, medium adds {5, 140}, large adds {155066, 3}.


@pytest.fixture()
def fma(tmp_path):
    meta = write_fma_metadata(tmp_path / "fma_metadata", TRACKS)
    return meta, tmp_path / "fma_large"


def test_fma_fixture_has_real_layout(fma):
    meta, _ = fma
    lines = first_lines(meta / "tracks.csv", 4)
    assert lines[0].startswith(",album,album,")
    assert lines[1].startswith(",comments,date_created,")
    assert lines[2].strip(",") == "track_id"
    assert lines[3].startswith("155066,")
    tracks = pd.read_csv(meta / "tracks.csv", index_col=0, header=[0, 1])
    assert tracks.index.name == "track_id" and tracks.index.dtype.kind == "i"
    for col in [("track", "genres"), ("track", "genre_top"), ("track", "genres_all"),
                ("set", "split"), ("set", "subset"), ("artist", "id"), ("album", "id"),
                ("track", "duration"), ("track", "title")]:
        assert col in tracks.columns
    assert ast.literal_eval(tracks.loc[140, ("track", "genres")]) == [53]
    assert ast.literal_eval(tracks.loc[140, ("track", "genres_all")]) == [12, 45, 53]
    assert tracks.loc[140, ("track", "genre_top")] == "Rock"
    assert pd.isna(tracks.loc[80, ("track", "genre_top")])
    assert tracks.loc[2, ("track", "title")] == 'Track 2, "take" é'
    pd.testing.assert_frame_equal(read_tracks(meta), tracks)
    genres = read_genres(meta)
    assert list(genres.columns) == ["#tracks", "parent", "title", "top_level"]
    assert genres.index.name == "genre_id"
    roots = genres[genres["parent"] == 0]
    assert len(roots) == 16 and (roots["top_level"] == roots.index).all()
    assert set(genres["top_level"]) <= set(roots.index)


def test_load_fma_selects_single_genre_top5(fma):
    df = load_fma(*fma)
    assert list(df.columns) == COLUMNS
    assert all(pd.api.types.is_string_dtype(df[c]) for c in COLUMNS)
    assert df.index.tolist() == list(range(len(df)))
    assert df["genre"].value_counts().to_dict() == {
        "Rock": 6, "Electronic": 5, "Hip-Hop": 4, "Folk": 3, "Pop": 3}
    ids = df["track_id"].tolist()
    assert ids == [str(i) for i in sorted(int(i) for i in ids)]  # integer order: "2" < "10"
    assert ids[:3] == ["2", "3", "5"]
    for dropped in ("80", "81", "82", "90", "91", "92", "60", "70"):
        assert dropped not in ids
    by_id = df.set_index("track_id")
    assert by_id.loc["10", "genre"] == "Rock"  # Punk -> Rock
    assert by_id.loc["140", "genre"] == "Rock"  # Noise-Rock -> Loud-Rock -> Rock
    assert by_id.loc["12", "genre"] == "Electronic"  # Chiptune -> Chip Music -> Electronic
    assert by_id.loc["30", "genre"] == "Hip-Hop"  # Rap
    audio = Path(fma[1]).resolve()
    assert by_id.loc["2", "path"] == str(audio / "000" / "000002.mp3")
    assert by_id.loc["12345", "path"] == str(audio / "012" / "012345.mp3")
    assert by_id.loc["155066", "path"] == str(audio / "155" / "155066.mp3")
    assert all(os.path.isabs(p) for p in df["path"])
    assert by_id.loc["2", "artist"] == "1" and by_id.loc["155066", "artist"] == "3"
    assert by_id.loc["5", "artist"] == ""  # missing artist id


def test_fma_top_k_tie_break_is_alphabetical(fma):
    genres = set(load_fma(*fma, top_k=4)["genre"])
    assert genres == {"Rock", "Electronic", "Hip-Hop", "Folk"}  # Folk beats Pop at 3 each
    assert set(load_fma(*fma, top_k=100)["genre"]) == {
        "Rock", "Electronic", "Hip-Hop", "Folk", "Pop", "Jazz", "Experimental"}


@pytest.mark.parametrize(
    "subset, top_k, expected",
    [
        # small: Electronic 3, Jazz 2, Rock 2 (tie -> Jazz), Hip-Hop 1, Pop 1, Experimental 1
        ("small", 2, {"Electronic": 3, "Jazz": 2}),
        ("small", 3, {"Electronic": 3, "Jazz": 2, "Rock": 2}),
        ("medium", 3, {"Electronic": 4, "Hip-Hop": 4, "Rock": 4}),
        ("medium", 4, {"Electronic": 4, "Hip-Hop": 4, "Rock": 4, "Jazz": 2}),
        ("large", 5, {"Rock": 6, "Electronic": 5, "Hip-Hop": 4, "Folk": 3, "Pop": 3}),
        ("", 5, {"Rock": 6, "Electronic": 5, "Hip-Hop": 4, "Folk": 3, "Pop": 3}),
    ],
)
def test_fma_subsets_are_nested_and_filter_before_top_k(fma, subset, top_k, expected):
    df = load_fma(*fma, top_k=top_k, subset=subset)
    assert df["genre"].value_counts().to_dict() == expected
    if subset == "small" and top_k == 3:
        assert set(df.loc[df["genre"] == "Rock", "track_id"]) == {"10", "20"}


def test_fma_bad_arguments_and_inputs(fma, tmp_path):
    meta, audio = fma
    with pytest.raises(UserError, match="subset"):
        load_fma(meta, audio, subset="tiny")
    with pytest.raises(UserError, match="top_k"):
        load_fma(meta, audio, top_k=-1)
    with pytest.raises(UserError, match="label"):
        load_fma(meta, audio, label="genres_all")
    assert load_fma(meta, audio, top_k=0).equals(load_fma(meta, audio, top_k=16))  # 0: every genre
    with pytest.raises(UserError, match="tracks.csv"):
        load_fma(tmp_path / "nowhere", audio)
    (meta / "genres.csv").unlink()
    with pytest.raises(UserError, match="genres.csv"):
        load_fma(meta, audio)


def test_fma_missing_column_and_flat_csv(tmp_path):
    meta = write_fma_metadata(tmp_path / "m", TRACKS[:5])
    tracks = pd.read_csv(meta / "tracks.csv", index_col=0, header=[0, 1])
    tracks.drop(columns=[("track", "genres")]).to_csv(meta / "tracks.csv")
    with pytest.raises(UserError, match="track.genres"):
        load_fma(meta, tmp_path / "audio")
    pd.DataFrame({"track_id": [1], "genre": ["Rock"]}).to_csv(meta / "tracks.csv", index=False)
    with pytest.raises(UserError):
        load_fma(meta, tmp_path / "audio")
    write_fma_metadata(meta, [_t(90, [], "small")])
    with pytest.raises(UserError, match="no single-genre"):
        load_fma(meta, tmp_path / "audio")


def test_fma_audio_fixture_matches_loader_paths(tmp_path):
    two = [_t(2, [21], "small"), _t(1400, [12], "small")]
    meta = write_fma_metadata(tmp_path / "fma_metadata", two)
    paths = write_fma_audio(tmp_path / "fma_small", [2, 1400], seconds=1.0)
    df = load_fma(meta, tmp_path / "fma_small")
    assert df["path"].tolist() == [str(p.resolve()) for p in paths]
    info = sf.info(df["path"][1])
    assert (info.format, info.samplerate, info.channels) == ("MP3", 44100, 2)
    assert abs(info.duration - 1.0) < 0.1


@pytest.mark.parametrize("ext", ["au", "wav"])
def test_load_gtzan(tmp_path, ext):
    root = tmp_path / ("genres" if ext == "au" else "genres_original")
    write_gtzan(root, genres=("blues", "rock"), per_genre=2, ext=ext, seconds=0.2)
    (root / "blues" / ".blues.00000.au").write_bytes(b"")  # macOS resource fork
    (root / "blues" / "notes.txt").write_text("x")
    (root / "bextract_single.mf").write_text("x")
    df = load_gtzan(root)
    assert list(df.columns) == COLUMNS
    assert df["track_id"].tolist() == ["blues.00000", "blues.00001", "rock.00000", "rock.00001"]
    assert df["genre"].tolist() == ["blues", "blues", "rock", "rock"]
    assert (df["artist"] == "").all()
    assert df["path"][2] == str((root / "rock" / f"rock.00000.{ext}").resolve())
    info = sf.info(df["path"][0])
    assert (info.samplerate, info.channels, info.subtype) == (22050, 1, "PCM_16")
    # The parent folder of genres/ or genres_original/ works too (Kaggle's Data/).
    assert load_gtzan(tmp_path).equals(df)


def test_gtzan_duplicates(tmp_path):
    write_gtzan(tmp_path, genres=("jazz",), per_genre=1, ext="au", seconds=0.1)
    write_gtzan(tmp_path, genres=("jazz",), per_genre=1, ext="wav", seconds=0.1)
    df = load_gtzan(tmp_path)
    assert df["path"].tolist() == [str(tmp_path / "jazz" / "jazz.00000.au")]
    (tmp_path / "blues").mkdir()
    (tmp_path / "jazz" / "jazz.00000.wav").rename(tmp_path / "blues" / "jazz.00000.wav")
    with pytest.raises(UserError, match="jazz.00000"):
        load_gtzan(tmp_path)


def test_gtzan_missing_inputs(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_gtzan(tmp_path / "missing")
    (tmp_path / "blues").mkdir()
    with pytest.raises(UserError, match="no GTZAN clips"):
        load_gtzan(tmp_path)


def test_load_gtzan_features(tmp_path):
    ids = ["blues.00000", "rock.00001", "jazz.00054"]
    path = write_gtzan_features_csv(tmp_path / "features_30_sec.csv", ids)
    raw = pd.read_csv(path)
    assert list(raw.columns) == gtzan_feature_columns()
    assert list(raw.columns[:2]) == ["filename", "length"] and raw.columns[-1] == "label"
    feats = load_gtzan_features(path)
    assert feats.index.tolist() == ids and feats.index.name == "track_id"
    assert feats.shape == (3, 57) and (feats.dtypes == "float32").all()
    assert list(feats.columns) == gtzan_feature_columns()[2:-1]
    assert feats.loc["rock.00001", "tempo"] == pytest.approx(raw.loc[1, "tempo"], rel=1e-6)
    with pytest.raises(UserError, match="not found"):
        load_gtzan_features(tmp_path / "nope.csv")
    raw.drop(columns=["label"]).to_csv(path, index=False)
    with pytest.raises(UserError, match="label"):
        load_gtzan_features(path)


def test_load_folder(tmp_path):
    files = ["rock/album1/song.MP3", "rock/b.wav", "jazz/x/y/z.Flac", "jazz/a.ogg",
             "pop/c.au", "pop/.hidden.mp3", "pop/.cache/d.mp3", ".trash/e.mp3", "loose.mp3",
             "pop/cover.jpg"]
    for f in files:
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).write_bytes(b"")
    df = load_folder(tmp_path)
    assert list(df.columns) == COLUMNS
    assert df["track_id"].tolist() == [
        "jazz/a", "jazz/x/y/z", "pop/c", "rock/album1/song", "rock/b"]
    assert df["genre"].tolist() == ["jazz", "jazz", "pop", "rock", "rock"]
    assert df["path"][3] == str(tmp_path / "rock" / "album1" / "song.MP3")
    assert (df["artist"] == "").all()
    (tmp_path / "rock" / "b.mp3").write_bytes(b"")
    with pytest.raises(UserError, match="rock/b"):
        load_folder(tmp_path)


def test_load_folder_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_folder(tmp_path / "missing")
    (tmp_path / "rock").mkdir()
    (tmp_path / "rock" / "notes.txt").write_text("x")
    with pytest.raises(UserError, match="no audio"):
        load_folder(tmp_path)


def test_load_csv(tmp_path):
    (tmp_path / "lists").mkdir()
    absolute = tmp_path / "elsewhere" / "far.wav"
    (tmp_path / "lists" / "tracks.csv").write_text(
        "path,genre,artist\n"
        "audio/rock/one.mp3,rock,Band A\n"
        f"{absolute},jazz,\n"
        "../up/two.flac, pop ,Band B\n"
    )
    df = load_csv(tmp_path / "lists" / "tracks.csv")
    assert list(df.columns) == COLUMNS
    by_id = df.set_index("track_id")
    assert sorted(by_id.index) == df["track_id"].tolist()
    one = tmp_path / "lists" / "audio" / "rock" / "one.mp3"
    assert by_id.loc["audio/rock/one", "path"] == str(one)
    assert by_id.loc["../up/two", "path"] == str(tmp_path / "up" / "two.flac")
    assert by_id.loc["../up/two", "genre"] == "pop"
    assert by_id.loc["../elsewhere/far", "artist"] == ""
    assert all(os.path.isabs(p) for p in df["path"])

    minimal = tmp_path / "min.csv"
    minimal.write_text("genre,path,track_id\nrock,a.mp3,7\nrock,b.mp3,10\n")
    df = load_csv(minimal)
    assert df["track_id"].tolist() == ["10", "7"] and (df["artist"] == "").all()


@pytest.mark.parametrize(
    "text, match",
    [
        ("path,genre\na.mp3,rock\nsub/../b.wav,pop\n", None),
        ("path,genre,track_id\na.mp3,rock,1\nb.mp3,pop,1\n", "duplicate"),
        ("path,genre\na.mp3,rock\na.mp3,pop\n", "duplicate"),
        ("path,artist\na.mp3,x\n", "genre"),
        ("path,genre\na.mp3,\n", "empty genre"),
        ("path,genre\n", "no tracks"),
        ("", "cannot read"),
    ],
)
def test_load_csv_errors(tmp_path, text, match):
    path = tmp_path / "t.csv"
    path.write_text(text)
    if match is None:
        assert len(load_csv(path)) == 2
        return
    with pytest.raises(UserError, match=match):
        load_csv(path)


def test_load_csv_missing_file(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_csv(tmp_path / "nope.csv")


def test_the_gtzan_fault_filtered_split_ships_with_the_package():
    from mgc.datasets.gtzan import FAULT_FILTERED_CSV, fault_filtered_split

    table = fault_filtered_split()
    assert table["split"].value_counts().to_dict() == {"train": 443, "test": 290, "valid": 197}
    assert table["clip"].is_unique and len(table) == 930 and table["genre"].nunique() == 10
    assert (table["clip"].str.split(".").str[0] == table["genre"]).all()
    assert table["clip"].str.fullmatch(r"[a-z]+\.\d{5}").all()
    assert FAULT_FILTERED_CSV.read_text().startswith("# The GTZAN fault-filtered split")  # its provenance
    reference = Path(__file__).resolve().parents[2] / "shared" / "reference" / "gtzan_fault_filtered.csv"
    if reference.is_file():  # the published list, as given to this project: the same rows
        assert table.equals(pd.read_csv(reference, dtype=str, keep_default_na=False))
