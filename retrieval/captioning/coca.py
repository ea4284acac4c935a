"""open_clip's CoCa as a captioner: a contrastive dual encoder with a text decoder on top,
so one model both embeds and captions. Spec after ``coca:`` is any open_clip model spec
(``coca_ViT-B-32/mscoco_finetuned_laion2b_s13b_b90k``, a local directory, ``random:ARCH``).

Decoding is greedy and done here: open_clip's ``CoCa.generate`` needs transformers 4
(it imports ``BeamSearchScorer``, which transformers 5 removed)."""

from __future__ import annotations

import re
import uuid

from retrieval.captioning.base import Captioner, CaptionerError
from retrieval.encoders.devices import half_precision

_SPECIAL = re.compile(r"<(start|end)_of_text>")
START, END = 49406, 49407  # open_clip's tokenizer: <start_of_text>, <end_of_text>


class CocaCaptioner(Captioner):
    def __init__(self, spec: str, device: str | None = None):
        from retrieval.encoders.devices import pick_device
        from retrieval.models import RANDOM_PREFIX, load_model, weights_fingerprint

        loaded = load_model(spec)
        if not hasattr(loaded.model, "generate") or not hasattr(loaded.model, "text_decoder"):
            raise CaptionerError(f"{spec!r} is not a CoCa model: it cannot generate text")
        self.loaded = loaded
        self.device = pick_device(device)
        self.model = loaded.model.to(self.device).eval()
        # Captions are cached under the name: it changes with the weights, and random weights
        # (tests) are new at every load.
        fingerprint = uuid.uuid4().hex if spec.startswith(RANDOM_PREFIX) else weights_fingerprint(loaded.spec)
        self.name = f"coca:{loaded.spec}@{fingerprint[:12]}"

    def _generate(self, images: list, text: str | None, question: bool) -> list[str]:
        import open_clip
        import torch

        pixels = torch.stack([self.loaded.preprocess(image) for image in images]).to(self.device)
        ids = torch.full((len(images), 1), START, dtype=torch.long, device=self.device)
        if text:  # the caption's beginning
            tokens = self.loaded.tokenizer([text]).to(self.device)[0]
            prompt = tokens[1:int((tokens != 0).sum()) - 1]  # without start and end tokens
            ids = torch.cat([ids, prompt.expand(len(images), -1)], dim=1)
        limit = min(ids.shape[1] + self.max_new_tokens, self.model.context_length - 1)  # the text tower adds a CLS
        done = torch.zeros(len(images), dtype=torch.bool, device=self.device)
        try:
            with torch.inference_mode(), half_precision(self.device):
                latent, embs = self.model._encode_image(pixels)
                while ids.shape[1] < limit and not bool(done.all()):
                    logits = self.model(pixels, ids, image_latent=latent, image_embs=embs,
                                        output_labels=False)["logits"]
                    step = logits[:, -1].argmax(dim=-1)
                    step = torch.where(done, torch.full_like(step, END), step)
                    ids = torch.cat([ids, step[:, None]], dim=1)
                    done |= step == END
        except RuntimeError as exc:  # out of memory, a device gone
            raise CaptionerError(f"{self.name}: generation failed: {exc}") from None
        return [_SPECIAL.sub("", open_clip.decode(row)).strip(" .") for row in ids]
