"""Re-ranking of a text query's top hits by an image–text matching cross-encoder.

A dual encoder scores a text and an image from separate vectors; a cross-encoder reads
both together and judges the pair, which is slower but sharper, so it re-orders only the
first few dozen hits. Models: ViLT (``ViltForImageAndTextRetrieval``) and BLIP ITM
(``BlipForImageTextRetrieval``), from a hub id or a local folder, with the same spec form
as the dual encoders: ``transformers:dandelin/vilt-b32-finetuned-coco`` or
``transformers:/a/local/dir``.
"""

from __future__ import annotations

import numpy as np

from retrieval.encoders.devices import pick_device
from retrieval.models import TRANSFORMERS_PREFIX, BadModelSpec

MODEL_CLASSES = {"vilt": "ViltForImageAndTextRetrieval", "blip": "BlipForImageTextRetrieval"}


class Reranker:
    def __init__(self, spec: str, device: str | None = None, batch_size: int = 16, cache_dir: str | None = None):
        import transformers
        from transformers import AutoConfig, AutoProcessor

        from retrieval.models.transformers_loader import local_folder

        if not spec.startswith(TRANSFORMERS_PREFIX):
            spec = TRANSFORMERS_PREFIX + spec
        folder = local_folder(spec[len(TRANSFORMERS_PREFIX):], cache_dir)
        model_type = AutoConfig.from_pretrained(folder).model_type
        if model_type not in MODEL_CLASSES:
            raise BadModelSpec(f"{spec!r} is a {model_type} model; re-rankers are ViLT or BLIP image-text matching")
        self.spec = spec
        self.kind = model_type
        self.device = pick_device(device)
        self.batch_size = batch_size
        self.model = getattr(transformers, MODEL_CLASSES[model_type]).from_pretrained(folder).to(self.device).eval()
        self.processor = AutoProcessor.from_pretrained(folder)

    def scores(self, text: str, images: list) -> np.ndarray:
        """How well each image matches ``text`` (higher is better), in the order given."""
        import torch

        out = []
        for start in range(0, len(images), self.batch_size):
            chunk = images[start:start + self.batch_size]
            inputs = self.processor(images=chunk, text=[text] * len(chunk), return_tensors="pt",
                                    padding=True, truncation=True).to(self.device)
            with torch.inference_mode():
                if self.kind == "vilt":
                    logits = self.model(**inputs).logits[:, 0]
                else:  # BLIP's matching head: (no match, match) logits
                    pair = self.model(**inputs, use_itm_head=True).itm_score
                    logits = pair[:, 1] - pair[:, 0]
            out.append(logits.float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    def rerank(self, text: str, hits: list, images: list) -> list[tuple[float, object]]:
        """(cross-encoder score, hit) pairs, best first; ``images[i]`` is the picture of ``hits[i]``."""
        scored = zip(self.scores(text, images).tolist(), range(len(hits)))
        return [(score, hits[i]) for score, i in sorted(scored, key=lambda pair: (-pair[0], pair[1]))]
