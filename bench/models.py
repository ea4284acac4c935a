"""Throughput of each dual-encoder backend on this machine, tiny and base sizes, random weights.

    python -m bench.models [--images 64] [--texts 256] [--sizes tiny base]

Rows: open_clip (random:clipdex-tiny, random:ViT-B-32), open_clip through ONNX Runtime,
and the transformers classes CLIPModel, AlignModel, SiglipModel (tiny configs as the
tests build them; base = each class's default configuration: CLIP ViT-B/32, ALIGN
EfficientNet-B7 + BERT-base, SigLIP base/16). images/s: the image tower on pre-made
tensors of the model's input size; texts/s: tokenize + text tower. Prints a table and
writes bench/results/models.json.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import os
import sys
import tempfile
import time

from bench.common import ROOT, hub_offline, table_header, table_line, write_result

TEXTS = ["a photo of a dog on the beach", "two red cars in a city street at night", "a bowl of fruit",
         "mountains under snow", "a child playing football", "an old church", "a cat asleep", "a plate of pasta"]


@functools.cache
def tiny_transformers():
    """tests/tiny_transformers.py, the tests' tiny-model builders. tests/ is no package (pytest
    adds it to the import path), so the file is loaded by its path, and the import path is
    left alone."""
    spec = importlib.util.spec_from_file_location("tiny_transformers", os.path.join(ROOT, "tests", "tiny_transformers.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def rate(work, items: int, repeats: int = 3) -> float:
    work()  # warm-up
    best = 0.0
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        best = max(best, items / (time.perf_counter() - started))
    return best


def measure(encoder, images: int, texts: int, batch: int) -> dict:
    import torch

    pixels = torch.randn(batch, 3, encoder.loaded.image_size, encoder.loaded.image_size)
    batches = max(1, images // batch)
    words = (TEXTS * (texts // len(TEXTS) + 1))[:texts]
    params = sum(p.numel() for p in encoder.model.parameters()) / 1e6 if encoder.model is not None else None
    return {
        "images_per_s": rate(lambda: [encoder.embed_pixels(pixels) for _ in range(batches)], batches * batch),
        "texts_per_s": rate(lambda: encoder.embed_texts(words), texts),
        "embed_dim": encoder.dim, "image_size": encoder.loaded.image_size, "params_m": params,
    }


def transformers_base(kind: str, folder: str) -> str:
    """A class's default (base-size) configuration with random weights, saved with a
    small tokenizer of the kind it uses (the vocabulary's size barely changes the cost)."""
    import transformers as hf

    tiny = tiny_transformers()
    if kind == "clip":
        tokenizer = tiny._clip_tokenizer(folder)
        config = hf.CLIPConfig(text_config={"vocab_size": len(tokenizer), "bos_token_id": len(tokenizer) - 2,
                                            "eos_token_id": len(tokenizer) - 1, "pad_token_id": len(tokenizer) - 1})
        processor = hf.CLIPProcessor(image_processor=hf.CLIPImageProcessor(), tokenizer=tokenizer)
        model = hf.CLIPModel(config)
    elif kind == "align":
        tokenizer = tiny._bert_tokenizer(folder)
        config = hf.AlignConfig(text_config={"vocab_size": len(tokenizer)})
        processor = hf.AlignProcessor(image_processor=hf.EfficientNetImageProcessor(
            size={"height": 289, "width": 289}, crop_size={"height": 289, "width": 289}), tokenizer=tokenizer)
        model = hf.AlignModel(config)
    else:
        tokenizer = hf.SiglipTokenizer(tiny._sentencepiece_model(folder), model_max_length=64)
        config = hf.SiglipConfig(text_config={"vocab_size": len(tokenizer)})
        processor = hf.SiglipProcessor(image_processor=hf.SiglipImageProcessor(), tokenizer=tokenizer)
        model = hf.SiglipModel(config)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--texts", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sizes", nargs="+", default=["tiny", "base"], choices=["tiny", "base"])
    args = parser.parse_args()
    hub_offline()

    import torch

    from retrieval.encoders.backend import make_encoder
    from retrieval.models import load_model

    work = tempfile.mkdtemp(prefix="clipdex-models-")
    os.environ.setdefault("CLIPDEX_ONNX_CACHE", os.path.join(work, "onnx"))
    specs = []
    for size in args.sizes:
        arch = "clipdex-tiny" if size == "tiny" else "ViT-B-32"
        specs += [(size, "open_clip", f"random:{arch}", "torch"), (size, "open_clip (ONNX Runtime)", f"random:{arch}", "onnx")]
        for kind in ("clip", "align", "siglip"):
            folder = os.path.join(work, f"{kind}-{size}")
            if size == "tiny":
                tiny_transformers().BUILDERS[kind](folder)
            else:
                transformers_base(kind, folder)
            specs.append((size, f"transformers {kind}", f"transformers:{folder}", "torch"))

    rows = []
    print(f"{os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}, batch {args.batch_size}")
    columns = [("size", "5s", "size"), ("backend", "26s", "backend"), ("dim", "5d", "embed_dim"),
               ("image", "5d", "image_size"),
               ("params", ">8s", lambda row: f"{row['params_m']:.1f}M" if row["params_m"] else "-"),
               ("images/s", "9.1f", "images_per_s"), ("texts/s", "9.1f", "texts_per_s")]
    print(table_header(columns))
    for size, backend, spec, engine in specs:
        encoder = make_encoder(load_model(spec), engine, device="cpu", batch_size=args.batch_size)
        row = {"size": size, "backend": backend, "engine": encoder.backend, **measure(encoder, args.images, args.texts,
                                                                                      args.batch_size)}
        rows.append(row)
        print(table_line(columns, row), flush=True)
    write_result("models.json", {"cpus": os.cpu_count(), "batch_size": args.batch_size, "rows": rows}, indent=1)


if __name__ == "__main__":
    main()
