"""`clipdex locate` and `clipdex detect`: where in pictures a phrase is, or which labels are
where; from the dual encoder's own patch tokens, or from a VLM (--vlm)."""

from __future__ import annotations

import json
import os

from api.cli.common import UsageError, files_encoder, read_pictures, show_path
from api.services import dense_locator, load_captioner_from, vlm_locator
from api.settings import Settings
from retrieval.locate.methods import METHODS


def _write_drawn(out: str, path: str, picture, regions, heat=None) -> str:
    from retrieval.regions import draw_regions, overlay_heatmap

    os.makedirs(out, exist_ok=True)
    drawn = draw_regions(overlay_heatmap(picture, heat) if heat is not None else picture, regions)
    target = os.path.join(out, os.path.splitext(os.path.basename(path))[0] + ".located.png")
    drawn.save(target)
    return target


def _report(args, names, pictures, found: list[list], heats: list | None, what: str) -> int:
    results = []
    for number, (name, picture, regions) in enumerate(zip(names, pictures, found)):
        item = {"path": show_path(name), "width": picture.width, "height": picture.height,
                "regions": [r.as_dict() for r in regions]}
        if args.out:
            item["drawn"] = _write_drawn(args.out, name, picture, regions, heats[number] if heats else None)
        results.append(item)
        if not args.json:
            print(f"{show_path(name)}:" + ("" if regions else f" no {what} found"))
            for region in regions:
                score = f"  {region.score:.3f}" if region.score is not None else ""
                print(f"  {region.label}: {', '.join(f'{v:.0f}' for v in region.box)}{score}")
    if args.json:
        print(json.dumps(results))
    return 0 if len(names) == len(args.images) else 1


def cmd_locate(args, settings: Settings) -> int:
    from retrieval.locate import LocateError

    pictures, names = read_pictures(args.images, settings)
    try:
        if args.vlm:
            found = vlm_locator(load_captioner_from(settings, args.vlm, args.device)).locate(pictures, args.phrase)
            return _report(args, names, pictures, found, None, args.phrase)
        encoder = files_encoder(args, settings)
        locator = dense_locator(settings, encoder, args.method)
        located = locator.locate(pictures, encoder.embed_texts([args.phrase]), [args.phrase])
    except LocateError as exc:
        raise UsageError(str(exc)) from None
    return _report(args, names, pictures, [[p.region] for p in located], [p.heat for p in located], args.phrase)


def cmd_detect(args, settings: Settings) -> int:
    from retrieval.locate import LocateError

    pictures, names = read_pictures(args.images, settings)
    labels = [label.strip() for label in args.labels if label.strip()]
    if not labels:
        raise UsageError("give the labels to detect: --labels cat dog")
    try:
        if args.vlm:
            found = vlm_locator(load_captioner_from(settings, args.vlm, args.device)).detect(pictures, labels)
        else:
            encoder = files_encoder(args, settings)
            locator = dense_locator(settings, encoder, args.method)
            found = locator.detect(pictures, encoder.embed_texts(labels), labels, encoder.logit_scale)
    except LocateError as exc:
        raise UsageError(str(exc)) from None
    return _report(args, names, pictures, found, None, "label")


METHOD_HELP = ("how the dual encoder finds it (default CLIPDEX_LOCATE_METHOD, else value): value, qq, tokens read "
               "its patch tokens in one pass; windows shows it windows of the picture, 44 passes, far more often right")


def add_parsers(sub, flags) -> None:
    vlm_help = "locate with this VLM instead (Florence-2, PaliGemma, Qwen-VL: transformers:ORG/NAME or a folder)"
    locate = sub.add_parser("locate", parents=flags.of("collection", "encoder", "json"), help="where in pictures a phrase is: a box and a heat map")
    locate.add_argument("phrase", help='what to find, e.g. "a red car"')
    locate.add_argument("images", nargs="+", help="image files")
    locate.add_argument("--out", help="write each picture with its box and heat map drawn into this folder")
    locate.add_argument("--method", choices=METHODS, help=METHOD_HELP)
    locate.add_argument("--vlm", metavar="CAPTIONER", help=vlm_help)
    locate.set_defaults(func=cmd_locate)

    detect = sub.add_parser("detect", parents=flags.of("collection", "encoder", "json"), help="zero-shot detection: where each label is in pictures")
    detect.add_argument("images", nargs="+", help="image files")
    detect.add_argument("--labels", nargs="+", required=True, help="what to detect")
    detect.add_argument("--out", help="write each picture with its boxes drawn into this folder")
    detect.add_argument("--method", choices=METHODS, help=METHOD_HELP)
    detect.add_argument("--vlm", metavar="CAPTIONER", help=vlm_help)
    detect.set_defaults(func=cmd_detect)
