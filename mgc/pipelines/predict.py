"""``python -m mgc.pipelines predict --model MODEL PATH...``: genres of audio files.

The stage takes no experiment config: everything comes from the model (an export's
``assets/mgc.json``, or a ``.keras`` checkpoint's run). See :mod:`mgc.predict`.
"""

from __future__ import annotations

import argparse
import sys

from mgc.contract import TAGS_UNDO_FILE as UNDO_FILE
from mgc.interrupt import INTERRUPTED

HELP = "predict the genre of audio files (files, folders, globs) with a trained or exported model"
DESCRIPTION = f"""{HELP}.

Each file is cut into the model's clip-length windows (every --hop seconds; a short file gives
one zero-padded window), the model runs on batches of windows, and the windows' probabilities
are averaged per file. The table has the columns
  path, genre, confidence, status, reason, p_<genre>...
(a file that cannot be used is a row with status "failed" and its reason; the others still run;
the exit status is 1 only when every file failed).

--model musicnn-msd (or musicnn-mtt) runs a pretrained music tagger that needs no training: the
table adds tag_<name>, each tag's probability, and genre is the likeliest of the tags that name a
genre (docs/pretrained.md); its weights are downloaded and converted once into ~/.cache/mgc.
"""
EPILOG = """examples:
  python -m mgc.pipelines predict --model saved_models/attention_fusion song.mp3 album/
  python -m mgc.pipelines predict --model saved_models/cnn 'music/**/*.flac' --output genres.csv
  python -m mgc.pipelines predict --model data/runs/demo/models/mlp/model.keras --config pipelines/demo.toml inbox/
  python -m mgc.pipelines predict --model saved_models/joint --server http://localhost:8501 inbox/ --output out.json
  python -m mgc.pipelines predict --model saved_models/cnn inbox/ --organize sorted/ --copy
  python -m mgc.pipelines predict --model musicnn-msd music/ --output tags.csv --organize by-genre/
  python -m mgc.pipelines predict --model saved_models/feature_fusion3 library/ --min-confidence 0.6 --organize sorted/
  python -m mgc.pipelines predict --model saved_models/cnn mix.mp3 --hop 5 --segments timeline.csv --top-k 3
  python -m mgc.pipelines predict --model saved_models/feature_fusion3 library/ --output genres.csv --html report.html
  python -m mgc.pipelines predict --model saved_models/cnn library/ --min-confidence 0.6 --write-tags --dry-run
  python -m mgc.pipelines predict --undo-tags tags-undo.json
"""


def add_parser(sub) -> argparse.ArgumentParser:
    """Register the ``predict`` stage on the CLI's subparsers."""
    p = sub.add_parser("predict", help=HELP, description=DESCRIPTION, epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="audio files, folders (searched recursively for mp3, wav, flac, ogg, opus, au) or quoted "
                   "glob patterns ('**' spans folders)")
    p.add_argument("--model", metavar="MODEL",
                   help="an export (saved_models/<name>, its latest version, or saved_models/<name>/<version>), "
                   "a .keras checkpoint, a run's model folder <workdir>/models/<name>, or a pretrained tagger: "
                   "musicnn-msd, musicnn-mtt (./musicnn-msd for a folder of that name)")
    p.add_argument("--server", metavar="URL",
                   help="ask TensorFlow Serving instead of running the model here: http(s)://host:8501 (REST) or "
                   "[grpc://]host:8500; --model is then the local export of the served model (same version)")
    p.add_argument("--config", metavar="CONFIG",
                   help="for a .keras checkpoint: the config of the run that trained it (default: the run's "
                   "config.json next to models/)")
    p.add_argument("--hop", type=float, metavar="SECONDS",
                   help="seconds between window starts (default: the clip length, no overlap)")
    p.add_argument("--min-duration", type=float, metavar="SECONDS",
                   help="shortest usable file: a shorter one is a failed row 'too short: ...' (a silent one "
                   "'silent: ...'), the rule extract applies to training clips (default: the model's own "
                   "[audio] min_duration, from the export's assets or the checkpoint's run config; 3 s for "
                   "an export that does not record it)")
    p.add_argument("--min-confidence", type=float, default=0.0, metavar="P",
                   help="a file whose top probability is below P gets the genre 'unknown' (its probabilities stay "
                   "in the row; --organize puts it in DIR/unknown/); the report stage suggests the P that keeps "
                   "95 %% precision on a run's test tracks (default: 0, every file gets a genre)")
    p.add_argument("--batch-size", type=int, default=32, metavar="N", help="windows per model call (default: 32)")
    p.add_argument("--output", metavar="FILE",
                   help="write the table to FILE: .csv or .jsonl (grown as files finish: an interrupted run keeps its "
                   "rows, and the same command again does only the files not done), .json (written at the end), or "
                   ".html (the --html page instead of a table) (default: a text table on stdout)")
    p.add_argument("--html", metavar="FILE",
                   help="also write a self-contained HTML page of the results: a sortable, filterable table with "
                   "each file's genre timeline and a player, and the library's genre distribution")
    p.add_argument("--top-k", type=int, default=1, metavar="K",
                   help="add the model's runners-up to the table: genre_2, confidence_2, ... genre_K, confidence_K "
                   "(default: 1, the best genre only)")
    p.add_argument("--segments", metavar="FILE",
                   help="also write one row per window to FILE (CSV or JSON by its extension): path, start, end "
                   "(seconds), genre, confidence, p_<genre>...: how a long track's genre changes over time")
    p.add_argument("--organize", metavar="DIR",
                   help="symlink each predicted file into DIR/<genre>/ (an existing name is never replaced: "
                   "'name (1).ext', ...)")
    p.add_argument("--copy", action="store_true", help="with --organize: copy the files instead of linking them")
    p.add_argument("--write-tags", action="store_true",
                   help="write each predicted genre into the file's own GENRE tag (ID3 TCON in MP3 and WAV, the "
                   "Vorbis comment in FLAC, Ogg and Opus), with a tag MGC naming the model and its confidence; files "
                   "below --min-confidence are left untouched; the audio data is never changed (checked), and the "
                   "previous values go into --undo-file")
    p.add_argument("--undo-file", default=UNDO_FILE, metavar="FILE",
                   help=f"with --write-tags: where the previous tags are recorded (default: {UNDO_FILE}; grown, "
                   "never replaced, by later runs)")
    p.add_argument("--undo-tags", metavar="FILE",
                   help="restore the tags an earlier --write-tags recorded in FILE (no --model or PATH needed): "
                   "files whose tags changed since are named and left alone")
    p.add_argument("--dry-run", action="store_true",
                   help="with --write-tags or --undo-tags: print each file's tag change, change no file")
    p.add_argument("--workers", type=int, metavar="N", help="processes decoding and computing windows "
                   "(default: all cores)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def run(args) -> int:
    """Run the stage for parsed ``args``; user mistakes raise UserError (the CLI's exit 2)."""
    from mgc.errors import UserError
    from mgc.predict import expand_paths, open_runner
    from mgc.predict.batch import check_min_confidence, iter_predictions
    from mgc.predict.output import RowSink

    if args.undo_tags:
        return _undo(args)
    html, output = _check(args)
    check_min_confidence(args.min_confidence, [])  # before the (slow) model load; its labels are checked after
    runner = open_runner(args.model, server=args.server, config=args.config)  # a wrong --model first
    if not 1 <= args.top_k <= len(runner.labels):
        raise UserError(f"--top-k must be between 1 and the model's {len(runner.labels)} genres, got {args.top_k}")
    labels, tags = list(runner.labels), list(getattr(runner, "tags", None) or ())
    paths = expand_paths(args.paths)
    writer = None
    if args.write_tags:
        from mgc.predict.tag_writer import TagWriter

        writer = TagWriter(*runner.identity, undo=args.undo_file, dry_run=args.dry_run,
                           echo=lambda line: print(line, file=sys.stderr))
    sink = RowSink(labels, tags, output=output, segments=args.segments, top_k=args.top_k,
                   min_confidence=args.min_confidence, organize_dir=args.organize, copy=args.copy,
                   tag_writer=writer, timelines=bool(html))
    settings = {"model": getattr(runner, "description", "") or args.model, "labels": labels, "hop": args.hop,
                "min_duration": args.min_duration, "min_confidence": args.min_confidence, "server": args.server}
    todo, kept = sink.resume(paths, settings)
    if kept:
        print(f"predict: {kept} of {len(paths)} files already in {output} (unchanged since); "
              f"{len(todo)} to go", file=sys.stderr)
    try:
        for row in iter_predictions(todo, runner, hop_seconds=args.hop, batch_size=args.batch_size,
                                    workers=args.workers, progress=not args.quiet, min_duration=args.min_duration,
                                    min_confidence=args.min_confidence, segments=bool(args.segments or html)):
            sink.add(row)
    except KeyboardInterrupt:
        sink.commit()
        if sink.table is not None:
            print(f"interrupted: {kept + sink.table.committed} rows kept in {output}; run the same command "
                  f"again to finish the other {len(todo) - sink.table.committed} files", file=sys.stderr)
        else:
            print("interrupted: nothing written (a .csv or .jsonl --output keeps finished rows)", file=sys.stderr)
        _report_tags(writer, sink, args)
        return INTERRUPTED
    sink.finish(paths)
    _write_outputs(sink, args, labels, tags, output, html, getattr(runner, "description", "") or args.model)
    _report_tags(writer, sink, args)
    where = f" -> {args.output}" if args.output else ""
    done = f"{sink.n} files" + (f" ({kept} more already there)" if kept else "")
    print(f"predict: {done}, {sink.n - sink.failed} ok, {sink.failed} failed{where}", file=sys.stderr)
    return 1 if sink.n and sink.failed == sink.n and not kept else 0


def _check(args) -> tuple[str | None, str | None]:
    """Every option checked before any work: ``(html page, table)`` paths (either may be None)."""
    from mgc.errors import UserError
    from mgc.predict import output_format
    from mgc.predict.table import check_output

    if not args.model:
        raise UserError("predict needs --model MODEL (or --undo-tags FILE)")
    if not args.paths:
        raise UserError("predict needs at least one PATH (an audio file, a folder or a glob)")
    html = args.html
    output = args.output
    if output and output.lower().endswith(".html"):  # the page instead of a table
        if html:
            raise UserError("give the page once: --output FILE.html or --html FILE")
        html, output = output, None
    if output:
        output_format(output)  # a wrong extension fails now, not after the work
        check_output(output)  # so does a place that cannot be written
    if html:
        if not html.lower().endswith((".html", ".htm")):
            raise UserError(f"--html must end in .html, got {html!r}")
        check_output(html, "--html")
    if args.segments:
        output_format(args.segments, "--segments")
        check_output(args.segments, "--segments")
    if args.copy and not args.organize:
        raise UserError("--copy only applies with --organize DIR")
    if args.dry_run and not args.write_tags:
        raise UserError("--dry-run applies to --write-tags or --undo-tags")
    if args.write_tags and not args.dry_run:
        check_output(args.undo_file, "--undo-file")
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be >= 1, got {args.batch_size}")
    if args.hop is not None and not args.hop > 0:
        raise UserError(f"--hop must be > 0 seconds, got {args.hop:g}")
    return html, output


def _write_outputs(sink, args, labels, tags, output, html, model) -> None:
    """What is written at the end: organize's summary, the tables not grown as files finished,
    the page, or the text table on stdout."""
    from mgc.errors import UserError
    from mgc.predict import to_text, write_table
    from mgc.predict.segments import write_segments
    from mgc.predict.table import OutputError, to_csv

    rows = sorted(sink.rows, key=lambda row: row.index)
    if args.organize:
        for line in sink.problems:
            print(f"warning: not organized: {line}", file=sys.stderr)
        how = "copied" if args.copy else "linked"
        extra = f" ({sink.renamed} under a numbered name, as the name was taken)" if sink.renamed else ""
        extra += f", {sink.already} already there" if sink.already else ""
        print(f"organize: {sink.placed} files {how} into {args.organize}/<genre>/{extra}", file=sys.stderr)
    if args.segments and sink.segment_table is None:
        try:
            write_segments(sorted(sink.segment_rows, key=lambda row: row.index), labels, args.segments,
                           args.min_confidence)
        except OutputError as exc:
            print(f"warning: {exc}; the per-file table is still written", file=sys.stderr)
    if html:
        from mgc.predict.html import write_html

        try:
            write_html(html, sink.page_records(), labels, timelines=sink.page_timelines(), model=model,
                       option="--output" if html == args.output else "--html")
        except OutputError as exc:
            print(f"warning: {exc}", file=sys.stderr)
    if output and sink.table is None:
        try:
            write_table(rows, labels, output, tags, args.top_k)
        except OutputError as exc:  # e.g. a full disk: the results are not lost, stdout has them
            sys.stdout.write(exc.text)
            raise UserError(f"{exc}; the table is printed on stdout instead") from None
    elif not output and not html:
        sys.stdout.write(to_text(rows, labels, tags) if args.top_k == 1 else to_csv(rows, labels, tags, args.top_k))


def _report_tags(writer, sink, args) -> None:
    if writer is None:
        return
    for line in writer.problems:
        print(f"warning: not tagged: {line}", file=sys.stderr)
    verb = "to tag" if args.dry_run else "tagged"
    left = f", {sink.untagged} left untouched (below --min-confidence)" if sink.untagged else ""
    undo = "" if args.dry_run or not writer.tagged else f"; undo with: predict --undo-tags {args.undo_file}"
    print(f"tags: {writer.tagged} files {verb}, {writer.unchanged} already so{left}, {len(writer.problems)} failed"
          f"{undo}", file=sys.stderr)


def _undo(args) -> int:
    """``--undo-tags FILE``: the tags of an earlier --write-tags restored (no model needed)."""
    from mgc.errors import UserError
    from mgc.predict.tag_writer import undo

    if args.model or args.paths or args.write_tags:
        raise UserError("--undo-tags FILE takes no --model, PATH or --write-tags: it restores what FILE recorded")
    restored, already, problems = undo(args.undo_tags, dry_run=args.dry_run,
                                       echo=lambda line: print(line, file=sys.stderr))
    for line in problems:
        print(f"warning: not restored: {line}", file=sys.stderr)
    verb = "to restore" if args.dry_run else "restored"
    print(f"undo-tags: {restored} files {verb}, {already} already as before, {len(problems)} left alone",
          file=sys.stderr)
    return 1 if problems and not restored and not already else 0
