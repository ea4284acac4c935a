"""`clipdex status`, `models` and `export-onnx`: what a collection and this machine hold."""

from __future__ import annotations

import json

from api.cli.common import UsageError, open_collection, show_path
from api.settings import Settings, onnx_cache_dir


def cmd_status(args, settings: Settings) -> int:
    from indexer.store import FAILED, OK, PENDING  # SQLAlchemy: loaded by the commands that use it

    collection = open_collection(args, settings)
    counts = collection.store.counts()
    failures = collection.store.failures()
    index = collection.load_index() if collection.embed_dim else None
    vectors = len(index) if index is not None else 0
    info = {
        "data_dir": collection.data_dir,
        "model": collection.model_spec,
        "embed_dim": collection.embed_dim,
        "roots": [show_path(r) for r in collection.store.roots()],
        "follow_links": collection.follows_links(),
        "indexed": counts[OK],
        "failed": counts[FAILED],
        "pending": counts[PENDING],
        "vectors": vectors,
        "index": index.describe() if index is not None else None,
        "failures": [{"path": show_path(p), "error": e} for p, e in failures],
        "ocr": _ocr_status(collection),
    }
    if args.json:
        print(json.dumps(info))
        return 0
    print(f"collection: {info['data_dir']}")
    print(f"model:      {info['model'] or '(none yet)'}  ({info['embed_dim'] or '?'} dims)")
    links = "  (links out of them followed: --follow-links)" if info["follow_links"] else ""
    print(f"folders:    {', '.join(info['roots']) or '(none)'}{links}")
    print(f"indexed:    {info['indexed']}   failed: {info['failed']}   pending: {info['pending']}   vectors: {vectors}")
    if index is not None:
        described = info["index"]
        lists = f", {described['lists']} lists, nprobe {described['nprobe']}" if described["lists"] else ""
        print(f"index:      {described['type']}{lists}, {described['shards']} shard(s)")
    if info["ocr"] is not None:
        ocr = info["ocr"]
        reading = f"new pictures read with {ocr['engine']}" if ocr["engine"] else "new pictures not read (--no-ocr)"
        print(f"text:       {ocr['read']} pictures read, {ocr['with_text']} with text, {ocr['failed']} failed "
              f"({ocr['engine_name']}); {reading}")
        for failure in ocr["failures"][: args.show_failed]:
            print(f"  text failed: {failure['path']}: {failure['error']}")
    reasons: dict[str, int] = {}
    for failure in info["failures"]:
        reasons[failure["error"]] = reasons.get(failure["error"], 0) + 1
    for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
        print(f"  {n:6d}  {reason}")
    for failure in info["failures"][: args.show_failed]:
        print(f"  failed: {failure['path']}: {failure['error']}")
    return 0


def _ocr_status(collection) -> dict | None:
    """What the collection's OCR engine has read; None when it never read any text."""
    from indexer.ocr import engine_name, remembered_engine
    from indexer.store.ocr_texts import OcrTexts

    name = engine_name(collection)
    if name is None:
        return None
    texts = OcrTexts(collection.store)
    return {"engine": remembered_engine(collection), "engine_name": name, **texts.counts(name),
            "failures": [{"path": show_path(p), "error": e} for p, e in texts.failures(name)]}


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
    from retrieval.encoders.onnx_export import OnnxExportError, cache_dir_for, exported
    from retrieval.models import load_model

    spec = args.model_spec
    loaded = load_model(spec, cache_dir=settings.model_cache_dir)
    try:
        for precision in ("fp32", "int8") if args.int8 else ("fp32",):
            paths = exported(loaded, precision, onnx_cache_dir(settings))
            print(f"{precision}: {paths['image']}, {paths['text']}")
    except (ImportError, OnnxExportError) as exc:
        raise UsageError(f"cannot export {spec}: {exc}") from None
    print(f"cached in {cache_dir_for(loaded.spec, onnx_cache_dir(settings))}; used by --backend onnx (or auto on a CPU)")
    if args.int8:
        _print_auto_precision(loaded, settings)
    return 0


def _print_auto_precision(loaded, settings: Settings) -> None:
    """Which precision auto embeds images with on this machine, measured now unless it was."""
    from retrieval.encoders.backend import MEASURED, measure_auto_precision

    entry = measure_auto_precision(loaded.spec, "cpu", settings.batch_size, onnx_cache=onnx_cache_dir(settings),
                                   load=lambda: loaded)
    if entry is not None:
        rates = entry["images_per_s"]
        print(f"auto on this CPU: {entry['precision']} (image tower int8 {rates['int8']:.1f} images/s, "
              f"fp32 {rates['fp32']:.1f}; vectors' least cosine {entry['min_cosine']:.4f}; "
              f"measured {entry['measured_at']})")
    if settings.auto_precision != MEASURED:
        print(f"(CLIPDEX_AUTO_PRECISION={settings.auto_precision}: auto uses {settings.auto_precision} whatever was measured)")


def add_parsers(sub, flags) -> None:
    status = sub.add_parser("status", parents=flags.of("collection", "json"), help="counts, failures and model of a collection")
    status.add_argument("--show-failed", type=int, default=20, metavar="N", help="list N failed files")
    status.set_defaults(func=cmd_status)

    models = sub.add_parser("models", help="known models: size, accuracy, whether they are cached here")
    models.add_argument("--json", action="store_true", help="machine-readable output")
    models.set_defaults(func=cmd_models)

    export = sub.add_parser("export-onnx", help="export a model's towers to ONNX (fp32, --int8 too), cached")
    export.add_argument("model_spec", metavar="MODEL", help="model spec, e.g. ViT-B-32/laion2b_s34b_b79k")
    export.add_argument("--int8", action="store_true", help="also write int8-quantized towers, and measure which precision auto embeds "
                        "images with on this CPU")
    export.set_defaults(func=cmd_export_onnx)
