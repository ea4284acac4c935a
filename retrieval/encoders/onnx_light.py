"""An ONNX export that embeds without torch: the model's input transform, tokenizer and
temperature, written beside the towers, so that a later process needs neither torch nor
open_clip (seconds to import, for one query) nor the PyTorch model (seconds to build).

`describe` is called at export time, with the model loaded: it writes down the transform
(pixel_transform.py) and the tokenizer (clip_bpe.py) only after checking that they give
exactly what the model's own give on probe pictures and texts. A model they do not
reproduce gets no description, and its exports are used through the PyTorch model as before.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from retrieval.images.pixel_transform import PixelTransform, UnsupportedTransform
from retrieval.models.clip_bpe import ClipBpeTokenizer
from retrieval.models.loaded import LoadedModel

LIGHT_KEY = "light"  # the description's key in the export's meta.json
CLIP_VOCAB_SIZE = 49408
PROBE_TEXTS = ["a photo of a dog", "Two RED cars, parked!", "  café &amp; crème brûlée 😀 ", "", "I'll've 1234 ½",
               "日本語のテキスト", "tab\tand\nnewline", "word " * 100]


def describe(loaded: LoadedModel, logit_scale: float) -> dict | None:
    """What a torch-free encoder of ``loaded`` needs, or None where it would not match."""
    model = loaded.model
    try:
        transform = PixelTransform.of_config(dict(model.visual.preprocess_cfg))
    except (UnsupportedTransform, AttributeError, KeyError, TypeError):
        return None
    tokenizer_cfg = _tokenizer_config(loaded.tokenizer)
    if tokenizer_cfg is None:
        return None
    try:
        tokenizer = ClipBpeTokenizer(**tokenizer_cfg)
    except (OSError, ImportError):
        return None
    if not _same_pixels(transform, loaded.preprocess) or not _same_tokens(tokenizer, loaded.tokenizer):
        return None
    return {"transform": transform.as_config(), "tokenizer": tokenizer_cfg, "logit_scale": float(logit_scale),
            "embed_dim": int(loaded.embed_dim), "image_size": int(loaded.image_size)}


def light_model(spec: str, description: dict) -> tuple[LoadedModel, float]:
    """(a LoadedModel without the torch model, the temperature) from a description."""
    loaded = LoadedModel(spec=spec, model=None, preprocess=PixelTransform.of_config(description["transform"]),
                         tokenizer=ClipBpeTokenizer(**description["tokenizer"]),
                         embed_dim=int(description["embed_dim"]), image_size=int(description["image_size"]))
    return loaded, float(description["logit_scale"])


def _tokenizer_config(tokenizer) -> dict | None:
    """The CLIP BPE tokenizer's settings (open_clip's SimpleTokenizer, maybe compact); None for others."""
    base = getattr(tokenizer, "base", tokenizer)  # a CompactTokenizer wraps open_clip's
    if type(base).__name__ != "SimpleTokenizer" or getattr(base, "reduction_fn", None) is not None:
        return None
    if getattr(base, "vocab_size", None) != CLIP_VOCAB_SIZE:  # extra special tokens
        return None
    token_ids = getattr(tokenizer, "token_ids", None) if tokenizer is not base else None
    return {"context_length": int(base.context_length), "token_ids": token_ids}


def _same_tokens(tokenizer: ClipBpeTokenizer, reference) -> bool:
    return np.array_equal(tokenizer(PROBE_TEXTS), np.asarray(reference(PROBE_TEXTS)))


def _probe_pictures() -> list[Image.Image]:
    rng = np.random.default_rng(0)
    sizes = [(640, 480), (480, 640), (225, 223), (31, 700), (3000, 3)]
    pictures = [Image.fromarray((rng.random((h, w, 3)) * 255).astype(np.uint8)) for w, h in sizes]
    return pictures + [pictures[0].convert("L"), pictures[1].convert("RGBA")]


def _same_pixels(transform: PixelTransform, reference) -> bool:
    for picture in _probe_pictures():
        mine, theirs = transform(picture), np.asarray(reference(picture))
        if mine.shape != theirs.shape or float(np.abs(mine - theirs).max()) > 1e-5:
            return False
    return True
