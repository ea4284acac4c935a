"""How much int8 (ONNX Runtime static quantization of the image tower) changes search results of a trained model.

    python -m bench.int8_agreement [--minutes 3] [--scenes 500]

Random weights squeeze every score into a sliver (top-1 and top-10 of a text query differ
by ~0.01 with random:ViT-B-32), so any perturbation reorders them; a trained model is the
fair test. This trains clipdex-small on generated scenes for --minutes (or reuses
--model), embeds --scenes held-out test scenes with the ONNX fp32 and int8 towers, and
reports the cosine between the two and the share of the fp32 top-10 that int8 keeps, for
the scenes' captions as text queries and the scenes themselves as image queries.
Prints a table and writes bench/results/int8_agreement.json.
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np

from bench.common import hub_offline, write_result


def top10_kept(queries_a, items_a, queries_b, items_b) -> float:
    first = np.argsort(-(queries_a @ items_a.T), axis=1)[:, :10]
    second = np.argsort(-(queries_b @ items_b.T), axis=1)[:, :10]
    return float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(first, second)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--scenes", type=int, default=500)
    parser.add_argument("--model", help="a trained model folder to use instead of training one")
    args = parser.parse_args()
    hub_offline()
    os.environ.setdefault("CLIPDEX_ONNX_CACHE", tempfile.mkdtemp(prefix="clipdex-int8-onnx-"))

    from retrieval.datasets.shapes import make_split
    from retrieval.encoders.backend import make_encoder
    from retrieval.models import load_model
    from retrieval.training import TrainConfig, train

    model_dir = args.model
    if not model_dir:
        model_dir = tempfile.mkdtemp(prefix="clipdex-int8-model-")
        images, captions, _ = make_split(20000, 0, "train")
        train(images, captions, model_dir, arch="clipdex-small",
              config=TrainConfig(epochs=40, batch_size=128, lr=1e-3, max_seconds=args.minutes * 60, progress=False))
    loaded = load_model(model_dir)
    images, captions, _ = make_split(args.scenes, 7, "test", distinct=True)
    vectors, texts = {}, {}
    for backend in ("onnx", "onnx-int8"):
        encoder = make_encoder(loaded, backend, device="cpu", batch_size=128)
        vectors[backend], texts[backend] = encoder.embed_images(images), encoder.embed_texts(captions)
    fp32, int8 = vectors["onnx"], vectors["onnx-int8"]
    result = {
        "model": "clipdex-small trained on generated scenes" if not args.model else args.model,
        "scenes": args.scenes,
        "image_cosine_min": float(np.min(np.sum(fp32 * int8, axis=1))),
        "text_cosine_min": float(np.min(np.sum(texts["onnx"] * texts["onnx-int8"], axis=1))),
        "top10_kept_text_queries": top10_kept(texts["onnx"], fp32, texts["onnx-int8"], int8),
        "top10_kept_image_queries": top10_kept(fp32, fp32, int8, int8),
        "fp32_text_to_image_r1": float(np.mean(np.argmax(texts["onnx"] @ fp32.T, axis=1) == np.arange(args.scenes))),
        "int8_text_to_image_r1": float(np.mean(np.argmax(texts["onnx-int8"] @ int8.T, axis=1) == np.arange(args.scenes))),
    }
    for key, value in result.items():
        print(f"{key:28s} {value if isinstance(value, (str, int)) else f'{value:.4f}'}")
    write_result("int8_agreement.json", result, indent=1)


if __name__ == "__main__":
    main()
