"""The synthetic dataset: deterministic, well laid out, idempotent, learnable but not trivially."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from mgc.datasets.synthetic import COLUMNS, STYLES, style_for, synthesize
from mgc.errors import UserError

SMALL = dict(genres=["rock", "folk", "zydeco"], clips_per_genre=4, artists_per_genre=2,
             clip_seconds=1.5, sample_rate=8000, seed=7)


def make(out_dir, **overrides) -> pd.DataFrame:
    return synthesize(out_dir, **{**SMALL, **overrides})


def relative(table: pd.DataFrame, root: Path) -> pd.DataFrame:
    """The table with paths relative to ``root`` (so two output folders compare equal)."""
    return table.assign(path=[str(Path(p).relative_to(root)) for p in table["path"]])


def test_same_arguments_give_identical_output(tmp_path):
    a, b = make(tmp_path / "a"), make(tmp_path / "b")
    pd.testing.assert_frame_equal(relative(a, tmp_path / "a"), relative(b, tmp_path / "b"))
    for pa, pb in zip(a["path"], b["path"]):
        assert Path(pa).read_bytes() == Path(pb).read_bytes()

    other = make(tmp_path / "c", seed=8)
    for pa, pc in zip(a["path"], other["path"]):
        assert Path(pa).read_bytes() != Path(pc).read_bytes()


def test_each_clip_is_independent_of_the_others(tmp_path):
    full = make(tmp_path / "full")
    part = make(tmp_path / "part", genres=["folk", "rock"], clips_per_genre=2)
    for p in part["path"]:
        twin = tmp_path / "full" / Path(p).relative_to(tmp_path / "part")
        assert Path(p).read_bytes() == twin.read_bytes()
    assert len(full) == 12


def test_layout_and_naming(tmp_path):
    table = make(tmp_path)
    assert list(table.columns) == COLUMNS
    assert list(table.index) == list(range(len(table)))
    assert list(table["track_id"]) == sorted(table["track_id"])
    assert table["track_id"].is_unique
    assert all(isinstance(v, str) for col in COLUMNS for v in table[col])
    for col in ("track_id", "genre", "artist"):
        assert table[col].str.startswith("synthetic-").all()
    assert table.groupby("genre").size().to_dict() == {
        "synthetic-folk": 4, "synthetic-rock": 4, "synthetic-zydeco": 4}
    assert (table.groupby("genre")["artist"].nunique() == 2).all()
    assert set(table.loc[table["genre"] == "synthetic-rock", "artist"]) == {
        "synthetic-rock-artist-0", "synthetic-rock-artist-1"}
    assert table.loc[0, "track_id"] == "synthetic-folk-0000"

    for row in table.itertuples():
        path = Path(row.path)
        assert path.is_absolute()
        assert path == tmp_path / row.genre / f"{row.track_id}.wav"
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.frames) == (8000, 1, 12000)
        assert info.subtype == "PCM_16"
        y, _ = sf.read(path)
        assert np.isfinite(y).all() and 0.45 < np.abs(y).max() < 0.91
    assert json.loads((tmp_path / "synthetic.json").read_text())["seed"] == 7
    assert not [p for p in tmp_path.rglob(".*") if ".tmp" in p.name]  # no temporary file of mgc.io left


def test_rerun_reuses_files_and_fills_gaps(tmp_path):
    first = make(tmp_path)
    stamps = {p: (Path(p).stat().st_mtime_ns, Path(p).stat().st_ino) for p in first["path"]}
    again = make(tmp_path)
    pd.testing.assert_frame_equal(first, again)
    assert {p: (Path(p).stat().st_mtime_ns, Path(p).stat().st_ino) for p in again["path"]} == stamps

    missing = Path(first.loc[5, "path"])
    content = missing.read_bytes()
    missing.unlink()
    make(tmp_path)
    assert missing.read_bytes() == content
    assert Path(first.loc[0, "path"]).stat().st_mtime_ns == stamps[first.loc[0, "path"]][0]

    before = Path(first.loc[0, "path"]).read_bytes()
    changed = make(tmp_path, seed=8)  # other settings: every file is regenerated
    assert Path(changed.loc[0, "path"]).read_bytes() != before
    assert json.loads((tmp_path / "synthetic.json").read_text())["seed"] == 8


def test_bad_arguments_are_user_errors(tmp_path):
    for genres in ([], ["rock", "rock"], ["a/b"], [""]):
        with pytest.raises(UserError):
            make(tmp_path, genres=genres)
    with pytest.raises(UserError):
        make(tmp_path, clips_per_genre=0)


def test_styles_cover_presets_and_any_name():
    assert {"rock", "electronic", "hiphop", "folk", "pop", "jazz", "classical", "metal",
            "reggae", "blues", "disco", "country"} <= set(STYLES)
    assert style_for("Hip-Hop") == style_for("hiphop")
    assert style_for("zydeco") == style_for("zydeco") != style_for("shoegaze")
    assert all(name in STYLES for name in style_for("shoegaze")["near"])


def test_genres_are_learnable_but_not_trivially(tmp_path):
    """On FMA's 518 features (the MLP's view) a linear classifier tells the genres apart well above
    chance, except the twins ``experimental`` / ``electronic`` (time-reversed copies of one style):
    on those it is near chance, while a time-order statistic of the log-mel (the CNN's view)
    separates them."""
    from scipy.stats import skew
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import recall_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from mgc.config import SpectrogramConfig
    from mgc.features import extract_views

    genres, twins = ["rock", "electronic", "experimental", "hiphop", "folk"], ["electronic", "experimental"]
    # One artist per clip: with a few artists per genre, their signatures (key, tempo, brightness)
    # would differ between the twins by chance and give the features a spurious handle.
    table = synthesize(tmp_path, genres=genres, clips_per_genre=14, artists_per_genre=14, clip_seconds=2.0,
                       sample_rate=22050, seed=0)
    features, asymmetry = [], []
    for path in table["path"]:
        y, sr = sf.read(path, dtype="float32")
        vector, log_mel = extract_views(y, sr, SpectrogramConfig())
        features.append(vector)
        # A note starts sharply and decays slowly, so frame-to-frame changes of each mel band are
        # skewed upwards; played backwards they are skewed downwards. Pooled into 8 band groups.
        asymmetry.append(skew(np.diff(log_mel, axis=1), axis=1).reshape(8, -1).mean(axis=1))
    features, asymmetry = np.array(features), np.array(asymmetry)
    genre = table["genre"].str.removeprefix("synthetic-").to_numpy()
    twin = np.isin(genre, twins)
    folds = StratifiedKFold(4, shuffle=True, random_state=0)

    def classifier():
        return make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=5000))

    # Learnable: the twins count as one class here (the features cannot split them, see below).
    merged = np.where(twin, "twins", genre)
    predicted = cross_val_predict(classifier(), features, merged, cv=folds)
    classes = ["rock", "hiphop", "folk", "twins"]
    recall = {c: round(float(r), 2) for c, r in zip(classes, recall_score(merged, predicted, labels=classes,
                                                                         average=None))}
    accuracy = float((predicted == merged).mean())
    print(f"features, 4 classes: accuracy {accuracy:.2f}, recall {recall}")
    assert accuracy > 0.6 and min(recall.values()) >= 0.5, recall  # chance: 0.4 (all "twins"), 0.25 per class

    def pair_accuracy(x, a, b, model) -> float:
        rows = np.isin(genre, [a, b])
        return float(cross_val_score(model, x[rows], genre[rows], cv=folds).mean())

    # The same classifier on the same features separates electronic from a genre of its own ...
    assert pair_accuracy(features, "electronic", "folk", classifier()) >= 0.9
    # ... but not from its time-reversed twin: near chance (0.5) ...
    on_features = pair_accuracy(features, *twins, classifier())
    # ... which the spectrogram's time order tells apart.
    on_spectrogram = pair_accuracy(asymmetry, *twins, make_pipeline(StandardScaler(), LogisticRegression(C=0.1)))
    print(f"experimental vs electronic: features {on_features:.2f}, log-mel time asymmetry {on_spectrogram:.2f}")
    assert on_features <= 0.7
    assert on_spectrogram >= 0.9


def test_experimental_is_electronic_reversed_and_only_the_spectrogram_sees_it():
    """The demo's twin genres: identical summary statistics, opposite time order."""
    from mgc.datasets.synthetic import _artist, render_clip
    from mgc.features import compute_features, feature_columns

    artist, sr, n = _artist(0, 1, 0), 22050, 22050 * 5
    electronic = render_clip(style_for("electronic"), artist, np.random.default_rng(5), n, sr)
    experimental = render_clip(style_for("experimental"), artist, np.random.default_rng(5), n, sr)
    assert np.array_equal(experimental, electronic[::-1])
    assert not np.allclose(experimental, electronic)

    a = np.asarray(compute_features(electronic.astype(np.float32), sr))
    b = np.asarray(compute_features(experimental.astype(np.float32), sr))
    stats = np.array([statistic for _, statistic, _ in feature_columns()])
    moments = np.isin(stats, ["mean", "std"])
    relative = np.abs(a - b) / (np.abs(a) + np.abs(b) + 1e-6)
    assert relative[moments].max() < 0.15  # every mean and std of FMA's 518 agrees closely
