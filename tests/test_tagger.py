"""``predict --model musicnn-msd``: the pretrained tagger on the real recordings, and its SavedModel export.

The weights come from a cache of this module's own ($MGC_CACHE_DIR in a temporary folder) seeded with a
link to the machine's musicnn wheel, so nothing is downloaded; the first use converts them there once.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from conftest import REAL_AUDIO, ROOT
from mgc.errors import UserError
from mgc.features import musicnn_input, musicnn_tags
from mgc.models import musicnn_weights
from mgc.models.musicnn import MSD_TAGS, MTT_TAGS, TAGS
from mgc.predict import tagger
from mgc.predict.table import BASE_COLUMNS, columns, to_text

BIRD = "456440__inspectorj__bird-whistling-robin-single-13.ogg"  # 2.70 s: shorter than one patch
VIBE = "Kevin_MacLeod_-_Vibe_Ace.ogg"
MSD_GENRES = list(tagger.GENRE_TAGS["msd"])


def _env(cache: Path) -> dict:
    env = {**os.environ, musicnn_weights.CACHE_ENV: str(cache), "KERAS_BACKEND": "tensorflow"}
    env.pop(musicnn_weights.WHEEL_ENV, None)
    return env


@pytest.fixture(scope="module")
def cache(tmp_path_factory, musicnn_wheel):
    """A cache with a link to the machine's wheel; $MGC_CACHE_DIR points at it for this module."""
    if not REAL_AUDIO.is_dir():
        pytest.skip(f"no real recordings at {REAL_AUDIO}")
    root = tmp_path_factory.mktemp("mgc-cache")
    os.symlink(musicnn_wheel, root / musicnn_weights.WHEEL_NAME)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(musicnn_weights.CACHE_ENV, str(root))
        mp.delenv(musicnn_weights.WHEEL_ENV, raising=False)
        yield root


@pytest.fixture(scope="module")
def predicted(cache, tmp_path_factory):
    """``predict --model musicnn-msd <real-audio> --output out.csv --organize sorted/``, in a process of its own."""
    out = tmp_path_factory.mktemp("tagger")
    command = [sys.executable, "-m", "mgc.pipelines", "predict", "--model", "musicnn-msd", str(REAL_AUDIO),
               "--output", str(out / "out.csv"), "--organize", str(out / "sorted"), "--workers", "2", "--quiet"]
    done = subprocess.run(command, cwd=ROOT, env=_env(cache), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    with open(out / "out.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return out, rows, done.stderr


@pytest.fixture(scope="module")
def model(cache):
    from mgc.models.musicnn import build_musicnn

    return build_musicnn("msd", outputs="tags")


def _direct_windows(path: Path) -> np.ndarray:
    """A file's 16 kHz windows as predict cuts them (one patch each, non-silent ones)."""
    from mgc.audio.clip import SILENCE_PEAK, load_audio
    from mgc.predict.windows import cut_windows

    windows = cut_windows(load_audio(str(path), musicnn_input.SR), tagger.CLIP_SAMPLES, tagger.CLIP_SAMPLES)
    return windows[np.max(np.abs(windows), axis=1) >= SILENCE_PEAK]


def _direct_patches(windows: np.ndarray) -> np.ndarray:
    return np.stack([musicnn_input.log_mel(w)[:musicnn_input.PATCH_FRAMES] for w in windows])


def test_table_has_tags_and_genres(predicted):
    _, rows, stderr = predicted
    files = sorted(p.name for p in REAL_AUDIO.glob("*.ogg"))
    assert sorted(Path(r["path"]).name for r in rows) == files  # one row per file
    tag_columns = [f"tag_{t.replace(' ', '_')}" for t in MSD_TAGS]
    assert list(rows[0]) == BASE_COLUMNS + [f"p_{g}" for g in MSD_GENRES] + tag_columns + ["file_stamp"]
    assert "tag_female_vocalists" in tag_columns and "tag_Hip-Hop" in tag_columns
    by_name = {Path(r["path"]).name: r for r in rows}
    assert by_name[BIRD]["status"] == "failed" and by_name[BIRD]["reason"].startswith("too short")
    assert by_name[BIRD]["tag_rock"] == "" and by_name[BIRD]["genre"] == ""
    for row in rows:
        if row["status"] == "ok":
            values = np.array([float(row[c]) for c in tag_columns + [f"p_{g}" for g in MSD_GENRES]])
            assert np.all((values >= 0) & (values <= 1)), row["path"]
    assert "predict: 14 files, 13 ok, 1 failed" in stderr


def test_tags_are_the_window_mean_and_genre_the_mapping(predicted, model):
    """Every ok row's genres are the mapping of its tags; its tags the mean of its windows' (checked
    directly for the files under 70 s: 10 of the 13, 1 to 23 windows each, to keep the test short)."""
    _, rows, _ = predicted
    index = musicnn_tags.genre_index(tagger.GENRE_TAGS["msd"], MSD_TAGS)
    checked = 0
    for row in (r for r in rows if r["status"] == "ok"):
        windows = _direct_windows(Path(row["path"]))
        if len(windows) * tagger.CLIP_SECONDS < 70:
            checked += 1
            patches = _direct_patches(windows)
            expected = model.predict({"patches": patches}, verbose=0).mean(axis=0)
        got = np.array([float(row[f"tag_{t.replace(' ', '_')}"]) for t in MSD_TAGS])
        if len(windows) * tagger.CLIP_SECONDS < 70:
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5, err_msg=row["path"])
        genres = np.array([float(row[f"p_{g}"]) for g in MSD_GENRES])
        np.testing.assert_allclose(genres, musicnn_tags.genre_scores(got, index), atol=1e-6)
        assert row["genre"] == MSD_GENRES[int(np.argmax(genres))]
        assert float(row["confidence"]) == pytest.approx(genres.max(), abs=1e-6)
    assert checked == 10


def test_organize_sorts_into_genre_folders(predicted):
    out, rows, stderr = predicted
    ok = [r for r in rows if r["status"] == "ok"]
    for row in ok:
        link = out / "sorted" / row["genre"] / Path(row["path"]).name
        assert link.is_symlink() and os.path.realpath(link) == os.path.realpath(row["path"])
    assert sum(1 for _ in (out / "sorted").glob("*/*")) == len(ok)
    assert f"organize: {len(ok)} files linked" in stderr


def test_windows_are_musicnn_patches():
    """Each window's patch is musicnn's extractor's patch of the whole track, but for the first frame of each
    window after the first (zero padding here, the previous window's last samples there)."""
    if not REAL_AUDIO.is_dir():
        pytest.skip(f"no real recordings at {REAL_AUDIO}")
    from mgc.audio.clip import load_audio
    from mgc.predict.windows import cut_windows

    y = load_audio(str(REAL_AUDIO / VIBE), musicnn_input.SR)
    whole = musicnn_input.patches(musicnn_input.log_mel(y))  # extractor.py's patches (tail dropped)
    ours = tagger.window_patches(cut_windows(y, tagger.CLIP_SAMPLES, tagger.CLIP_SAMPLES))
    assert ours.shape[1:] == (187, 96) and len(ours) >= len(whole) > 10
    np.testing.assert_array_equal(ours[0], whole[0])
    np.testing.assert_array_equal(ours[1:len(whole), 1:], whole[1:, 1:])
    np.testing.assert_array_equal(ours[:2], _direct_patches(cut_windows(y, tagger.CLIP_SAMPLES,
                                                                        tagger.CLIP_SAMPLES)[:2]))


def test_mapping_and_columns():
    for key, mapping in tagger.GENRE_TAGS.items():
        used = [t for tags in mapping.values() for t in tags]
        assert set(used) <= set(TAGS[key]) and len(used) == len(set(used))
    assert len(MTT_TAGS) == 50 and "classical" in tagger.GENRE_TAGS["mtt"]
    index = musicnn_tags.genre_index({"a": ["x", "z"], "b": ["y"]}, ["x", "y", "z"])
    assert index == [[0, 2], [1]]
    np.testing.assert_array_equal(musicnn_tags.genre_scores(np.array([[0.1, 0.5, 0.3]]), index), [[0.3, 0.5]])
    with pytest.raises(UserError, match="does not have: w"):
        musicnn_tags.genre_index({"a": ["w"]}, ["x"])
    assert tagger.tag_column("no vocals") == "tag_no_vocals"
    assert columns(["rock"], ["male vocal"]) == BASE_COLUMNS + ["p_rock", "tag_male_vocal"]

    class Row:
        path, status, genre, confidence = "a.ogg", "ok", "rock", 0.5
        probabilities, tags = np.array([0.5]), np.array([0.2, 0.5, 0.9])

    assert to_text([Row()], ["rock"], ["x", "y", "z"]).splitlines()[1].endswith("z 90%, y 50%, x 20%")


def test_names_and_server(tmp_path, monkeypatch):
    from mgc.predict import open_runner

    with pytest.raises(UserError, match="--server needs --model to be the local export"):
        open_runner("musicnn-msd", server="http://localhost:8501")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match="model not found"):  # ./musicnn-msd is a path, not the tagger
        open_runner("./musicnn-msd")


WAVEFORM_CHECK = textwrap.dedent("""
    import sys, numpy as np, tensorflow as tf
    loaded = tf.saved_model.load(sys.argv[1])
    data = np.load(sys.argv[2])
    wave = loaded.signatures["serve_waveform"](waveform=tf.constant(data["waveform"]))
    patch = loaded.signatures["serving_default"](patches=tf.constant(data["patches"]))
    def arrays(outputs, prefix):
        return {prefix + k: v.numpy().astype(str) if k == "genre" else v.numpy() for k, v in outputs.items()}
    np.savez(sys.argv[3], **arrays(wave, "wave_"), **arrays(patch, "patch_"))
""")


def test_export_serves_the_same_tags(cache, model, tmp_path):
    from mgc.export.tagger import export_tagger
    from mgc.predict import open_runner, predict_files

    version = export_tagger("musicnn-msd", tmp_path / "exports")
    assert version == tmp_path / "exports" / "musicnn-msd" / "1"
    assets = json.loads((version / "assets" / "mgc.json").read_text())
    assert assets["labels"] == MSD_GENRES and assets["tags"] == list(MSD_TAGS) and assets["inputs"] == ["waveform"]
    assert (version / "assets" / "labels.txt").read_text().split("\n")[:-1] == MSD_GENRES
    windows = _direct_windows(REAL_AUDIO / VIBE)[:8]
    patches = _direct_patches(windows)
    np.savez(tmp_path / "in.npz", waveform=windows, patches=patches)
    done = subprocess.run([sys.executable, "-c", WAVEFORM_CHECK, str(version), str(tmp_path / "in.npz"),
                           str(tmp_path / "out.npz")], env=_env(cache), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = np.load(tmp_path / "out.npz")
    expected = model.predict({"patches": patches}, verbose=0)
    np.testing.assert_allclose(out["patch_tags"], expected, rtol=0, atol=1e-5)
    np.testing.assert_allclose(out["wave_tags"], expected, rtol=0, atol=1e-3)  # float16 rounding of the mel
    index = musicnn_tags.genre_index(tagger.GENRE_TAGS["msd"], MSD_TAGS)
    np.testing.assert_allclose(out["wave_probabilities"], musicnn_tags.genre_scores(out["wave_tags"], index), atol=1e-6)
    np.testing.assert_array_equal(out["wave_class_id"], np.argmax(out["wave_probabilities"], axis=1))
    assert list(out["wave_genre"]) == [MSD_GENRES[i] for i in out["wave_class_id"]]
    # predict --model <export>: waveform windows through serve_waveform, as predict --model musicnn-msd
    runner = open_runner(str(version.parent))
    assert runner.tags == list(MSD_TAGS) and runner.inputs == ("waveform",)
    [row] = predict_files([str(REAL_AUDIO / VIBE)], runner, workers=1, progress=False)
    direct = model.predict({"patches": _direct_patches(_direct_windows(REAL_AUDIO / VIBE))}, verbose=0).mean(0)
    np.testing.assert_allclose(row.tags, direct, rtol=0, atol=1e-3)
    assert row.genre == MSD_GENRES[int(np.argmax(musicnn_tags.genre_scores(direct, index)))]
