"""clipdex's own captioner at inference: the frozen dual encoder's image features, then
the trained word decoder (greedy). A prompt, if given, is the start of every caption."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle

from retrieval.captioning.base import Captioner, CaptionerError
from retrieval.captioning.own_model import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    DecoderConfig,
    WordVocab,
    build_decoder,
    image_features,
    words_of,
)
from retrieval.encoders.devices import half_precision


class OwnCaptioner(Captioner):
    batch_size = 64

    def __init__(self, folder: str, device: str | None = None):
        import torch

        from retrieval.encoders.devices import pick_device
        from retrieval.models import load_model

        folder = os.path.abspath(folder)
        try:
            with open(os.path.join(folder, CONFIG_FILE), encoding="utf-8") as handle:
                meta = json.load(handle)
            with open(os.path.join(folder, WEIGHTS_FILE), "rb") as handle:
                weights = handle.read()
        except (OSError, ValueError) as exc:
            raise CaptionerError(f"{folder}: not a readable clipdex captioner ({exc})") from None
        if meta.get("kind") != "clipdex-captioner":
            raise CaptionerError(f"{folder}/{CONFIG_FILE} is not a clipdex captioner")
        self.device = pick_device(device)
        self.loaded = load_model(meta["encoder"])
        self.model = self.loaded.model.to(self.device).eval()
        try:
            self.vocab = WordVocab(meta["vocab"])
            self.decoder = build_decoder(DecoderConfig(**meta["decoder"]))
            self.decoder.load_state_dict(torch.load(io.BytesIO(weights), map_location="cpu", weights_only=True))
        except (KeyError, TypeError, RuntimeError, ValueError, pickle.UnpicklingError) as exc:
            raise CaptionerError(f"{folder}: a damaged or mismatched clipdex captioner ({exc})") from None
        self.decoder.to(self.device).eval()
        self.name = f"clipdex:{folder}@{hashlib.sha256(weights).hexdigest()[:12]}"

    def _generate(self, images: list, text: str | None, question: bool) -> list[str]:
        import torch

        words = words_of(text) if text else []
        unknown = sorted({w for w in words if w not in self.vocab.ids})
        if unknown:  # as <unk> they would only start every caption with "<unk>"
            raise ValueError(f"the prompt has words this captioner never saw in training: {', '.join(unknown[:10])}; "
                             f"start it with words of its training captions")
        start = [self.vocab.ids[w] for w in words] if words else None
        try:
            with torch.inference_mode(), half_precision(self.device):
                pixels = torch.stack([self.loaded.preprocess(image) for image in images]).to(self.device)
                embedding, tokens = image_features(self.model, pixels, self.decoder.config.tokens_from)
                ids = self.decoder.generate(self.decoder.memory(embedding, tokens), start=start)
        except RuntimeError as exc:  # out of memory, a device gone
            raise CaptionerError(f"{self.name}: generation failed: {exc}") from None
        return [self.vocab.decode(row) for row in ids.tolist()]
