"""`clipdex serve` and `demo`: the HTTP API and web page, and the offline demo."""

from __future__ import annotations

import argparse
import os

from api.cli.common import open_collection
from api.settings import Settings


def cmd_serve(args, settings: Settings) -> int:
    import uvicorn

    from api.http.app import create_app

    collection = open_collection(args, settings, must_exist=False)
    data_dir = collection.data_dir
    collection.close()
    overrides = {"model": args.model or settings.model}
    for flag, setting in (("api_key", "api_key"), ("db_url", "database_url"), ("device", "device"),
                          ("batch_size", "batch_size"), ("backend", "backend"), ("ocr", "ocr"),
                          ("captioner", "captioner"), ("reranker", "reranker")):
        if getattr(args, flag, None):
            overrides[setting] = getattr(args, flag)
    served = settings.model_copy(update=overrides)
    host, port = args.host or settings.host, args.port or settings.port
    print(f"serving {data_dir} on http://{host}:{port}/ (API docs at /docs)", flush=True)
    uvicorn.run(create_app(served, data_dir), host=host, port=port, log_level="warning")
    return 0


def cmd_demo(args, settings: Settings) -> int:
    from api.demo import default_work_dir, run_demo

    work = os.path.abspath(args.work or default_work_dir())
    print(f"clipdex demo in {work} (offline: the model is trained here, on generated data)")
    summary = run_demo(work, minutes=args.minutes, train_count=args.scenes, caption_minutes=args.caption_minutes)
    print(f"\nexact caption ranked first for {summary['exact_top1']}/{summary['queries']} queries; "
          f"zero-shot right for {summary['zero_shot_correct']}/{summary['zero_shot_total']} unseen pairs; "
          f"captions named every object of {summary['captions_right']}/{summary['captions_shown']} hits")
    if args.serve:  # the demo's own model and captioner, so that the page's captions work offline
        args.data_dir, args.model = summary["data_dir"], summary["model"]
        return cmd_serve(args, settings.model_copy(update={"captioner": summary["captioner"]}))
    print(f"try: clipdex search \"a large red circle\" --caption --captioner {summary['captioner']} "
          f"--data-dir {summary['data_dir']}")
    return 0


def add_parsers(sub, flags) -> None:
    serve = sub.add_parser("serve", parents=flags.of("collection", "encoder"), help="serve the HTTP API and web page")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8000)")
    serve.add_argument("--api-key", help="API key for endpoints that change state (or CLIPDEX_API_KEY)")
    serve.add_argument("--captioner", help="captioner for captions and answers (or CLIPDEX_CAPTIONER)")
    serve.add_argument("--reranker", help="ViLT or BLIP ITM model for `rerank` (or CLIPDEX_RERANKER)")
    serve.add_argument("--ocr", metavar="ENGINE",
                       help="OCR engine the re-index job reads new pictures with (or CLIPDEX_OCR; default: the "
                            "collection's)")
    serve.set_defaults(func=cmd_serve)

    demo = sub.add_parser("demo", help="offline demo: generate, train, index, search")
    demo.add_argument("--work", help="where to keep the demo (default ~/.cache/clipdex/demo)")
    demo.add_argument("--minutes", type=float, default=5.0, help="training time budget")
    demo.add_argument("--scenes", type=int, default=20000, help="generated training scenes")
    demo.add_argument("--caption-minutes", type=float,
                      help="captioner training time budget (default: half of --minutes, at most 2)")
    demo.add_argument("--serve", action="store_true", help="then serve the API and web page on it")
    demo.add_argument("--host", help="--serve: address to bind (default 127.0.0.1)")
    demo.add_argument("--port", type=int, help="--serve: port (default 8000)")
    demo.add_argument("--api-key", help="--serve: API key for endpoints that change state")
    demo.add_argument("--data-dir", help=argparse.SUPPRESS)
    demo.add_argument("--db-url", help=argparse.SUPPRESS)
    demo.add_argument("--model", help=argparse.SUPPRESS)
    demo.set_defaults(func=cmd_demo)
