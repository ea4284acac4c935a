"""`clipdex index-ocr` and `clipdex ocr`: the text in pictures, read for a collection or for files."""

from __future__ import annotations

import json
import sys

from api.cli.common import UsageError, open_collection, require_indexed, show_path
from api.services import ocr_options
from api.settings import Settings
from retrieval.ocr import DEFAULT_OCR, ENGINES


def print_ocr_report(report) -> None:
    if report.read or report.dropped:
        print(f"read the text of {report.read} pictures ({report.with_text} with text, {report.failed} failed) "
              f"with {report.engine} in {report.seconds:.1f}s")
    else:
        print(f"text: every picture already read ({report.engine})")
    for path, error in report.failures[:10]:
        print(f"warning: {show_path(path)}: {error}", file=sys.stderr)
    if report.failed > 10:
        print(f"... and {report.failed - 10} more: see `clipdex status`", file=sys.stderr)


def cmd_index_ocr(args, settings: Settings) -> int:
    from indexer.ocr import read_collection_texts, remembered_engine

    collection = open_collection(args, settings)
    require_indexed(collection)
    spec = args.ocr or settings.ocr or remembered_engine(collection) or DEFAULT_OCR
    report = read_collection_texts(collection, spec, ocr_options(settings, args.workers, progress=not args.quiet))
    if args.json:
        print(json.dumps({k: v for k, v in report.__dict__.items()}, default=str))
        return 0
    print_ocr_report(report)
    return 0


def cmd_ocr(args, settings: Settings) -> int:
    from retrieval.images.decode import ImageError, read_image_file
    from retrieval.ocr import full_text, load_ocr_engine

    engine = load_ocr_engine(args.ocr or settings.ocr or DEFAULT_OCR,
                             device=None if settings.device == "auto" else settings.device)
    results, failed = [], 0
    for path in args.files:
        try:
            lines = engine.read(read_image_file(path, settings.max_image_pixels).image)
        except (ImageError, ValueError, RuntimeError) as exc:
            print(f"{show_path(path)}: {exc}", file=sys.stderr)
            failed += 1
            continue
        results.append({"path": show_path(path), "text": full_text(lines), "lines": [r.as_dict() for r in lines]})
        if not args.json:
            print(f"{show_path(path)}:")
            for line in lines:
                print(f"  {line.score if line.score is not None else 0:.2f}  {line.label}")
    if args.json:
        print(json.dumps({"engine": engine.name, "files": results}))
    if failed and not results:
        raise UsageError("none of the pictures could be read")
    return 1 if failed else 0


def add_parsers(sub, flags) -> None:
    engines = f"{DEFAULT_OCR} (default), {', '.join(ENGINES[1:])}"
    index_ocr = sub.add_parser("index-ocr", parents=flags.of("collection", "json", "quiet"),
                               help="read the text in the collection's pictures (what is not read yet)")
    index_ocr.add_argument("--ocr", metavar="ENGINE", help=f"OCR engine: {engines}; remembered")
    index_ocr.add_argument("--workers", type=int, help="OCR worker processes (default: one per core)")
    index_ocr.set_defaults(func=cmd_index_ocr)

    ocr = sub.add_parser("ocr", help="print the text in pictures (with boxes and confidences in --json)")
    ocr.add_argument("files", nargs="+", help="image files")
    ocr.add_argument("--ocr", metavar="ENGINE", help=f"OCR engine: {engines}")
    ocr.add_argument("--json", action="store_true", help="machine-readable output")
    ocr.set_defaults(func=cmd_ocr)
