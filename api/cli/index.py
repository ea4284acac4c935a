"""`clipdex index`, `reindex`, `rebuild-index` and `index-texts`: what goes into a collection."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

from api.cli.common import (
    UsageError,
    encoder_factory,
    model_spec,
    open_collection,
    remember,
    require_indexed,
    resolve_data_dir,
    show_path,
)
from api.cli.ocr import print_ocr_report
from api.services import index_collection, index_options, ocr_options
from api.settings import Settings
from retrieval.ocr import DEFAULT_OCR, ENGINES


def cmd_index(args, settings: Settings) -> int:
    for folder in args.folders:  # before anything is made on disk
        if not os.path.exists(folder):
            raise UsageError(f"no such file or folder: {folder}")
    new = not os.path.isdir(resolve_data_dir(args, settings, args.folders))
    collection = open_collection(args, settings, args.folders, must_exist=False)
    try:
        return _index(args, settings, collection)
    except BaseException:
        if new and _never_indexed(collection):  # it failed before anything was indexed: leave nothing
            collection.close()
            shutil.rmtree(collection.data_dir, ignore_errors=True)
        raise


def _never_indexed(collection) -> bool:
    try:
        return collection.model_spec is None
    except Exception:  # the database itself failed: keep everything
        return False


def _index(args, settings: Settings, collection) -> int:
    spec = model_spec(args, settings, collection)
    options = index_options(settings, batch_size=args.batch_size, workers=args.workers, progress=not args.quiet)
    options.follow_links = args.follow_links
    ray = None
    if args.ray:  # Ray is imported only on this path
        from indexer.ingest.ray_pass import RayOptions

        ray = RayOptions(address=args.ray, workers=args.ray_workers)
    if args.no_ocr:
        from indexer.ocr import stop_reading

        stop_reading(collection)
    run = index_collection(collection, args.folders, spec, encoder_factory(spec, args, settings, indexing=True), options, ray,
                           ocr=None if args.no_ocr else args.ocr or settings.ocr,
                           text_options=ocr_options(settings, progress=not args.quiet, ray=ray),
                           locate=False if args.no_locate else (True if args.locate else None))
    report, captions_dropped = run.report, run.captions_dropped
    if report.up_to_date and collection.embed_dim and (args.index_type or args.shards or args.memory_mb):
        with collection.writer_lock():  # nothing to index, but the index settings changed: apply them now
            collection.load_index(repair=True)
            collection.save_index()
    remember(collection.data_dir)
    if args.json:
        print(json.dumps({**run.as_dict(), "data_dir": collection.data_dir}, default=str))
        return 0
    if report.up_to_date and not report.repaired:
        print(f"up to date: {report.unchanged} files unchanged ({report.seconds:.2f}s)")
    else:
        print(
            f"indexed {report.embedded} new or changed, {report.moved} moved, {report.failed} failed, "
            f"{report.removed} removed, {report.unchanged} unchanged in {report.seconds:.1f}s "
            f"-> {collection.data_dir}"
        )
    for path, reason in report.scan_errors:
        print(f"warning: {show_path(path)}: {reason}", file=sys.stderr)
    if report.links_out:
        print(f"{report.links_out} links out of the indexed folders were followed (--follow-links)", file=sys.stderr)
    if report.failed:
        print(f"{report.failed} files could not be indexed: see `clipdex status`", file=sys.stderr)
    if captions_dropped:
        print(f"{captions_dropped} captions of changed or removed files were dropped: "
              f"`clipdex index-captions` captions what changed", file=sys.stderr)
    if run.ocr is not None:
        print_ocr_report(run.ocr)
    if run.located is not None:
        _print_located(run.located)
    return 0


def _print_located(report) -> None:
    if report.prepared or report.failed:
        print(f"prepared {report.prepared} pictures to show where ({report.failed} failed) in {report.seconds:.1f}s")
    for path, reason in report.failures:
        print(f"warning: not prepared to show where: {show_path(path)}: {reason}", file=sys.stderr)


def cmd_reindex(args, settings: Settings) -> int:
    from indexer.reindex import reindex_with_model

    if not args.model:
        raise UsageError("give the new model: clipdex reindex --model SPEC")
    args.new_model = args.model
    collection = open_collection(args, settings)
    require_indexed(collection)
    old = collection.model_spec
    options = index_options(settings, batch_size=args.batch_size, progress=not args.quiet)
    report = reindex_with_model(collection, args.new_model, encoder_factory(args.new_model, args, settings, indexing=True),
                                options)
    print(f"re-embedded {report.embedded} images ({report.failed} failed) with {args.new_model} and switched "
          f"{collection.data_dir} to it (was {old})")
    return 0


def cmd_rebuild_index(args, settings: Settings) -> int:
    import time

    collection = open_collection(args, settings)
    if collection.embed_dim is None:
        raise UsageError(f"the collection at {collection.data_dir} is empty: run `clipdex index FOLDER` first")
    started = time.monotonic()
    with collection.writer_lock():
        described = collection.rebuild_index().describe()
    if args.json:
        print(json.dumps(described))
        return 0
    lists = f" with {described['lists']} lists" if described["lists"] else ""
    print(f"rebuilt a {described['type']} index{lists} of {described['vectors']} vectors in "
          f"{described['shards']} shard(s) from the stored vectors in {time.monotonic() - started:.1f}s")
    return 0


def cmd_index_texts(args, settings: Settings) -> int:
    from indexer.texts import TextCollection, TextFileError, read_text_file

    if not args.file and not args.rebuild:
        raise UsageError("give a file of texts to add, or --rebuild")
    collection = open_collection(args, settings)
    spec = model_spec(args, settings, collection)
    collection.check_model(spec)
    texts = []
    if args.file:
        try:
            texts = read_text_file(args.file)
        except TextFileError as exc:
            raise UsageError(str(exc)) from None
        if not texts:
            raise UsageError(f"{args.file} holds no texts")
    encoder = encoder_factory(spec, args, settings)()
    collection_texts = TextCollection(collection)
    if args.rebuild:
        print(f"embedded {collection_texts.rebuild(encoder)} texts again into a new text index")
    if texts:
        ids = collection_texts.add(texts, encoder, source=os.path.abspath(args.file))
        print(f"added {len(ids)} texts from {args.file}")
    return 0


def add_parsers(sub, flags) -> None:
    index = sub.add_parser("index", parents=flags.of("collection", "encoder", "index", "json", "quiet"), help="index folders (incremental)")
    index.add_argument("folders", nargs="*", help="folders or files (default: the collection's folders)")
    index.add_argument("--workers", type=int, help="decode workers (threads for ONNX Runtime, else processes; CLIPDEX_DECODE_WORKERS)")
    index.add_argument("--follow-links", action=argparse.BooleanOptionalAction, default=None,
                       help="follow links out of the indexed folders (and serve what they point at); remembered")
    index.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                       help="decode and embed on a Ray cluster: alone, a local one; or auto, HOST:PORT, ray://HOST:PORT")
    index.add_argument("--ray-workers", type=int, metavar="N", help="--ray: encoder actors (default: one per GPU)")
    index.add_argument("--ocr", nargs="?", const=DEFAULT_OCR, metavar="ENGINE",
                       help=f"also read the text in the pictures, for `clipdex search --text-in-image` (default engine "
                            f"{DEFAULT_OCR}; or {', '.join(ENGINES[1:])}); remembered")
    index.add_argument("--no-ocr", action="store_true", help="stop reading the text of new pictures")
    index.add_argument("--locate", action="store_true",
                       help="also prepare each picture to show where a query is in it (36 encoder passes a picture, "
                            "once), so that `search --locate` answers without reading files; remembered")
    index.add_argument("--no-locate", action="store_true", help="stop preparing new pictures to show where")
    index.set_defaults(func=cmd_index)

    reindex = sub.add_parser("reindex", parents=flags.of("collection", "encoder", "quiet"),
                             help="re-embed the collection with another model (--model), side by side, then switch")
    reindex.set_defaults(func=cmd_reindex)

    rebuild = sub.add_parser("rebuild-index", parents=flags.of("collection", "index", "json"),
                             help="rebuild the vector index from the stored vectors (no re-embedding)")
    rebuild.set_defaults(func=cmd_rebuild_index)

    index_texts = sub.add_parser("index-texts", parents=flags.of("collection", "encoder"), help="add texts for image->text search")
    index_texts.add_argument("file", nargs="?", help=".txt (a text per line), .csv (a 'text' column) or .jsonl")
    index_texts.add_argument("--rebuild", action="store_true",
                             help="embed every text again into a new text index (when it was damaged or lost)")
    index_texts.set_defaults(func=cmd_index_texts)
