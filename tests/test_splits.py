"""The FMA fusion study's stratified 40/40/20 split and the k folds: sizes, stratification, artists apart."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mgc.config import SplitConfig
from mgc.errors import UserError
from mgc.splits import artist_groups, assign_splits, kfold

SPLIT_NAMES = ("baseline_train", "fusion_train", "test")


def make_tracks(genres: int = 5, per_genre: int = 40, artists: int = 4, no_artist: int = 0,
                shuffle_seed: int | None = 7) -> pd.DataFrame:
    """``genres`` x ``per_genre`` tracks; the first ``no_artist`` of each genre have no artist.

    Rows are shuffled and the index is not 0..n-1, so positional/label mix-ups show.
    """
    rows, tid = [], 2
    for g in range(genres):
        for i in range(per_genre):
            artist = "" if i < no_artist else f"Artist {g}-{i % artists}"
            rows.append({"track_id": tid, "genre": f"genre{g}", "artist": artist})
            tid += 3
    tracks = pd.DataFrame(rows)
    if shuffle_seed is not None:
        tracks = tracks.sample(frac=1.0, random_state=shuffle_seed)
    return tracks.set_index(tracks["track_id"] * 10, drop=False)


def per_genre(tracks: pd.DataFrame, split: pd.Series) -> pd.DataFrame:
    return pd.crosstab(tracks["genre"], split).reindex(columns=list(SPLIT_NAMES), fill_value=0)


def artists_on_two_sides(artists: pd.Series, side_a, side_b) -> set:
    a = set(artists.iloc[side_a]) - {""}
    b = set(artists.iloc[side_b]) - {""}
    return a & b


# ---------------------------------------------------------------- assign_splits, random


def test_default_split_is_stratified_40_40_20():
    tracks = make_tracks()
    split = assign_splits(tracks, SplitConfig(), seed=0)
    assert split.name == "split"
    assert split.index.equals(tracks.index)
    assert set(split) == set(SPLIT_NAMES)
    counts = per_genre(tracks, split)
    assert len(counts) == 5
    for genre, row in counts.iterrows():  # 40 tracks per genre -> 16 / 16 / 8, +-1
        assert abs(row["baseline_train"] - 16) <= 1, (genre, row.to_dict())
        assert abs(row["fusion_train"] - 16) <= 1, (genre, row.to_dict())
        assert abs(row["test"] - 8) <= 1, (genre, row.to_dict())
    totals = split.value_counts()
    assert totals["test"] == 40 and totals["fusion_train"] == 80 and totals["baseline_train"] == 80


def test_split_is_deterministic_per_seed_and_changes_with_seed():
    tracks = make_tracks()
    a = assign_splits(tracks, SplitConfig(), seed=0)
    b = assign_splits(tracks, SplitConfig(), seed=0)
    pd.testing.assert_series_equal(a, b)
    c = assign_splits(tracks, SplitConfig(), seed=1)
    assert not a.equals(c)
    assert per_genre(tracks, c).equals(per_genre(tracks, a))  # same sizes, other tracks


def test_split_follows_the_index_not_the_row_order():
    tracks = make_tracks()
    split = assign_splits(tracks, SplitConfig(), seed=0)
    reordered = assign_splits(tracks.sort_index(), SplitConfig(), seed=0)
    assert reordered.index.equals(tracks.sort_index().index)
    assert set(split) == set(reordered)  # both are valid splits, aligned to their own frame
    assert per_genre(tracks.sort_index(), reordered).equals(per_genre(tracks, split))


def test_other_fractions_are_respected():
    tracks = make_tracks(per_genre=50)
    split = assign_splits(tracks, SplitConfig(0.6, 0.2, 0.2), seed=3)
    counts = per_genre(tracks, split)
    assert (counts["baseline_train"] - 30).abs().max() <= 1
    assert (counts["fusion_train"] - 10).abs().max() <= 1
    assert (counts["test"] - 10).abs().max() <= 1


def test_no_fusion_split():
    tracks = make_tracks()
    split = assign_splits(tracks, SplitConfig(0.8, 0.0, 0.2), seed=0)
    assert set(split) == {"baseline_train", "test"}
    counts = per_genre(tracks, split)
    assert (counts["test"] - 8).abs().max() <= 1
    assert (counts["baseline_train"] - 32).abs().max() <= 1


@pytest.mark.filterwarnings("ignore:The least populated class:UserWarning")
@pytest.mark.parametrize("group_by_artist", [False, True])
def test_genre_with_too_few_tracks_is_a_user_error(group_by_artist):
    tracks = make_tracks(genres=4, artists=8)
    tiny = pd.DataFrame([{"track_id": 1, "genre": "tiny", "artist": "Solo"}], index=[1])
    tracks = pd.concat([tracks, tiny])
    with pytest.raises(UserError, match="tiny"):
        assign_splits(tracks, SplitConfig(group_by_artist=group_by_artist), seed=0)


@pytest.mark.filterwarnings("ignore:The least populated class:UserWarning")
def test_genre_with_too_few_artists_is_a_user_error_when_grouping():
    # Three tracks by one artist cannot be in three splits without the artist spanning two.
    tracks = make_tracks(genres=4, artists=8)
    tiny = pd.DataFrame([{"track_id": i, "genre": "tiny", "artist": "Solo"} for i in (1, 4, 7)],
                        index=[1, 4, 7])
    tracks = pd.concat([tracks, tiny])
    assign_splits(tracks, SplitConfig(), seed=0)  # fine without artist grouping
    with pytest.raises(UserError, match="tiny"):
        assign_splits(tracks, SplitConfig(group_by_artist=True), seed=0)


# ---------------------------------------------------------------- assign_splits, by artist


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_group_by_artist_keeps_each_artist_on_one_side(seed):
    tracks = make_tracks(artists=8)  # 8 artists x 5 tracks per genre
    split = assign_splits(tracks, SplitConfig(group_by_artist=True), seed=seed)
    sides_per_artist = pd.crosstab(tracks["artist"], split).gt(0).sum(axis=1)
    assert sides_per_artist.max() == 1
    counts = per_genre(tracks, split)
    assert (counts > 0).all().all(), counts  # every genre in every split
    fractions = split.value_counts(normalize=True)
    assert fractions["baseline_train"] == pytest.approx(0.4, abs=0.08)
    assert fractions["fusion_train"] == pytest.approx(0.4, abs=0.08)
    assert fractions["test"] == pytest.approx(0.2, abs=0.08)
    pd.testing.assert_series_equal(split, assign_splits(tracks, SplitConfig(group_by_artist=True), seed))


def test_tracks_without_artist_are_their_own_groups():
    tracks = make_tracks(artists=8, no_artist=8)  # 8 artist-less tracks per genre
    tracks.loc[tracks.index[:3], "artist"] = np.nan  # missing, not just empty
    groups = artist_groups(tracks)
    unknown = tracks["artist"].fillna("").eq("").to_numpy()
    assert len(set(groups[unknown])) == unknown.sum()  # one group per artist-less track
    assert not set(groups[unknown]) & set(groups[~unknown])

    split = assign_splits(tracks, SplitConfig(group_by_artist=True), seed=0)
    known = tracks["artist"].fillna("") != ""
    assert pd.crosstab(tracks.loc[known, "artist"], split[known]).gt(0).sum(axis=1).max() == 1
    assert split[~known].nunique() > 1  # artist-less tracks are spread, not lumped together
    assert (per_genre(tracks, split) > 0).all().all()


def test_group_by_artist_without_fusion_split():
    tracks = make_tracks(artists=8)
    split = assign_splits(tracks, SplitConfig(0.8, 0.0, 0.2, group_by_artist=True), seed=0)
    assert set(split) == {"baseline_train", "test"}
    assert pd.crosstab(tracks["artist"], split).gt(0).sum(axis=1).max() == 1


# ---------------------------------------------------------------- kfold


def check_partition(folds, n):
    seen = np.concatenate([val for _, val in folds])
    assert sorted(seen.tolist()) == list(range(n))  # validation folds partition the rows
    for train, val in folds:
        assert not set(train) & set(val)
        assert len(train) + len(val) == n


def test_kfold_partitions_rows_stratified_and_deterministic():
    tracks = make_tracks()
    folds = kfold(tracks, n_splits=3, seed=0)
    assert len(folds) == 3
    check_partition(folds, len(tracks))
    genres = tracks["genre"].to_numpy()
    for _, val in folds:
        counts = pd.Series(genres[val]).value_counts()
        assert len(counts) == 5
        assert counts.between(13, 14).all(), counts.to_dict()  # 40 / 3 per genre
    again = kfold(tracks, n_splits=3, seed=0)
    for (t1, v1), (t2, v2) in zip(folds, again):
        np.testing.assert_array_equal(t1, t2)
        np.testing.assert_array_equal(v1, v2)
    other = kfold(tracks, n_splits=3, seed=1)
    assert any(not np.array_equal(v1, v2) for (_, v1), (_, v2) in zip(folds, other))


def test_kfold_by_artist_keeps_artists_apart():
    tracks = make_tracks(artists=8, no_artist=4)
    folds = kfold(tracks, n_splits=3, seed=0, group_by_artist=True)
    assert len(folds) == 3
    check_partition(folds, len(tracks))
    artists = tracks["artist"]
    for train, val in folds:
        assert not artists_on_two_sides(artists, train, val)
        assert set(tracks["genre"].iloc[val]) == set(tracks["genre"])
    again = kfold(tracks, n_splits=3, seed=0, group_by_artist=True)
    for (_, v1), (_, v2) in zip(folds, again):
        np.testing.assert_array_equal(v1, v2)


def test_kfold_with_too_few_tracks_is_a_user_error():
    tracks = make_tracks(genres=2, per_genre=2, artists=1)
    with pytest.raises(UserError, match="folds"):
        kfold(tracks, n_splits=5, seed=0)
