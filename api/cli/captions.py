"""The CLI's captioning commands: `clipdex caption`, `clipdex train-captioner` and
`clipdex index-captions`, and the captions of `clipdex search --caption`."""

from __future__ import annotations

import json
import os
import sys

from api.cli.common import UsageError, encoder_factory, model_spec, open_collection, show_path
from api.services import load_captioner_from
from api.settings import Settings
from retrieval.captioning import CaptionerError


def load(args, settings: Settings):
    try:
        return load_captioner_from(settings, args.captioner, device=args.device)
    except CaptionerError as exc:
        raise UsageError(str(exc)) from None


def caption_search_hits(args, settings: Settings, collection, hits) -> dict:
    """{file id: caption result} for search hits, cached in the collection."""
    from indexer.captions import caption_files

    captioner = load(args, settings)
    try:
        return caption_files(collection.store, captioner, [h.file_id for h in hits],
                             max_pixels=settings.max_image_pixels)
    except CaptionerError as exc:
        raise UsageError(str(exc)) from None


def _files(paths: list[str]) -> list[str]:
    from indexer.ingest.scan import scan_folders

    files = []
    for path in paths:
        if os.path.isdir(path):
            files.extend(found.path for found in scan_folders([path]).files)
        else:
            files.append(path)
    return files


def cmd_caption(args, settings: Settings) -> int:
    """Caption (or answer a question about) image files; a bad file is reported, the rest go on."""
    from indexer.captions import caption_rows, read_images
    from indexer.collection import Collection, find_data_dir
    from indexer.ingest.decode import content_hash

    files = _files(args.paths)
    if not files:
        raise UsageError("no image files among the given paths")
    captioner = load(args, settings)
    rows, failed = [], {}
    for number, path in enumerate(files):
        try:
            with open(path, "rb") as handle:
                rows.append({"id": number, "path": path, "content_hash": content_hash(handle.read())})
        except OSError as exc:
            failed[number] = f"cannot read the file: {exc.strerror or exc}"
    try:
        if args.question:
            images, readable, errors = read_images(rows, settings.max_image_pixels)
            failed.update(errors)
            answers = dict(zip([r["id"] for r in readable], captioner.answer(images, args.question) if images else []))
        else:
            data_dir = args.data_dir or settings.data_dir or find_data_dir(os.path.dirname(os.path.abspath(files[0])))
            collection = Collection(data_dir, args.db_url or settings.database_url) if data_dir else None
            try:  # inside a collection, its caption cache is used
                results = caption_rows(collection.store if collection else None, captioner, rows, args.prompt,
                                       max_pixels=settings.max_image_pixels)
            finally:
                if collection is not None:
                    collection.close()
            failed.update({i: r.error for i, r in results.items() if r.error})
            answers = {i: r.caption for i, r in results.items() if not r.error}
    except CaptionerError as exc:
        raise UsageError(str(exc)) from None
    out = [{"path": show_path(path), "text": answers.get(number), "error": failed.get(number)}
           for number, path in enumerate(files)]
    if args.json:
        print(json.dumps(out))
    else:
        for item in out:
            if item["error"]:
                print(f"{item['path']}: error: {item['error']}", file=sys.stderr)
            else:
                print(f"{item['path']}\t{item['text']}")
    return 1 if failed else 0


def cmd_train_captioner(args, settings: Settings) -> int:
    from indexer.training_data import TrainingDataError, load_pairs
    from retrieval.models import DEFAULT_MODEL
    from retrieval.training import CaptionTrainConfig, train_captioner

    if not 0 <= args.dropout < 1:
        raise UsageError(f"--dropout {args.dropout:g}: it must be at least 0 and below 1")
    try:
        pairs = load_pairs(args.data, settings.max_image_pixels)
    except TrainingDataError as exc:
        raise UsageError(str(exc)) from None
    config = CaptionTrainConfig(epochs=args.epochs, batch_size=args.batch_size or 128, lr=args.lr, device=args.device,
                                dropout=args.dropout, max_seconds=args.minutes * 60 if args.minutes else None)
    encoder = args.model or settings.model or DEFAULT_MODEL

    def report(record: dict) -> None:
        if not args.quiet:
            print(f"epoch {record['epoch']:3d}  step {record['step']:6d}  loss {record['loss']:.3f}  "
                  f"({record['seconds']:.0f} s)", flush=True)

    result = train_captioner(pairs.images, pairs.captions, encoder, args.out, config, on_epoch=report)
    print(f"captioner written to {result.out_dir} ({result.steps} steps, {result.seconds:.0f} s): "
          f"use it as --captioner {result.out_dir}")
    return 0


def cmd_index_captions(args, settings: Settings) -> int:
    """Give every indexed image one caption text (image->text and hybrid search find them):
    new images get one, images whose caption is another captioner's, or of content that
    changed, get a new one, captions of files no longer indexed go."""
    from indexer.captions import sync_caption_texts

    collection = open_collection(args, settings)
    spec = model_spec(args, settings, collection)
    collection.check_model(spec)
    captioner = load(args, settings)
    try:
        report = sync_caption_texts(collection, captioner, encoder_factory(spec, args, settings), args.prompt,
                                    max_pixels=settings.max_image_pixels)
    except CaptionerError as exc:
        raise UsageError(str(exc)) from None
    print(f"indexed {report.added + report.replaced} captions ({report.added} new, {report.replaced} replaced, "
          f"{report.kept} unchanged, {report.removed} of files no longer indexed removed, "
          f"{report.failed} images could not be captioned)")
    return 1 if report.failed else 0


def add_parsers(sub, flags) -> None:
    caption = sub.add_parser("caption", parents=flags.of("collection", "device", "json"), help="caption images (or answer --question about them)")
    caption.add_argument("paths", nargs="+", help="image files or folders")
    caption.add_argument("--captioner", help="captioner spec (default: CLIPDEX_CAPTIONER, else BLIP base)")
    caption.add_argument("--prompt", help="how captions should begin, or a task token such as <DETAILED_CAPTION>")
    caption.add_argument("--question", help="answer this question about each image instead")
    caption.set_defaults(func=cmd_caption)

    train = sub.add_parser("train-captioner", parents=flags.of("model", "device", "batch_size", "quiet"),
                           help="train clipdex's own captioner on a dual encoder (--model) and captioned images")
    train.add_argument("data", help="folder with .txt sidecars, .csv/.jsonl, or shapes:N")
    train.add_argument("--out", required=True, help="captioner folder to write")
    train.add_argument("--epochs", type=int, default=30, help="passes over the data (default 30)")
    train.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default 0.001)")
    train.add_argument("--minutes", type=float, help="stop after this long (checkpointed each epoch)")
    train.add_argument("--dropout", type=float, default=0.1,
                       help="the decoder's dropout, from 0 to below 1 (default 0.1; 0 makes a CPU step about a "
                            "third cheaper, for runs too short to overfit)")
    train.set_defaults(func=cmd_train_captioner)

    index = sub.add_parser("index-captions", parents=flags.of("collection", "encoder"),
                           help="caption every indexed image and add the captions as texts (image->text search)")
    index.add_argument("--captioner", help="captioner spec (default: CLIPDEX_CAPTIONER)")
    index.add_argument("--prompt", help="how captions should begin")
    index.set_defaults(func=cmd_index_captions)
