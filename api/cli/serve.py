"""`clipdex serve` and `demo`: the HTTP API and web page, and the offline demo."""

from __future__ import annotations

import argparse
import json
import os

from api.cli.common import open_collection
from api.demo import CAPTION_EPOCHS, EPOCHS, SCENES
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
    say = (lambda *_: None) if args.json else print  # --json: the summary alone on stdout
    say(f"clipdex demo in {work} (offline: the model is trained here, on generated data)")
    summary = run_demo(work, scenes=args.scenes, epochs=args.epochs, caption_epochs=args.caption_epochs, say=say,
                       minutes=args.minutes, caption_minutes=args.caption_minutes)
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"\nexact caption ranked first for {summary['exact_top1']}/{summary['queries']} queries; "
              f"zero-shot right for {summary['zero_shot_correct']}/{summary['zero_shot_total']} unseen pairs; "
              f"captions named every object of {summary['captions_right']}/{summary['captions_shown']} hits "
              f"({summary['seconds']:.0f} s)")
    if args.serve:  # the demo's own model and captioner, so that the page's captions work offline
        args.data_dir, args.model = summary["data_dir"], summary["model"]
        return cmd_serve(args, settings.model_copy(update={"captioner": summary["captioner"]}))
    say(f"try: clipdex search \"a large red circle\" --caption --captioner {summary['captioner']} "
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
    demo.add_argument("--scenes", type=int, default=SCENES, help=f"generated training scenes (default {SCENES})")
    demo.add_argument("--epochs", type=int, default=EPOCHS,
                      help=f"passes over them training the model (default {EPOCHS}: a fixed number of steps, so "
                           "every machine prints the same answers; a slower one takes longer)")
    demo.add_argument("--caption-epochs", type=int, default=CAPTION_EPOCHS,
                      help=f"passes training the captioner (default {CAPTION_EPOCHS})")
    demo.add_argument("--minutes", type=float,
                      help="stop training the model after this many minutes (faster, but what the demo shows then "
                           "depends on the machine)")
    demo.add_argument("--caption-minutes", type=float,
                      help="the same for the captioner (default with --minutes: half of it, at most 2)")
    demo.add_argument("--json", action="store_true", help="print only the summary, as JSON")
    demo.add_argument("--serve", action="store_true", help="then serve the API and web page on it")
    demo.add_argument("--host", help="--serve: address to bind (default 127.0.0.1)")
    demo.add_argument("--port", type=int, help="--serve: port (default 8000)")
    demo.add_argument("--api-key", help="--serve: API key for endpoints that change state")
    demo.add_argument("--data-dir", help=argparse.SUPPRESS)
    demo.add_argument("--db-url", help=argparse.SUPPRESS)
    demo.add_argument("--model", help=argparse.SUPPRESS)
    demo.set_defaults(func=cmd_demo)
