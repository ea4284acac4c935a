"""`clipdex search`, `duplicates` and `classify`: what comes out of a collection (or of images).

A text search's encoder starts before the collection opens (start_early_encoder): most of
a cold search is Python importing (SQLAlchemy, the index layer) and ONNX Runtime opening
the text tower, and ONNX Runtime opens it in C++ without holding the GIL, so the two run
at the same time on two cores. The model is known then without SQLAlchemy (the command
line, the settings, or the collection's SQLite file read by the standard library:
indexer/data_dir.py), and only an encoder built from its ONNX export starts early
(building a PyTorch model would import torch where the command may not need it). The
search takes it only where the recipe it resolves itself, once the collection is open,
is the same (model, backend, device, caches); otherwise it builds its own, as before.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from dataclasses import dataclass

from api.cli.common import (
    UsageError,
    encoder_factory,
    files_encoder,
    model_spec,
    open_collection,
    read_pictures,
    require_indexed,
    resolve_data_dir,
    show_path,
)
from api.settings import Settings
from indexer.data_dir import recorded_model
from retrieval.encoders import Encoder, EncoderRecipe
from retrieval.images.decode import ImageError, read_image_file
from retrieval.locate.methods import METHODS

MAX_K = 10_000

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EarlyEncoder:
    recipe: EncoderRecipe
    encoder: Encoder

    def taken_by(self, recipe: EncoderRecipe) -> Encoder | None:
        """The encoder, where ``recipe`` is the one it was built by; else None."""
        return self.encoder if recipe == self.recipe else None


def start_early_encoder(args, settings: Settings) -> EarlyEncoder | None:
    """The encoder of a `clipdex search "TEXT"`, its text tower opening in a thread; None
    where the command is no text search, its model cannot be known before the collection
    opens, or the model has no ONNX export to build from."""
    if getattr(args, "command", None) != "search" or not getattr(args, "query", None) or args.image:
        return None
    try:
        data_dir = resolve_data_dir(args, settings)
    except UsageError:
        return None  # the search itself says so
    spec = args.model or settings.model
    if not spec and not (args.db_url or settings.database_url):  # (a database elsewhere is read by SQLAlchemy)
        spec = recorded_model(data_dir)
    if not spec:
        return None
    recipe = encoder_factory(spec, args, settings)
    try:
        encoder = recipe.cached()
    except Exception as exc:  # noqa: BLE001 (the search builds its encoder again and reports what fails)
        log.debug("no early encoder: %s", exc)
        return None
    if encoder is None:
        return None
    encoder.open_soon("text")
    return EarlyEncoder(recipe, encoder)


def _read_query_image(path: str, settings: Settings):
    try:
        return read_image_file(path, settings.max_image_pixels).image
    except ImageError as exc:
        raise UsageError(f"{path}: {exc}") from None


def _print_hits(hits, captions: dict) -> None:
    for hit in hits:
        reranked = f"  (re-rank {hit.rerank_score:.4f})" if hit.rerank_score is not None else ""
        reranked += f"  (hybrid {hit.hybrid_score:.4f})" if hit.hybrid_score is not None else ""
        reranked += f"  (text {hit.text_score:.2f})" if hit.text_score is not None else ""
        print(f"{hit.score:.4f}  {show_path(hit.path)}{reranked}")
        for region in hit.regions:
            print(f"        \"{region.label}\" at {', '.join(f'{v:.0f}' for v in region.box)} ({region.method})")
        if hit.file_id in captions:
            print(f"        {captions[hit.file_id]}")


def _hit_json(hit, captions: dict, with_captions: bool) -> dict:
    out = {**hit.__dict__, "path": show_path(hit.path), "regions": [r.as_dict() for r in hit.regions]}
    return out | ({"caption": captions.get(hit.file_id)} if with_captions else {})


def _search_text_in_images(args, collection, encoder) -> list:
    from indexer.ocr import search_text_in_images

    if args.image or args.rerank or args.hybrid:
        raise UsageError("--text-in-image goes alone or with a text query; not with --image, --rerank or --hybrid")
    vector = encoder().embed_texts([args.query])[0] if args.query else None
    return search_text_in_images(collection, args.text_in_image, args.k, query_vector=vector)


def _encoder(args, settings: Settings, spec: str):
    """The search's encoder, built when first called: the one whose text tower started to
    open with the command (start_early_encoder) where it was built by the same recipe."""
    recipe = encoder_factory(spec, args, settings)
    early = getattr(args, "early_encoder", None)
    encoder = early.taken_by(recipe) if early is not None else None
    return (lambda: encoder) if encoder is not None else functools.cache(recipe)


def cmd_search(args, settings: Settings) -> int:
    collection = open_collection(args, settings)
    require_indexed(collection)
    spec = model_spec(args, settings, collection)
    collection.check_model(spec)
    if args.k < 1 or args.k > MAX_K:
        raise UsageError(f"-k must be between 1 and {MAX_K}")
    if args.locate and not args.query:
        raise UsageError("--locate shows where a text query is in each hit: give a query")
    encoder = _encoder(args, settings, spec)
    if args.text_in_image is not None:
        hits = _search_text_in_images(args, collection, encoder)
        return _show(args, settings, collection, hits, "no picture holds that text", encoder)
    if bool(args.query) == bool(args.image):
        raise UsageError("give either a text query or --image PATH (or --text-in-image TEXT)")
    picture = _read_query_image(args.image, settings) if args.image else None
    if picture is not None:
        query = encoder().embed_images([picture])
    else:
        query = encoder().embed_texts([args.query])
    if args.hybrid and (args.image or args.rerank):
        raise UsageError("--hybrid ranks text searches by image and caption similarity; not with --image or --rerank")
    if args.rerank and args.image:
        raise UsageError("--rerank re-orders text searches (a cross-encoder reads the query text)")
    if args.rerank:
        from api.services import reranker_from
        from indexer.search import rerank_hits

        spec = args.reranker or settings.reranker
        if not spec:
            raise UsageError("--rerank needs a re-ranker: --reranker MODEL or CLIPDEX_RERANKER (ViLT or BLIP ITM)")
        depth = settings.rerank_depth  # only the first hits are re-scored: a cross-encoder is slow
        shortlist = collection.search(query, max(args.k, depth))[0]
        reranker = reranker_from(settings, spec, device=args.device)
        hits = (rerank_hits(reranker, args.query, shortlist[:depth], settings.max_image_pixels)
                + shortlist[depth:])[: args.k]
    elif args.hybrid:
        from indexer.search import hybrid_search
        from indexer.texts import TextCollection

        hits = hybrid_search(collection, TextCollection(collection), query[0], args.k, weight=args.caption_weight)
    else:
        hits = collection.search(query, args.k)[0]
    return _show(args, settings, collection, hits, "no results: the collection has no indexed images", encoder)


def _locate(args, settings: Settings, collection, hits: list, encoder) -> None:
    from api.services import dense_locator
    from indexer.search import locate_hits
    from retrieval.locate import LocateError

    try:
        locator = dense_locator(settings, encoder, args.locate_method, collection)
    except LocateError as exc:
        raise UsageError(str(exc)) from None
    for file_id, error in locate_hits(hits, locator, encoder.embed_texts([args.query])[0], args.query,
                                      settings.max_image_pixels, collection).items():
        print(f"warning: not located in image {file_id}: {error}", file=sys.stderr)


def _show(args, settings: Settings, collection, hits: list, none_found: str, encoder) -> int:
    if args.locate and hits:
        _locate(args, settings, collection, hits, encoder())
    captions = {}
    if args.caption and hits:
        from api.cli.captions import caption_search_hits

        captions = {i: r.caption or f"(no caption: {r.error})" for i, r in
                    caption_search_hits(args, settings, collection, hits).items()}
    if args.json:
        print(json.dumps([_hit_json(h, captions, args.caption) for h in hits], default=str))
        return 0
    _print_hits(hits, captions)
    if not hits:
        print(none_found, file=sys.stderr)
    return 0


def cmd_duplicates(args, settings: Settings) -> int:
    collection = open_collection(args, settings)
    if not 0.0 <= args.threshold <= 1.0:
        raise UsageError("--threshold must be between 0 and 1")
    groups = collection.duplicates(args.threshold)
    if args.json:
        print(json.dumps([[{"path": show_path(h.path), "score": h.score, "id": h.file_id} for h in g] for g in groups]))
        return 0
    for number, group in enumerate(groups, 1):
        print(f"group {number}: {len(group)} files")
        for hit in group:
            print(f"  {hit.score:.4f}  {show_path(hit.path)}")
    print(f"{len(groups)} groups of near-duplicates (similarity >= {args.threshold})", file=sys.stderr)
    return 0


def cmd_classify(args, settings: Settings) -> int:
    from retrieval.zero_shot import ZeroShotError, check_labels, classify, label_vectors
    from retrieval.zero_shot import ranked as rank_labels

    try:
        labels, templates = check_labels(args.labels, args.templates)
    except ZeroShotError as exc:
        raise UsageError(str(exc)) from None
    pictures, names = read_pictures(args.images, settings, "images")
    encoder = files_encoder(args, settings)
    probabilities = classify(encoder.embed_images(pictures), label_vectors(encoder, labels, templates), encoder.logit_scale)
    results = []
    for name, row in zip(names, probabilities):
        ranked = rank_labels(labels, row)
        results.append({"path": name, "labels": [{"label": label, "probability": p} for label, p in ranked]})
        if not args.json:
            top = ", ".join(f"{label} {p:.3f}" for label, p in ranked[: args.top])
            print(f"{show_path(name)}: {top}")
    if args.json:
        print(json.dumps(results))
    return 0 if len(names) == len(args.images) else 1


def add_parsers(sub, flags) -> None:
    search = sub.add_parser("search", parents=flags.of("collection", "encoder", "json"), help="text->image or image->image search")
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
    search.add_argument("--locate", action="store_true", help="show where in each hit the query is (a box)")
    search.add_argument("--locate-method", choices=METHODS,
                        help="how --locate finds it (default CLIPDEX_LOCATE_METHOD, else value; windows: slower, "
                        "far more often right)")
    search.add_argument("--text-in-image", metavar="TEXT",
                        help="pictures that show this text (read by `clipdex index --ocr`); forgives case, accents, "
                             "OCR's slips and parts of words; with a query too, ranked by its meaning among equal matches")
    search.set_defaults(func=cmd_search)

    duplicates = sub.add_parser("duplicates", parents=flags.of("collection", "json"), help="groups of near-duplicate images")
    duplicates.add_argument("--threshold", type=float, default=0.95, help="cosine similarity (default 0.95)")
    duplicates.set_defaults(func=cmd_duplicates)

    classify = sub.add_parser("classify", parents=flags.of("collection", "encoder", "json"), help="zero-shot labels for images")
    classify.add_argument("images", nargs="+", help="image files")
    classify.add_argument("--labels", nargs="+", required=True, help="candidate labels")
    classify.add_argument("--templates", nargs="+", help='prompt templates with one "{}" (default: an ensemble)')
    classify.add_argument("--top", type=int, default=3, help="labels to print per image")
    classify.set_defaults(func=cmd_classify)
