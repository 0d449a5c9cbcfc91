"""``python -m mgc.pipelines similar --model MODEL --index LIBRARY --like SONG|GENRE [-k K]``: "more like this".

The stage takes no experiment config: everything comes from the model. See :mod:`mgc.similar`.
"""

from __future__ import annotations

import argparse
import os
import sys

from mgc.interrupt import INTERRUPTED

HELP = "find the tracks of a library most like a song or a genre (cosine similarity of a model's embeddings)"
DESCRIPTION = f"""{HELP}.

Each track of the --index folder is embedded once with the model (the input of its last Dense
layer, averaged over the track's windows: the fusion models' fused representation, musicnn's
200-d penultimate layer) and its genre predicted; the index is cached (by default under
~/.cache/mgc/similar/<key>/, the key naming the library and the model) and a rerun embeds only
new or changed files and drops vanished ones; Ctrl-C keeps the finished tracks.

--like takes an audio file (inside the library or not: one outside is embedded on the fly; the
song itself is left out of its results) or a genre of the model (the tracks nearest the mean
embedding of the tracks predicted as that genre). The table has the columns
  rank, similarity, genre, confidence, path
Without --like, the index is only brought up to date.
"""
EPILOG = """examples:
  python -m mgc.pipelines similar --model data/runs/demo/models/feature_fusion --index ~/Music --like song.mp3
  python -m mgc.pipelines similar --model musicnn-msd --index ~/Music --like ~/Music/jazz/so_what.mp3 -k 20
  python -m mgc.pipelines similar --model musicnn-msd --index ~/Music --like jazz --output jazzy.csv
  python -m mgc.pipelines similar --model musicnn-msd --index ~/Music          # build or update the index only
"""


def add_parser(sub) -> argparse.ArgumentParser:
    """Register the ``similar`` stage on the CLI's subparsers."""
    p = sub.add_parser("similar", help=HELP, description=DESCRIPTION, epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, metavar="MODEL",
                   help="a .keras checkpoint, a run's model folder <workdir>/models/<name> (any Keras model of "
                   "mgc; the fusions are the point), or a pretrained musicnn: musicnn-msd, musicnn-mtt "
                   "(an export has no embedding output)")
    p.add_argument("--index", required=True, metavar="LIBRARY",
                   help="the library: a folder, searched recursively for audio files as predict searches folders")
    p.add_argument("--like", metavar="SONG|GENRE",
                   help="an audio file, or a genre of the model (default: only build or update the index)")
    p.add_argument("-k", type=int, default=10, metavar="K", help="how many tracks to list (default: 10)")
    p.add_argument("--cache", metavar="DIR",
                   help="where the index is kept (default: ~/.cache/mgc/similar/<key>, under $MGC_CACHE_DIR if set)")
    p.add_argument("--config", metavar="CONFIG",
                   help="for a .keras checkpoint: the config of the run that trained it (default: the run's "
                   "config.json next to models/)")
    p.add_argument("--hop", type=float, metavar="SECONDS",
                   help="seconds between window starts (default: the clip length, no overlap); part of the index's key")
    p.add_argument("--batch-size", type=int, default=32, metavar="N", help="windows per model call (default: 32)")
    p.add_argument("--workers", type=int, metavar="N", help="processes decoding and computing windows "
                   "(default: all cores)")
    p.add_argument("--output", metavar="FILE", help="write the table to FILE, .csv or .json (default: a text "
                   "table on stdout)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def run(args) -> int:
    """Run the stage for parsed ``args``; user mistakes raise UserError (the CLI's exit 2)."""
    from mgc.errors import UserError
    from mgc.similar import Index, build_index, index_dir, open_embedder
    from mgc.similar.embedder import FORMAT
    from mgc.similar.query import check_output

    if args.k < 1:
        raise UserError(f"-k must be >= 1, got {args.k}")
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.hop is not None and not args.hop > 0:
        raise UserError(f"--hop must be > 0 seconds, got {args.hop:g}")
    if args.output:
        check_output(args.output)
    library = os.path.expanduser(args.index)
    if not os.path.isdir(library):
        raise UserError(f"--index must be a folder of audio files, got {args.index!r}")
    embedder = open_embedder(args.model, args.config)
    settings = {"format": FORMAT, "library": os.path.realpath(library), **embedder.cache_key, "hop": args.hop,
                "genres": embedder.genres}
    directory = os.path.expanduser(args.cache) if args.cache else index_dir(library, settings)
    index = Index(directory, settings, embedder.dim)
    options = {"hop_seconds": args.hop, "batch_size": args.batch_size, "workers": args.workers}
    with index.lock():
        index.open()
        try:
            built = build_index(library, embedder, index, progress=not args.quiet, **options)
        except KeyboardInterrupt:
            print(f"interrupted: {len(index.rows)} tracks kept in the index {directory}; run the same command again "
                  f"to embed the rest", file=sys.stderr)
            return INTERRUPTED
        entries = index.load()
    failed = f", {built.failed} failed" if built.failed else ""
    print(f"similar: {built.tracks} tracks in {library}: {built.embedded} embedded now{failed}, {built.kept} "
          f"unchanged, {built.dropped} dropped; index {directory}", file=sys.stderr)
    if args.like is None:
        return 0
    return _query(args, library, embedder, entries, options)


def _query(args, library: str, embedder, entries, options) -> int:
    from mgc.errors import UserError
    from mgc.similar import centroid, embed_file, genre_named, matches, nearest, to_text, write_matches

    like = os.path.expanduser(args.like)
    exclude = None
    if os.path.exists(like):
        key = os.path.relpath(os.path.realpath(like), os.path.realpath(library))
        exclude = entries.find(key)
        if exclude is None:
            key = os.path.relpath(os.path.abspath(like), os.path.abspath(library))
            exclude = entries.find(key)
        if exclude is not None:
            query, genre, confidence = entries.vectors[exclude], entries.genres[exclude], entries.confidences[exclude]
        else:  # outside the library, or a file of it that failed (embedding it says why)
            query, genre, confidence = embed_file(like, embedder, **options)
        what = f"{args.like} (predicted {genre}, {100 * confidence:.1f}%)"
    else:
        genre = genre_named(args.like, embedder.genres)
        if genre is None:
            raise UserError(f"--like {args.like!r} is neither an audio file nor a genre of the model "
                            f"({', '.join(embedder.genres)})")
        query, what = centroid(entries, genre), f"the genre {genre}"
    found = matches(entries, nearest(entries.vectors, query, args.k, exclude), library)
    print(f"similar: the {len(found)} tracks most like {what}", file=sys.stderr)
    if args.output:
        write_matches(found, args.output)
        print(f"similar: {len(found)} rows -> {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(to_text(found))
    return 0
