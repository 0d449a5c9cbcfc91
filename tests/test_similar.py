"""The ``similar`` stage: the index (build, resume, drop) on synthetic vectors, cosine neighbours against
numpy, genre centroids, the embedding cut of Keras models, the CLI on real recordings with a stand-in
model (fast), and end to end with the smoke run's feature fusion and with musicnn-msd (slow)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import REAL_AUDIO
from mgc.errors import UserError
from mgc.features.musicnn_tags import tagger_clip
from mgc.pipelines.cli import main
from mgc.similar import Entries, Index, centroid, genre_named, nearest, unit
from mgc.similar import index as index_module

SHORT = ["198-209-0000.ogg", "3436-172162-0000.ogg", "5703-47212-0000.ogg", "sorohanro_-_solo-trumpet-06.ogg"]
BIRD = "456440__inspectorj__bird-whistling-robin-single-13.ogg"  # 2.70 s: shorter than a 3 s window
VIBE = "Kevin_MacLeod_-_Vibe_Ace.ogg"


def _vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    return unit(np.random.default_rng(seed).standard_normal((n, dim)))


# -- the index, without a model ------------------------------------------------------------------------
def test_index_builds_resumes_and_drops(tmp_path, monkeypatch):
    monkeypatch.setattr(index_module, "SHARD_FILES", 3)  # a shard every 3 tracks
    monkeypatch.setattr(index_module, "MAX_SHARDS", 2)
    vectors = _vectors(10, 8)
    index = Index(tmp_path, {"model": "m"}, 8).open()
    stamps = {f"a/{i}.mp3": f"{i}:1" for i in range(10)}
    todo, kept, dropped = index.update(stamps)
    assert (todo, kept, dropped) == (list(stamps), 0, 0)
    for i, path in enumerate(todo[:7]):  # interrupted after 7 tracks: 6 committed (two shards), 1 buffered
        index.add(path, stamps[path], vectors[i], "rock" if i % 2 else "jazz", 0.5 + i / 100)
    del index  # killed: the buffered track is lost, the committed ones kept
    index = Index(tmp_path, {"model": "m"}, 8).open()
    assert sorted(index.rows) == sorted(todo[:6])
    todo, kept, dropped = index.update(stamps)
    assert (todo, kept, dropped) == (list(stamps)[6:], 6, 0)
    for path in todo:
        i = int(Path(path).stem)
        index.add(path, stamps[path], vectors[i], "rock" if i % 2 else "jazz", 0.5 + i / 100)
    index.add("a/bad.mp3", "1:1", None, reason="not audio")
    index.finish([*stamps, "a/bad.mp3"])
    assert len(list(tmp_path.glob("shard-*.npy"))) == 1  # 4 shards > MAX_SHARDS: merged into one
    entries = index.load()
    assert entries.paths == list(stamps) and entries.genres[:2] == ["jazz", "rock"]
    np.testing.assert_array_equal(entries.vectors, vectors)
    np.testing.assert_allclose(entries.confidences, [0.5 + i / 100 for i in range(10)])
    assert [t.reason for t in index.failed()] == ["not audio"]

    # a rerun: 3 changed, 9 gone, bad.mp3 unchanged (not retried), one new file
    stamps = {**{p: s for p, s in stamps.items() if p != "a/9.mp3"}, "a/3.mp3": "3:2", "a/bad.mp3": "1:1",
              "b/new.mp3": "5:5"}
    index = Index(tmp_path, {"model": "m"}, 8).open()
    todo, kept, dropped = index.update(stamps)
    assert (todo, kept, dropped) == (["a/3.mp3", "b/new.mp3"], 9, 2)
    assert "a/9.mp3" not in index.rows and "a/3.mp3" not in index.rows
    index.add("a/3.mp3", "3:2", -vectors[3], "metal", 0.9)
    index.add("b/new.mp3", "5:5", vectors[9], "pop", 0.8)
    index.finish(list(stamps))
    entries = Index(tmp_path, {"model": "m"}, 8).open().load()
    assert entries.paths == [p for p in stamps if p != "a/bad.mp3"]
    np.testing.assert_array_equal(entries.vectors[entries.find("a/3.mp3")], -vectors[3])
    np.testing.assert_array_equal(entries.vectors[entries.find("b/new.mp3")], vectors[9])


def test_a_kill_s_leftovers_are_cleaned_and_other_settings_refused(tmp_path):
    index = Index(tmp_path, {"model": "m"}, 4).open()
    index.add("x.mp3", "1:1", _vectors(1, 4)[0], "rock", 0.7)
    index.flush()
    with open(tmp_path / "index.csv", "a") as fh:
        fh.write("y.mp3,ok,,rock,0.5,shard-000007.npy,0")  # a line cut short by a kill
    np.save(tmp_path / "shard-000007.npy", _vectors(1, 4))  # its shard, written before its row: no row refers to it
    (tmp_path / ".shard-000008.npy.tmp123-abcd").write_bytes(b"partial")
    index = Index(tmp_path, {"model": "m"}, 4).open()
    assert list(index.rows) == ["x.mp3"]
    assert sorted(p.name for p in tmp_path.iterdir() if "shard" in p.name) == ["shard-000000.npy"]
    assert (tmp_path / "index.csv").read_text().endswith("\n")
    (tmp_path / "shard-000000.npy").unlink()  # a lost shard: its rows are embedded again
    assert Index(tmp_path, {"model": "m"}, 4).open().update({"x.mp3": "1:1"})[0] == ["x.mp3"]
    with pytest.raises(UserError, match=r"holds an index made with other settings \(model: 'm', now 'n'\)"):
        Index(tmp_path, {"model": "n"}, 4).open()


# -- queries ---------------------------------------------------------------------------------------------
def test_nearest_is_the_brute_force_cosine_ranking_without_the_query():
    vectors = _vectors(300, 16, seed=1)
    rng = np.random.default_rng(2)
    for row in rng.integers(0, 300, 5):
        found = nearest(vectors, vectors[row], 7, exclude=int(row))
        scores = vectors @ vectors[row]
        scores[row] = -np.inf
        order = np.argsort(-scores)[:7]
        assert [i for i, _ in found] == list(order)
        np.testing.assert_allclose([s for _, s in found], scores[order], atol=1e-5)
    outside = unit(rng.standard_normal(16))
    assert len(nearest(vectors, outside, 400)) == 300  # k above the index's size: all of it
    assert nearest(vectors[:1], vectors[0], 3, exclude=0) == []


def test_genre_centroid_ranks_that_genre_s_tracks_first():
    rng = np.random.default_rng(3)
    centres = unit(rng.standard_normal((3, 12)))
    labels = ["rock", "jazz", "folk"]
    genres = [labels[i % 3] for i in range(60)]
    vectors = unit(centres[[i % 3 for i in range(60)]] + 0.2 * rng.standard_normal((60, 12)))
    entries = Entries([f"{i}.mp3" for i in range(60)], genres, np.full(60, 0.9), vectors)
    query = centroid(entries, "jazz")
    assert [entries.genres[i] for i, _ in nearest(entries.vectors, query, 20)] == ["jazz"] * 20
    assert genre_named("JAZZ", labels) == "jazz" and genre_named("blues", labels) is None
    with pytest.raises(UserError, match="no track of the index is predicted as 'blues'; its genres: folk, jazz, rock"):
        centroid(entries, "blues")


# -- the embedding of a Keras model ------------------------------------------------------------------------
def test_split_model_takes_the_input_of_the_last_dense_layer_through_nested_heads():
    import keras

    from mgc.similar import split_model

    x = keras.Input((6,), name="features")
    hidden = keras.layers.Dense(5, activation="relu", name="hidden")(x)
    head_in = keras.Input((5,), name="vector")
    fused = keras.layers.Dense(4, activation="relu", name="fused")(head_in)
    logits = keras.layers.Dense(3, name="logits")(keras.layers.Dropout(0.5)(fused))
    head = keras.Model({"vector": head_in}, keras.layers.Activation("linear")(logits), name="head")
    model = keras.Model({"features": x}, head({"vector": hidden}), name="nested")
    split = split_model(model)
    data = {"features": np.random.default_rng(0).standard_normal((2, 6)).astype("float32")}
    embedding, output = split.predict_on_batch(data)
    np.testing.assert_allclose(output, model.predict_on_batch(data), atol=1e-6)
    inner = keras.Model(head.input, head.get_layer("fused").output)
    expected = inner.predict_on_batch({"vector": keras.Model(x, hidden).predict_on_batch(data["features"])})
    np.testing.assert_allclose(embedding, expected, atol=1e-6)
    assert split.outputs[0].shape[-1] == 4
    flat = keras.Model(x, keras.layers.Add()([x, x]))  # no Dense at all
    with pytest.raises(UserError, match="no Dense layer before its output"):
        split_model(flat)


# -- the CLI on real recordings, with a stand-in model (no Keras) ------------------------------------------
class BandEmbedder:
    """A stand-in for :class:`mgc.similar.EmbeddingRunner`: 3 s windows at 16 kHz; a window's embedding is
    its log energy in 8 frequency bands, its genres "low"/"high" the share of the low half."""

    clip = tagger_clip()
    sample_rate, clip_samples, spectrogram, min_duration = clip.sample_rate, clip.clip_samples, clip.spectrogram, 3.0
    inputs, decoder, description, tags, tagger = ("waveform",), "soundfile", "bands", [], False
    genres, dim = ["low", "high"], 8
    labels = [f"column_{i}" for i in range(10)]
    cache_key = {"model": "bands"}

    def __init__(self):
        self.calls = 0

    def predict_batch(self, inputs):
        self.calls += 1
        power = np.abs(np.fft.rfft(inputs["waveform"], axis=1)) ** 2
        bands = np.stack([b.sum(axis=1) for b in np.array_split(power, 8, axis=1)], axis=1) + 1e-9
        low = bands[:, :4].sum(axis=1) / bands.sum(axis=1)
        return np.concatenate([np.log(bands), np.stack([low, 1 - low], axis=1)], axis=1).astype(np.float32)

    def split(self, vector):
        return unit(vector[:8]), np.asarray(vector[8:], np.float64)


@pytest.fixture
def library(tmp_path):
    root = tmp_path / "library"
    (root / "sub").mkdir(parents=True)
    for name in SHORT[:3]:
        shutil.copy(REAL_AUDIO / name, root / name)
    shutil.copy(REAL_AUDIO / SHORT[3], root / "sub" / SHORT[3])
    shutil.copy(REAL_AUDIO / SHORT[0], root / "sub" / "copy.ogg")
    shutil.copy(REAL_AUDIO / BIRD, root / BIRD)  # too short: a failed track, not retried
    return root


def _similar(capsys, *args) -> tuple[int, list[str], str]:
    code = main(["similar", "--workers", "1", "--quiet", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def test_cli_builds_updates_and_queries_the_index(library, tmp_path, capsys, monkeypatch):
    import mgc.similar

    embedder = BandEmbedder()
    monkeypatch.setattr(mgc.similar, "open_embedder", lambda model, config=None: embedder)
    base = ["--model", "bands", "--index", library, "--cache", tmp_path / "cache"]
    code, lines, err = _similar(capsys, *base, "--like", library / SHORT[0], "-k", "3")
    assert code == 0, err
    assert f"similar: 6 tracks in {library}: 6 embedded now, 1 failed, 0 unchanged, 0 dropped" in err
    assert lines[0].split() == ["rank", "similarity", "genre", "confidence", "path"] and len(lines) == 4
    first = lines[1].split()
    assert first[:2] == ["1", "1.0000"] and first[-1] == str(library / "sub" / "copy.ogg")  # its copy, not itself
    assert not any(line.endswith(str(library / SHORT[0])) for line in lines)
    calls = embedder.calls

    code, lines, err = _similar(capsys, *base, "--like", library / "sub" / "copy.ogg", "-k", "10")
    assert "6 tracks in" in err and "0 embedded now, 6 unchanged, 0 dropped" in err and embedder.calls == calls
    assert len(lines) == 1 + 4 and lines[1].split()[-1] == str(library / SHORT[0])  # the 4 others, bird failed

    stat = os.stat(library / SHORT[1])
    os.utime(library / SHORT[1], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touched: embedded again
    (library / SHORT[2]).unlink()  # gone: dropped
    code, lines, err = _similar(capsys, *base, "--like", "LOW", "--output", tmp_path / "low.json")
    assert code == 0 and "5 tracks in" in err and "1 embedded now, 4 unchanged, 2 dropped" in err  # bird: unchanged
    assert "the 4 tracks most like the genre low" in err and lines == []  # speech and a trumpet: all "low"
    rows = json.loads((tmp_path / "low.json").read_text())
    assert [row["rank"] for row in rows] == [1, 2, 3, 4] and {row["genre"] for row in rows} == {"low"}
    assert sorted(row["path"] for row in rows) == sorted(str(library / p) for p in
                                                         [SHORT[0], SHORT[1], f"sub/{SHORT[3]}", "sub/copy.ogg"])

    outside = tmp_path / "outside.ogg"  # not in the library: embedded on the fly, nothing excluded
    shutil.copy(REAL_AUDIO / SHORT[3], outside)
    code, lines, err = _similar(capsys, *base, "--like", outside, "-k", "1", "--output", tmp_path / "one.csv")
    assert code == 0 and "0 embedded now" in err
    (row,) = (tmp_path / "one.csv").read_text().splitlines()[1:]
    rank, similarity, genre, confidence, path = row.split(",")
    assert path == str(library / "sub" / SHORT[3]) and float(similarity) == pytest.approx(1.0, abs=1e-5)

    code, lines, err = _similar(capsys, *base, "--like", "jazz")
    assert code == 2 and err.strip().splitlines()[-1] == (
        "error: --like 'jazz' is neither an audio file nor a genre of the model (low, high)")
    code, lines, err = _similar(capsys, *base, "--like", library / BIRD)
    assert code == 2 and err.strip().splitlines()[-1].startswith(f"error: --like {library / BIRD}: cannot embed it: "
                                                                 "too short")


@pytest.mark.parametrize("args, message", [
    (["-k", "0"], "-k must be >= 1, got 0"),
    (["--output", "out.txt"], "--output must end in .csv or .json, got 'out.txt'"),
    (["--index", "{tmp}/nowhere"], "--index must be a folder of audio files, got '{tmp}/nowhere'"),
    (["--model", "{tmp}/saved_models/joint"], "{tmp}/saved_models/joint is an export (SavedModel): it has no "
     "embedding output; give the run's .keras checkpoint (<workdir>/models/<name>) or --model musicnn-msd "
     "(musicnn-mtt)"),
    (["--model", "{tmp}/models/svm"], "{tmp}/models/svm is a scikit-learn baseline: it has no embedding; give a "
     "Keras model's .keras checkpoint (<workdir>/models/<name>) or --model musicnn-msd (musicnn-mtt)"),
    (["--model", "{tmp}/model.keras"], "model not found: {tmp}/model.keras"),
])
def test_user_mistakes_are_one_error_line(args, message, tmp_path, capsys):
    (tmp_path / "saved_models" / "joint" / "1").mkdir(parents=True)
    (tmp_path / "saved_models" / "joint" / "1" / "saved_model.pb").write_bytes(b"")
    (tmp_path / "models" / "svm").mkdir(parents=True)
    (tmp_path / "models" / "svm" / "model.joblib").write_bytes(b"")
    options = {"--model": "{tmp}/model.keras", "--index": "{tmp}", "--like": "rock", **dict(zip(args[::2], args[1::2]))}
    command = [part.format(tmp=tmp_path) for pair in options.items() for part in pair]
    assert main(["similar", *command]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {message.format(tmp=tmp_path)}"]


# -- end to end with real models (slow) --------------------------------------------------------------------
@pytest.mark.slow
def test_feature_fusion_end_to_end(smoke_run, tmp_path, capsys):
    from mgc.predict import KerasRunner, predict_files

    library = tmp_path / "library"
    library.mkdir()
    names = [VIBE, "admiralbob77_-_Choice_-_Drum-bass.ogg", *SHORT[:2]]
    for name in names:
        shutil.copy(REAL_AUDIO / name, library / name)
    model = smoke_run / "models" / "feature_fusion"
    base = ["--model", model, "--index", library, "--cache", tmp_path / "cache"]
    code, lines, err = _similar(capsys, *base, "--like", library / VIBE, "-k", "3")
    assert code == 0, err
    assert "4 tracks in" in err and "4 embedded now, 0 unchanged, 0 dropped" in err
    assert len(lines) == 4 and not any(line.endswith(VIBE) for line in lines[1:])
    similarities = [float(line.split()[1]) for line in lines[1:]]
    assert similarities == sorted(similarities, reverse=True) and all(-1 <= s <= 1 for s in similarities)

    code, lines, err = _similar(capsys, *base, "--like", library / VIBE, "-k", "3")
    assert code == 0 and "0 embedded now, 4 unchanged" in err and len(lines) == 4
    stat = os.stat(library / SHORT[0])
    os.utime(library / SHORT[0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    code, lines, err = _similar(capsys, *base)
    assert code == 0 and "1 embedded now, 3 unchanged, 1 dropped" in err and lines == []

    # the index's genres and confidences are predict's (the same windows, the same model)
    entries = Index(tmp_path / "cache", json.loads((tmp_path / "cache" / "index.json").read_text()),
                    json.loads((tmp_path / "cache" / "index.json").read_text())["dim"]).open().load()
    rows = predict_files([str(library / name) for name in names], KerasRunner(model / "model.keras"), workers=1,
                         progress=False)
    for row, name in zip(rows, names):
        i = entries.find(name)
        assert entries.genres[i] == row.genre and entries.confidences[i] == pytest.approx(row.confidence, abs=1e-5)


@pytest.mark.slow
def test_musicnn_a_copy_is_a_track_s_nearest_neighbour(musicnn_wheel, tmp_path, capsys):
    library = tmp_path / "library"
    (library / "copies").mkdir(parents=True)
    for name in [VIBE, "admiralbob77_-_Choice_-_Drum-bass.ogg", "Hungarian_Dance_number_5_-_Allegro_in_F_sharp_"
                 "minor_(string_orchestra).ogg"]:
        shutil.copy(REAL_AUDIO / name, library / name)
    shutil.copy(REAL_AUDIO / VIBE, library / "copies" / "vibe.ogg")
    code, lines, err = _similar(capsys, "--model", "musicnn-msd", "--index", library, "--cache", tmp_path / "cache",
                                "--like", library / VIBE, "-k", "2")
    assert code == 0, err
    first = lines[1].split()
    assert first[-1] == str(library / "copies" / "vibe.ogg") and float(first[1]) == pytest.approx(1.0, abs=1e-4)
    assert float(lines[2].split()[1]) < 0.99
    meta = json.loads((tmp_path / "cache" / "index.json").read_text())
    assert meta["dim"] == 200 and meta["model"] == "musicnn-msd" and "jazz" in meta["genres"]
