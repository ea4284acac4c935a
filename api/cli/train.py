"""`clipdex train` and `datasets`: training dual encoders on data people have or generate."""

from __future__ import annotations

from api.cli.common import UsageError
from api.settings import Settings


def cmd_train(args, settings: Settings) -> int:
    if args.steps is not None and args.steps < 1:
        raise UsageError("--steps must be at least 1")
    if args.steps and not args.native_kernels:
        from api.cpu_kernels import pin_kernels, pin_torch

        unpinned = pin_kernels(every_vendor=True)  # before torch is imported
        if unpinned:
            print(f"note: {unpinned}; another kind of CPU may train another model")
        pin_torch()
    from indexer.training_data import TrainingDataError, load_pairs
    from retrieval.training import EvalData, TrainConfig, TrainingError, train

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
            device=args.device, max_seconds=args.minutes * 60 if args.minutes else None, max_steps=args.steps,
            progress=not args.quiet,
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


def cmd_datasets_shapes(args, settings: Settings) -> int:
    from api.demo import write_scenes

    if args.count < 1:
        raise UsageError("--count must be at least 1")
    if not 0 <= args.colourless <= 1:
        raise UsageError("--colourless is a share between 0 and 1")
    written = write_scenes(args.out, args.count, args.split, seed=args.seed, colourless=args.colourless)
    print(f"wrote {len(written)} {args.split} scenes with captions to {args.out}")
    return 0


def cmd_datasets_text(args, settings: Settings) -> int:
    import json
    import os

    from retrieval.datasets.text_scenes import FontsMissing, make_text_scenes, write_text_scenes

    if args.count < 1:
        raise UsageError("--count must be at least 1")
    if not 0.0 <= args.text_share <= 1.0:
        raise UsageError("--text-share must be between 0 and 1")
    try:
        scenes = make_text_scenes(args.count, seed=args.seed, text_share=args.text_share)
    except FontsMissing as exc:
        raise UsageError(str(exc)) from None
    write_text_scenes(args.out, scenes)
    with open(os.path.join(args.out, "queries.jsonl"), "w", encoding="utf-8") as handle:
        for scene in scenes:
            handle.write(json.dumps({"file": scene.name + ".jpg", "lines": scene.lines, "rotation": scene.rotation,
                                     "queries": scene.queries}, ensure_ascii=False) + "\n")
    print(f"wrote {len(scenes)} pictures ({sum(bool(s.lines) for s in scenes)} with text) to {args.out}, "
          f"and what to search for in each to {os.path.join(args.out, 'queries.jsonl')}")
    return 0


def add_parsers(sub, flags) -> None:
    train = sub.add_parser("train", parents=flags.of("device", "batch_size", "quiet"), help="train or fine-tune a dual encoder")
    train.add_argument("data", help="folder with .txt sidecars, class folders, .csv/.jsonl, or shapes:N")
    train.add_argument("--out", required=True, help="model folder to write (resumes if it holds a run)")
    train.add_argument("--arch", help="open_clip architecture to train from scratch, e.g. clipdex-small")
    train.add_argument("--from", dest="base", help="model spec to fine-tune")
    train.add_argument("--finetune", choices=("full", "proj", "last", "lora"), default="full",
                       help="what to train when fine-tuning: everything, the projections, the last blocks, "
                            "or LoRA adapters (merged into the weights when saved)")
    train.add_argument("--epochs", type=int, default=10, help="passes over the data (default 10)")
    train.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default 0.001)")
    train.add_argument("--minutes", type=float, help="stop after this long (checkpointed)")
    train.add_argument("--steps", type=int, help="train this many steps (more epochs if need be), on CPU kernels "
                                                 "every x86-64 CPU computes alike: an Intel and an AMD machine "
                                                 "train the same model, at 2.4x the time a step")
    train.add_argument("--native-kernels", action="store_true",
                       help="with --steps: the kernels torch picks for this CPU (faster; another CPU may differ)")
    train.add_argument("--eval", help="held-out data to evaluate on after each epoch")
    train.set_defaults(func=cmd_train)

    datasets = sub.add_parser("datasets", help="generate data sets")
    kinds = datasets.add_subparsers(dest="dataset", required=True)
    shapes = kinds.add_parser("shapes", help="captioned scenes of coloured shapes (PNG + .txt)")
    shapes.add_argument("out", help="folder to write")
    shapes.add_argument("--count", type=int, default=1000, help="scenes to write (default 1000)")
    shapes.add_argument("--split", choices=("train", "test", "all", "heldout"), default="train",
                        help="train never shows the held-out colour x shape pairs; test and all show every "
                             "pair (all: other scenes, as the demo's captioner learns from)")
    shapes.add_argument("--seed", type=int, default=0, help="the same seed writes the same scenes")
    shapes.add_argument("--colourless", type=float, default=0.0, metavar="SHARE",
                        help="this share of the scenes in grey, captioned without colours: a model trained with "
                             "0.25 tells shape from colour on pairs it never saw (default 0)")
    shapes.set_defaults(func=cmd_datasets_shapes)
    text = kinds.add_parser("text", help="pictures with words, codes and numbers in them (JPEG), some turned, and "
                                         "queries.jsonl: what to search for in each (`clipdex search --text-in-image`)")
    text.add_argument("out", help="folder to write")
    text.add_argument("--count", type=int, default=200, help="pictures to write (default 200)")
    text.add_argument("--text-share", type=float, default=0.8, help="share of pictures that hold text")
    text.add_argument("--seed", type=int, default=0, help="the same seed writes the same pictures")
    text.set_defaults(func=cmd_datasets_text)
