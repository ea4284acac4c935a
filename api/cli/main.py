"""The `clipdex` command: index folders, search them, show a collection's status."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from sqlalchemy.exc import DBAPIError

from api.cli.common import UsageError
from api.settings import Settings, get_settings, index_config
from indexer.collection.collection import Collection, CollectionError, ModelMismatch, default_data_dir, find_data_dir
from indexer.store.files import StoreError
from retrieval.models.loading import DEFAULT_MODEL, BadModelSpec, ModelNotAvailable
from retrieval.index.vector_index import IndexFileError

log = logging.getLogger("clipdex")

_RECENT_FILE = os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "clipdex", "last_collection"
)


def _remember(data_dir: str) -> None:
    try:
        os.makedirs(os.path.dirname(_RECENT_FILE), exist_ok=True)
        with open(_RECENT_FILE, "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write(data_dir)
    except OSError:
        pass  # only a convenience


def _recent() -> str | None:
    try:
        with open(_RECENT_FILE, encoding="utf-8", errors="surrogateescape") as handle:
            path = handle.read().strip()
    except OSError:
        return None
    return path if os.path.isdir(path) else None


def resolve_data_dir(args, settings: Settings, folders: list[str] | None = None) -> str:
    """--data-dir, then CLIPDEX_DATA_DIR, then FOLDER/.clipdex, then the nearest .clipdex
    above the current folder, then the collection indexed last."""
    chosen = getattr(args, "data_dir", None) or settings.data_dir
    if chosen:
        return os.path.abspath(chosen)
    if folders:
        first = folders[0] if os.path.isdir(folders[0]) else os.path.dirname(os.path.abspath(folders[0]))
        return default_data_dir(first)
    found = find_data_dir() or _recent()
    if not found:
        raise UsageError("no collection found: run `clipdex index FOLDER` first, or pass --data-dir")
    return found


def _open(args, settings: Settings, folders=None, must_exist=True) -> Collection:
    data_dir = resolve_data_dir(args, settings, folders)
    if must_exist and not os.path.isdir(data_dir):
        raise UsageError(f"no collection at {data_dir}: run `clipdex index FOLDER --data-dir {data_dir}`")
    config = index_config(settings, kind=getattr(args, "index_type", None), shards=getattr(args, "shards", None),
                          memory_mb=getattr(args, "memory_mb", None), nprobe=getattr(args, "nprobe", None))
    return Collection(data_dir, args.db_url or settings.database_url, config)


def _model_spec(args, settings: Settings, collection: Collection) -> str:
    return args.model or settings.model or collection.model_spec or DEFAULT_MODEL


def _encoder_factory(spec: str, args, settings: Settings):
    def build():
        from retrieval.encoders.backend import make_encoder
        from retrieval.models.loading import load_model

        log.info("loading model %s", spec)
        loaded = load_model(spec, cache_dir=settings.model_cache_dir)
        backend = getattr(args, "backend", None) or settings.backend
        return make_encoder(loaded, backend, device=args.device or settings.device,
                            batch_size=args.batch_size or settings.batch_size)

    return build


def cmd_index(args, settings: Settings) -> int:
    from indexer.ingest.run import IndexOptions, index_folders

    collection = _open(args, settings, args.folders, must_exist=False)
    spec = _model_spec(args, settings, collection)
    options = IndexOptions(
        batch_size=args.batch_size or settings.batch_size,
        num_workers=args.workers if args.workers is not None else settings.num_workers,
        max_pixels=settings.max_image_pixels,
        checkpoint_seconds=settings.checkpoint_seconds,
        progress=not args.quiet,
    )
    if args.ray:  # Ray is imported only on this path
        from indexer.ingest.ray_pass import RayOptions, index_folders_ray

        ray_options = RayOptions(address=args.ray, workers=args.ray_workers)
        report = index_folders_ray(collection, args.folders, spec, _encoder_factory(spec, args, settings), options,
                                   ray_options)
    else:
        report = index_folders(collection, args.folders, spec, _encoder_factory(spec, args, settings), options)
    if report.up_to_date and collection.embed_dim and (args.index_type or args.shards or args.memory_mb):
        with collection.writer_lock():  # nothing to index, but the index settings changed: apply them now
            collection.load_index(repair=True)
            collection.save_index()
    _remember(collection.data_dir)
    if args.json:
        print(json.dumps({**report.__dict__, "data_dir": collection.data_dir}, default=str))
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
        print(f"warning: {_show(path)}: {reason}", file=sys.stderr)
    if report.failed:
        print(f"{report.failed} files could not be indexed: see `clipdex status`", file=sys.stderr)
    if report.captions_dropped:
        print(f"{report.captions_dropped} captions of changed or removed files were dropped: "
              f"`clipdex index-captions` captions what changed", file=sys.stderr)
    return 0


def _show(path: str) -> str:
    """A path printable on any terminal, whatever bytes its name holds."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def cmd_search(args, settings: Settings) -> int:
    from retrieval.images.decode import ImageError, decode_image

    collection = _open(args, settings)
    if collection.model_spec is None:
        raise UsageError(f"the collection at {collection.data_dir} is empty: run `clipdex index FOLDER` first")
    spec = _model_spec(args, settings, collection)
    collection.check_model(spec)
    if bool(args.query) == bool(args.image):
        raise UsageError("give either a text query or --image PATH")
    if args.k < 1 or args.k > 10_000:
        raise UsageError("-k must be between 1 and 10000")
    if args.image:
        try:
            with open(args.image, "rb") as handle:
                decoded = decode_image(handle.read(), max_pixels=settings.max_image_pixels)
        except OSError as exc:
            raise UsageError(f"cannot read {args.image}: {exc.strerror or exc}") from None
        except ImageError as exc:
            raise UsageError(f"{args.image}: {exc}") from None
    encoder = _encoder_factory(spec, args, settings)()
    if args.image:
        query = encoder.embed_images([decoded.image])
    else:
        query = encoder.embed_texts([args.query])
    if args.hybrid and (args.image or args.rerank):
        raise UsageError("--hybrid ranks text searches by image and caption similarity; not with --image or --rerank")
    if args.rerank and args.image:
        raise UsageError("--rerank re-orders text searches (a cross-encoder reads the query text)")
    if args.rerank:
        from indexer.search.rerank import rerank_hits
        from retrieval.cross_encoder import Reranker

        spec = args.reranker or settings.reranker
        if not spec:
            raise UsageError("--rerank needs a re-ranker: --reranker MODEL or CLIPDEX_RERANKER (ViLT or BLIP ITM)")
        depth = settings.rerank_depth  # only the first hits are re-scored: a cross-encoder is slow
        shortlist = collection.search(query, max(args.k, depth))[0]
        reranker = Reranker(spec, device=args.device or settings.device, cache_dir=settings.model_cache_dir)
        hits = (rerank_hits(reranker, args.query, shortlist[:depth], settings.max_image_pixels)
                + shortlist[depth:])[: args.k]
    elif args.hybrid:
        from indexer.search.hybrid import hybrid_search
        from indexer.texts.collection import TextCollection

        hits = hybrid_search(collection, TextCollection(collection), query[0], args.k, weight=args.caption_weight)
    else:
        hits = collection.search(query, args.k)[0]
    captions = {}
    if args.caption and hits:
        from api.cli.captions import caption_hits

        captions = {i: r.caption or f"(no caption: {r.error})" for i, r in
                    caption_hits(args, settings, collection, hits).items()}
    if args.json:
        print(json.dumps([{**h.__dict__, "path": _show(h.path), **({"caption": captions.get(h.file_id)}
                                                                   if args.caption else {})} for h in hits],
                         default=str))
        return 0
    for hit in hits:
        reranked = f"  (re-rank {hit.rerank_score:.4f})" if hit.rerank_score is not None else ""
        reranked += f"  (hybrid {hit.hybrid_score:.4f})" if hit.hybrid_score is not None else ""
        print(f"{hit.score:.4f}  {_show(hit.path)}{reranked}")
        if hit.file_id in captions:
            print(f"        {captions[hit.file_id]}")
    if not hits:
        print("no results: the collection has no indexed images", file=sys.stderr)
    return 0


def cmd_status(args, settings: Settings) -> int:
    collection = _open(args, settings)
    counts = collection.store.counts()
    failures = collection.store.failures()
    index = collection.load_index() if collection.embed_dim else None
    vectors = len(index) if index is not None else 0
    info = {
        "data_dir": collection.data_dir,
        "model": collection.model_spec,
        "embed_dim": collection.embed_dim,
        "roots": [_show(r) for r in collection.store.roots()],
        "indexed": counts["ok"],
        "failed": counts["failed"],
        "pending": counts["pending"],
        "vectors": vectors,
        "index": index.describe() if index is not None else None,
        "failures": [{"path": _show(p), "error": e} for p, e in failures],
    }
    if args.json:
        print(json.dumps(info))
        return 0
    print(f"collection: {info['data_dir']}")
    print(f"model:      {info['model'] or '(none yet)'}  ({info['embed_dim'] or '?'} dims)")
    print(f"folders:    {', '.join(info['roots']) or '(none)'}")
    print(f"indexed:    {info['indexed']}   failed: {info['failed']}   pending: {info['pending']}   vectors: {vectors}")
    if index is not None:
        described = info["index"]
        lists = f", {described['lists']} lists, nprobe {described['nprobe']}" if described["lists"] else ""
        print(f"index:      {described['type']}{lists}, {described['shards']} shard(s)")
    reasons: dict[str, int] = {}
    for failure in info["failures"]:
        reasons[failure["error"]] = reasons.get(failure["error"], 0) + 1
    for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
        print(f"  {n:6d}  {reason}")
    for failure in info["failures"][: args.show_failed]:
        print(f"  failed: {failure['path']}: {failure['error']}")
    return 0


def cmd_reindex(args, settings: Settings) -> int:
    from indexer.ingest.run import IndexOptions
    from indexer.reindex import reindex_with_model

    if not args.model:
        raise UsageError("give the new model: clipdex reindex --model SPEC")
    args.new_model = args.model
    collection = _open(args, settings)
    if collection.model_spec is None:
        raise UsageError(f"the collection at {collection.data_dir} is empty: run `clipdex index FOLDER` first")
    old = collection.model_spec
    options = IndexOptions(batch_size=args.batch_size or settings.batch_size, num_workers=settings.num_workers,
                           max_pixels=settings.max_image_pixels, checkpoint_seconds=settings.checkpoint_seconds,
                           progress=not args.quiet)
    report = reindex_with_model(collection, args.new_model, _encoder_factory(args.new_model, args, settings), options)
    print(f"re-embedded {report.embedded} images ({report.failed} failed) with {args.new_model} and switched "
          f"{collection.data_dir} to it (was {old})")
    return 0


def cmd_rebuild_index(args, settings: Settings) -> int:
    import time

    collection = _open(args, settings)
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


def cmd_duplicates(args, settings: Settings) -> int:
    collection = _open(args, settings)
    if not 0.0 <= args.threshold <= 1.0:
        raise UsageError("--threshold must be between 0 and 1")
    groups = collection.duplicates(args.threshold)
    if args.json:
        print(json.dumps([[{"path": _show(h.path), "score": h.score, "id": h.file_id} for h in g] for g in groups]))
        return 0
    for number, group in enumerate(groups, 1):
        print(f"group {number}: {len(group)} files")
        for hit in group:
            print(f"  {hit.score:.4f}  {_show(hit.path)}")
    print(f"{len(groups)} groups of near-duplicates (similarity >= {args.threshold})", file=sys.stderr)
    return 0


def cmd_models(args, settings: Settings) -> int:
    from retrieval.models.catalogue import catalogue

    rows = catalogue(settings.model_cache_dir)
    if args.json:
        print(json.dumps(rows))
        return 0
    print(f"{'model spec':52s} {'dim':>5s} {'image':>5s} {'params':>8s} {'ImageNet':>8s} {'offline':>7s}  note")
    for row in rows:
        accuracy = f"{row['imagenet_zero_shot'] * 100:.1f}%" if row["imagenet_zero_shot"] else "-"
        params = f"{row['params_m']:.0f}M" if row["params_m"] else "-"
        print(f"{row['spec']:52s} {row['embed_dim'] or '-':>5} {row['image_size'] or '-':>5} {params:>8s} "
              f"{accuracy:>8s} {'yes' if row['offline'] else 'no':>7s}  {row['note']}")
    print("ImageNet: published zero-shot top-1 (OpenCLIP's benchmark); offline: weights in the local cache."
          " Any open_clip ARCH/TAG, hf-hub:, transformers: spec or model folder works too.")
    return 0


def cmd_export_onnx(args, settings: Settings) -> int:
    from retrieval.models.loading import load_model
    from retrieval.encoders.onnx_export import OnnxExportError, cache_dir_for, exported

    spec = args.model_spec
    loaded = load_model(spec, cache_dir=settings.model_cache_dir)
    try:
        for precision in ("fp32", "int8") if args.int8 else ("fp32",):
            paths = exported(loaded, precision)
            print(f"{precision}: {paths['image']}, {paths['text']}")
    except (ImportError, OnnxExportError) as exc:
        raise UsageError(f"cannot export {spec}: {exc}") from None
    print(f"cached in {cache_dir_for(loaded.spec)}; used by --backend onnx (or auto on a CPU)")
    return 0


def cmd_serve(args, settings: Settings) -> int:
    import uvicorn

    from api.http.app import create_app

    collection = _open(args, settings, must_exist=False)
    data_dir = collection.data_dir
    collection.close()
    overrides = {"model": args.model or settings.model}
    for flag, setting in (("api_key", "api_key"), ("db_url", "database_url"), ("device", "device"),
                          ("batch_size", "batch_size"), ("backend", "backend")):
        if getattr(args, flag, None):
            overrides[setting] = getattr(args, flag)
    served = settings.model_copy(update=overrides)
    host, port = args.host or settings.host, args.port or settings.port
    print(f"serving {data_dir} on http://{host}:{port}/ (API docs at /docs)", flush=True)
    uvicorn.run(create_app(served, data_dir), host=host, port=port, log_level="warning")
    return 0


def cmd_classify(args, settings: Settings) -> int:
    from retrieval.images.decode import ImageError, decode_image
    from retrieval.zero_shot import ZeroShotError, check_labels, classify, label_vectors, logit_scale
    from retrieval.zero_shot import ranked as rank_labels

    try:
        labels, templates = check_labels(args.labels, args.templates)
    except ZeroShotError as exc:
        raise UsageError(str(exc)) from None
    spec = args.model or settings.model or DEFAULT_MODEL
    if not args.model and not settings.model:
        try:
            collection = _open(args, settings)
            spec = collection.model_spec or spec
        except UsageError:
            pass  # no collection: classify with the default model
    pictures, names = [], []
    for path in args.images:
        try:
            with open(path, "rb") as handle:
                pictures.append(decode_image(handle.read(), max_pixels=settings.max_image_pixels).image)
            names.append(path)
        except OSError as exc:
            print(f"{path}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        except ImageError as exc:
            print(f"{path}: {exc}", file=sys.stderr)
    if not pictures:
        raise UsageError("none of the images could be read")
    encoder = _encoder_factory(spec, args, settings)()
    probabilities = classify(encoder.embed_images(pictures), label_vectors(encoder, labels, templates), logit_scale(encoder))
    results = []
    for name, row in zip(names, probabilities):
        ranked = rank_labels(labels, row)
        results.append({"path": name, "labels": [{"label": l, "probability": p} for l, p in ranked]})
        if not args.json:
            top = ", ".join(f"{l} {p:.3f}" for l, p in ranked[: args.top])
            print(f"{_show(name)}: {top}")
    if args.json:
        print(json.dumps(results))
    return 0 if len(names) == len(args.images) else 1


def cmd_index_texts(args, settings: Settings) -> int:
    from indexer.texts.collection import TextCollection, TextFileError, read_text_file

    if not args.file and not args.rebuild:
        raise UsageError("give a file of texts to add, or --rebuild")
    collection = _open(args, settings)
    spec = _model_spec(args, settings, collection)
    collection.check_model(spec)
    texts = []
    if args.file:
        try:
            texts = read_text_file(args.file)
        except TextFileError as exc:
            raise UsageError(str(exc)) from None
        if not texts:
            raise UsageError(f"{args.file} holds no texts")
    encoder = _encoder_factory(spec, args, settings)()
    collection_texts = TextCollection(collection)
    if args.rebuild:
        print(f"embedded {collection_texts.rebuild(encoder)} texts again into a new text index")
    if texts:
        ids = collection_texts.add(texts, encoder, source=os.path.abspath(args.file))
        print(f"added {len(ids)} texts from {args.file}")
    return 0


def cmd_datasets_shapes(args, settings: Settings) -> int:
    from api.demo import write_scenes

    if args.count < 1:
        raise UsageError("--count must be at least 1")
    written = write_scenes(args.out, args.count, args.split, seed=args.seed)
    print(f"wrote {len(written)} {args.split} scenes with captions to {args.out}")
    return 0


def cmd_train(args, settings: Settings) -> int:
    from indexer.training_data import TrainingDataError, load_pairs
    from retrieval.training.contrastive import EvalData, TrainConfig, TrainingError, train

    if bool(args.arch) == bool(args.base):
        raise UsageError("give --arch ARCH to train a new model or --from MODEL to fine-tune one")
    try:
        pairs = load_pairs(args.data, settings.max_image_pixels)
        evaluation = None
        if args.eval:
            held = load_pairs(args.eval, settings.max_image_pixels)
            evaluation = EvalData(held.images, held.captions, labels=held.classes, targets=held.targets)
        config = TrainConfig(
            epochs=args.epochs, batch_size=args.batch_size or 128, lr=args.lr, finetune=args.finetune,
            device=args.device, max_seconds=args.minutes * 60 if args.minutes else None, progress=not args.quiet,
        )
        result = train(pairs.images, pairs.captions, args.out, arch=args.arch, base=args.base, config=config,
                       eval_data=evaluation, groups=pairs.targets)  # class folders: a class's pairs are positives
    except (TrainingDataError, TrainingError) as exc:
        raise UsageError(str(exc)) from None
    for record in result.history:
        metrics = "  ".join(f"{k} {v:.3f}" for k, v in record.items() if k not in ("epoch", "step", "seconds"))
        print(f"epoch {record['epoch']:3d}  step {record['step']:6d}  {metrics}")
    print(f"model written to {result.out_dir}: use it as --model {result.out_dir}")
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clipdex", description="Search image folders by meaning.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", help="collection data dir (default: FOLDER/.clipdex)")
    common.add_argument("--db-url", help="SQLAlchemy database URL (default: SQLite in the data dir)")
    common.add_argument("--model", help=f"model spec (default: the collection's, else {DEFAULT_MODEL})")
    common.add_argument("--device", help="auto, cpu, cuda, cuda:1, mps")
    common.add_argument("--backend", choices=("auto", "torch", "onnx", "onnx-int8"),
                        help="inference backend (default auto: ONNX Runtime on a CPU when installed)")
    common.add_argument("--batch-size", type=int, help="images per model batch")
    common.add_argument("--json", action="store_true", help="machine-readable output")
    common.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    sub = parser.add_subparsers(dest="command", required=True)

    index_flags = argparse.ArgumentParser(add_help=False)
    index_flags.add_argument("--index-type", choices=("auto", "flat", "ivf", "ivfpq"),
                             help="vector index type (default auto: by collection size); remembered")
    index_flags.add_argument("--shards", type=int, help="split the index into N shards; remembered")
    index_flags.add_argument("--memory-mb", type=int, help="memory budget of the index (auto type); remembered")

    index = sub.add_parser("index", parents=[common, index_flags], help="index folders (incremental)")
    index.add_argument("folders", nargs="*", help="folders or files (default: the collection's folders)")
    index.add_argument("--workers", type=int, help="decode worker processes")
    index.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                       help="decode and embed on a Ray cluster: alone, a local one; or auto, HOST:PORT, ray://HOST:PORT")
    index.add_argument("--ray-workers", type=int, metavar="N", help="--ray: encoder actors (default: one per GPU)")
    index.set_defaults(func=cmd_index)

    search = sub.add_parser("search", parents=[common], help="text->image or image->image search")
    search.add_argument("query", nargs="?", help="text to search for")
    search.add_argument("--image", help="search by an image file instead of text")
    search.add_argument("-k", type=int, default=10, help="number of results")
    search.add_argument("--nprobe", type=int, help="IVF lists to search (more: better recall, slower)")
    search.add_argument("--rerank", action="store_true", help="re-order the top hits with a cross-encoder")
    search.add_argument("--reranker", help="ViLT or BLIP ITM model for --rerank (or CLIPDEX_RERANKER)")
    search.add_argument("--caption", action="store_true", help="caption the hits (cached in the collection)")
    search.add_argument("--hybrid", action="store_true",
                        help="rank by image and caption similarity together (after `clipdex index-captions`)")
    search.add_argument("--caption-weight", type=float, default=0.5, help="--hybrid: the captions' share (0..1)")
    search.add_argument("--captioner", help="captioner for --caption (or CLIPDEX_CAPTIONER)")
    search.set_defaults(func=cmd_search)

    status = sub.add_parser("status", parents=[common], help="counts, failures and model of a collection")
    status.add_argument("--show-failed", type=int, default=20, metavar="N", help="list N failed files")
    status.set_defaults(func=cmd_status)

    reindex = sub.add_parser("reindex", parents=[common], help="re-embed the collection with another model (--model), side by side, then switch")
    reindex.set_defaults(func=cmd_reindex)

    rebuild = sub.add_parser("rebuild-index", parents=[common, index_flags],
                             help="rebuild the vector index from the stored vectors (no re-embedding)")
    rebuild.set_defaults(func=cmd_rebuild_index)

    duplicates = sub.add_parser("duplicates", parents=[common], help="groups of near-duplicate images")
    duplicates.add_argument("--threshold", type=float, default=0.95, help="cosine similarity (default 0.95)")
    duplicates.set_defaults(func=cmd_duplicates)

    models = sub.add_parser("models", help="known models: size, accuracy, whether they are cached here")
    models.add_argument("--json", action="store_true", help="machine-readable output")
    models.set_defaults(func=cmd_models)

    export = sub.add_parser("export-onnx", help="export a model's towers to ONNX (fp32, --int8 too), cached")
    export.add_argument("model_spec", metavar="MODEL", help="model spec, e.g. ViT-B-32/laion2b_s34b_b79k")
    export.add_argument("--int8", action="store_true", help="also write int8-quantized towers")
    export.set_defaults(func=cmd_export_onnx)

    serve = sub.add_parser("serve", parents=[common], help="serve the HTTP API and web page")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8000)")
    serve.add_argument("--api-key", help="API key for endpoints that change state (or CLIPDEX_API_KEY)")
    serve.set_defaults(func=cmd_serve)

    classify = sub.add_parser("classify", parents=[common], help="zero-shot labels for images")
    classify.add_argument("images", nargs="+", help="image files")
    classify.add_argument("--labels", nargs="+", required=True, help="candidate labels")
    classify.add_argument("--templates", nargs="+", help='prompt templates with one "{}" (default: an ensemble)')
    classify.add_argument("--top", type=int, default=3, help="labels to print per image")
    classify.set_defaults(func=cmd_classify)

    index_texts = sub.add_parser("index-texts", parents=[common], help="add texts for image->text search")
    index_texts.add_argument("file", nargs="?", help=".txt (a text per line), .csv (a 'text' column) or .jsonl")
    index_texts.add_argument("--rebuild", action="store_true",
                             help="embed every text again into a new text index (when it was damaged or lost)")
    index_texts.set_defaults(func=cmd_index_texts)

    datasets = sub.add_parser("datasets", help="generate data sets")
    kinds = datasets.add_subparsers(dest="dataset", required=True)
    shapes = kinds.add_parser("shapes", help="captioned scenes of coloured shapes (PNG + .txt)")
    shapes.add_argument("out", help="folder to write")
    shapes.add_argument("--count", type=int, default=1000)
    shapes.add_argument("--split", choices=("train", "test", "heldout"), default="train",
                        help="train never shows the held-out colour x shape pairs")
    shapes.add_argument("--seed", type=int, default=0)
    shapes.set_defaults(func=cmd_datasets_shapes)

    train = sub.add_parser("train", parents=[common], help="train or fine-tune a dual encoder")
    train.add_argument("data", help="folder with .txt sidecars, class folders, .csv/.jsonl, or shapes:N")
    train.add_argument("--out", required=True, help="model folder to write (resumes if it holds a run)")
    train.add_argument("--arch", help="open_clip architecture to train from scratch, e.g. clipdex-small")
    train.add_argument("--from", dest="base", help="model spec to fine-tune")
    train.add_argument("--finetune", choices=("full", "proj", "last", "lora"), default="full",
                       help="what to train when fine-tuning: everything, the projections, the last blocks, "
                            "or LoRA adapters (merged into the weights when saved)")
    train.add_argument("--epochs", type=int, default=10)
    train.add_argument("--lr", type=float, default=1e-3)
    train.add_argument("--minutes", type=float, help="stop after this long (checkpointed)")
    train.add_argument("--eval", help="held-out data to evaluate on after each epoch")
    train.set_defaults(func=cmd_train)

    from api.cli.captions import add_parsers as add_caption_parsers

    add_caption_parsers(sub, common)

    demo = sub.add_parser("demo", help="offline demo: generate, train, index, search")
    demo.add_argument("--work", help="where to keep the demo (default ~/.cache/clipdex/demo)")
    demo.add_argument("--minutes", type=float, default=5.0, help="training time budget")
    demo.add_argument("--scenes", type=int, default=20000, help="generated training scenes")
    demo.add_argument("--caption-minutes", type=float,
                      help="captioner training time budget (default: half of --minutes, at most 2)")
    demo.add_argument("--serve", action="store_true", help="then serve the API and web page on it")
    demo.add_argument("--host")
    demo.add_argument("--port", type=int)
    demo.add_argument("--api-key")
    demo.add_argument("--data-dir", help=argparse.SUPPRESS)
    demo.add_argument("--db-url", help=argparse.SUPPRESS)
    demo.add_argument("--model", help=argparse.SUPPRESS)
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Our own progress lines at INFO; the chatter of open_clip and faiss only when it matters.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    for name in ("clipdex", "indexer", "retrieval", "api"):
        logging.getLogger(name).setLevel(logging.WARNING if getattr(args, "quiet", False) else logging.INFO)
    try:
        return args.func(args, get_settings())
    except (
        UsageError, ModelMismatch, BadModelSpec, ModelNotAvailable, CollectionError,
        IndexFileError, StoreError, FileNotFoundError, ValueError,
    ) as exc:
        print(f"clipdex: error: {exc}", file=sys.stderr)
        return 2
    except DBAPIError as exc:  # the database went away (server down, network, disk full)
        reason = str(exc.orig or exc).strip().splitlines()[0][:300]
        print(f"clipdex: error: the database failed ({reason}); what was saved before is kept: run the same "
              f"command again when the database is reachable", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("clipdex: interrupted; run the same command again to finish", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
