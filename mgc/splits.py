"""Splits: the FMA fusion study's seeded, stratified baseline_train / fusion_train / test, a
published split (FMA's official ``set.split``, GTZAN's fault-filtered lists), and k folds.

With ``group_by_artist`` no artist spans two sides (scikit-learn's ``StratifiedGroupKFold``);
a group split can only cut in whole folds, so each fraction is rounded to 1/k of what is
left (0.4 / 0.4 / 0.2 is exact: test = 1 fold of 5, fusion = 1 fold of 2). Tracks with no
artist are their own group.

A published split (the loader's ``published`` column) fixes the test side, and its validation
side becomes ``validation`` (early stopping for every model); its training side is cut into
baseline_train / fusion_train in the ratio of ``[split]``'s two training fractions, always by
artist (GTZAN's list names no artist: there every clip is its own group); tracks it leaves out
are ``unused``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, train_test_split

from mgc.config import UNUSED, VALIDATION, SplitConfig
from mgc.errors import UserError


def artist_groups(tracks: pd.DataFrame) -> np.ndarray:
    """Group label per track: its artist, or its own track id when the artist is unknown."""
    artist = tracks["artist"].fillna("").astype(str)
    return np.where(artist == "", "track:" + tracks["track_id"].astype(str), "artist:" + artist)


def _holdout(index: np.ndarray, labels: np.ndarray, groups, fraction: float, seed: int):
    """Split ``index`` into (kept, held out) with about ``fraction`` held out."""
    if groups is None:
        return train_test_split(index, test_size=fraction, stratify=labels, random_state=seed)
    n_splits = max(2, int(round(1.0 / fraction)))
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    kept, held = next(splitter.split(index, labels, groups))
    return index[kept], index[held]


def assign_splits(tracks: pd.DataFrame, config: SplitConfig, seed: int) -> pd.Series:
    """The ``split`` column for ``tracks`` (index aligned): baseline_train, fusion_train or test;
    with a published split also validation and unused."""
    if config.method != "stratified":
        return published_splits(tracks, config, seed)
    index = np.arange(len(tracks))
    labels = tracks["genre"].to_numpy()
    groups = artist_groups(tracks) if config.group_by_artist else None
    split = np.full(len(tracks), "baseline_train", dtype=object)
    try:
        rest, test = _holdout(index, labels, groups, config.test, seed)
        split[test] = "test"
        if config.fusion_train > 0:
            fraction = config.fusion_train / (config.baseline_train + config.fusion_train)
            sub_groups = None if groups is None else groups[rest]
            _, fusion = _holdout(rest, labels[rest], sub_groups, fraction, seed)
            split[fusion] = "fusion_train"
    except ValueError as exc:  # too few tracks or groups per genre for a stratified split
        counts = pd.Series(labels).value_counts()
        raise UserError(
            f"cannot split {len(tracks)} tracks ({counts.min()} in the smallest genre "
            f"{counts.idxmin()!r}) into {config.baseline_train}/{config.fusion_train}/{config.test}: {exc}"
        ) from None
    if groups is not None:  # StratifiedGroupKFold only warns when a genre has too few artists
        wanted = {"baseline_train", "test"} | ({"fusion_train"} if config.fusion_train > 0 else set())
        for genre in pd.unique(labels):
            missing = wanted - set(split[labels == genre])
            if missing:
                raise UserError(
                    f"cannot split genre {genre!r} by artist: its {len(set(groups[labels == genre]))} "
                    f"artist(s) leave no track in {', '.join(sorted(missing))}; "
                    "add tracks by other artists or set split.group_by_artist = false"
                )
    return pd.Series(split, index=tracks.index, name="split")


def published_splits(tracks: pd.DataFrame, config: SplitConfig, seed: int) -> pd.Series:
    """The ``split`` column from the loader's ``published`` sides (see the module docstring)."""
    if "published" not in tracks.columns:
        raise ValueError(f"split method {config.method!r} needs the loader's 'published' column")
    side = tracks["published"].to_numpy()
    split = np.full(len(tracks), UNUSED, dtype=object)
    split[side == "test"] = "test"
    split[side == "validation"] = VALIDATION
    training = np.flatnonzero(side == "training")
    if len(training) == 0 or not (side == "test").any():
        raise UserError(f"the {config.method} split leaves no training or no test track in this selection")
    split[training] = "baseline_train"
    if config.fusion_train > 0:
        labels = tracks["genre"].to_numpy()[training]
        groups = artist_groups(tracks.iloc[training])
        fraction = config.fusion_train / (config.baseline_train + config.fusion_train)
        try:
            _, fusion = _holdout(training, labels, groups, fraction, seed)
        except ValueError as exc:
            raise UserError(f"cannot cut the {config.method} split's {len(training)} training tracks into "
                            f"baseline_train / fusion_train by artist: {exc}") from None
        split[fusion] = "fusion_train"
    return pd.Series(split, index=tracks.index, name="split")


def kfold(
    tracks: pd.DataFrame, n_splits: int = 3, seed: int = 0, group_by_artist: bool = False
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified k-fold ``(train_positions, validation_positions)`` over ``tracks``' rows."""
    labels = tracks["genre"].to_numpy()
    try:
        if group_by_artist:
            splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
            folds = list(splitter.split(labels, labels, artist_groups(tracks)))
        else:
            splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
            with warnings.catch_warnings():
                warnings.simplefilter("error", UserWarning)  # "least populated class has only ..."
                folds = list(splitter.split(labels, labels))
    except (ValueError, UserWarning) as exc:
        raise UserError(f"cannot make {n_splits} stratified folds of {len(tracks)} tracks: {exc}") from None
    genres = set(labels)
    for i, (_, validation) in enumerate(folds):
        if set(labels[validation]) != genres:
            lacking = sorted(genres - set(labels[validation]))[0]
            raise UserError(
                f"fold {i + 1} of {n_splits} has no {lacking!r} track (too few tracks or artists of that genre "
                "for this many folds); use fewer folds or search.group_by_artist = false"
            )
    return folds


def validation_slice(tracks: pd.DataFrame, fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, validation) rows of ``tracks``: a stratified ``fraction`` held out for early
    stopping (plain random when a genre is too small to stratify)."""
    labels = tracks["genre"].to_numpy()
    n_val = max(1, int(round(fraction * len(tracks))))
    stratify = labels if n_val >= len(set(labels)) and pd.Series(labels).value_counts().min() >= 2 else None
    train, validation = train_test_split(np.arange(len(tracks)), test_size=n_val, stratify=stratify,
                                         random_state=seed)
    return tracks.iloc[np.sort(train)], tracks.iloc[np.sort(validation)]
