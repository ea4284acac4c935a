"""Captioners: images in, sentences out (and answers to questions, where a model can).

One interface, three kinds of backend, chosen by the spec string:

- ``transformers:ORG/NAME`` or ``transformers:DIR`` (or a directory holding a transformers
  ``config.json``): a generative VLM — BLIP, GIT, Florence-2, PaliGemma 2, Qwen2-VL /
  Qwen2.5-VL, SmolVLM, Llama 3.2 Vision (caption_transformers.py);
- ``coca:SPEC``: an open_clip CoCa model, SPEC as for dual encoders
  (``coca:coca_ViT-B-32/mscoco_finetuned_laion2b_s13b_b90k``) (caption_coca.py);
- a directory holding ``captioner.json``: clipdex's own captioner, trained with
  ``clipdex train-captioner`` (caption_own.py).

Every captioner has a ``name`` that changes when its weights do, so cached captions
keyed by it are never stale.
"""

from __future__ import annotations

import os
from typing import Sequence

DEFAULT_CAPTIONER = "transformers:Salesforce/blip-image-captioning-base"
COCA_PREFIX = "coca:"
MAX_PROMPT_CHARS = 300


class CaptionerError(RuntimeError):
    """A captioner could not be loaded or could not run."""


class PromptTooLong(ValueError):
    pass


class AnswerNotSupported(ValueError):
    pass


class Captioner:
    """Base class: batching and prompt checks; backends implement ``_generate``."""

    name: str = "captioner"
    supports_answer: bool = False
    answer_hint: str = "use a VQA or instruction-tuned model"
    batch_size: int = 8
    max_new_tokens: int = 30

    def caption(self, images: Sequence, prompt: str | None = None) -> list[str]:
        """One caption per PIL image; ``prompt`` (where a backend takes one) steers it."""
        check_prompt(prompt, "prompt")
        return self._batched(images, prompt, question=False)

    def answer(self, images: Sequence, question: str) -> list[str]:
        """One answer per image to ``question``."""
        if not self.supports_answer:
            raise AnswerNotSupported(f"{self.name} does not answer questions; {self.answer_hint}")
        if not question or not question.strip():
            raise ValueError("the question is empty")
        check_prompt(question, "question")
        return self._batched(images, question.strip(), question=True)

    def _batched(self, images: Sequence, text: str | None, question: bool) -> list[str]:
        out: list[str] = []
        for start in range(0, len(images), self.batch_size):
            chunk = [image.convert("RGB") for image in images[start:start + self.batch_size]]
            out.extend(s.strip() for s in self._generate(chunk, text, question))
        return out

    def _generate(self, images: list, text: str | None, question: bool) -> list[str]:
        raise NotImplementedError


def half_precision(device: str):
    """Autocast to half precision on a GPU (bf16 where supported), a no-op elsewhere."""
    import contextlib

    import torch

    if not str(device).startswith("cuda"):
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)


def check_prompt(text: str | None, what: str) -> None:
    if text is not None and len(text) > MAX_PROMPT_CHARS:
        raise PromptTooLong(f"the {what} is {len(text)} characters; at most {MAX_PROMPT_CHARS} are allowed")


def load_captioner(spec: str | None = None, device: str | None = None) -> Captioner:
    """The captioner a spec names (see the module docstring)."""
    from retrieval.models.loading import TRANSFORMERS_PREFIX

    spec = spec or DEFAULT_CAPTIONER
    if spec.startswith(COCA_PREFIX):
        from retrieval.captioning.coca import CocaCaptioner

        return CocaCaptioner(spec[len(COCA_PREFIX):], device=device)
    if os.path.isdir(spec) and os.path.exists(os.path.join(spec, "captioner.json")):
        from retrieval.captioning.own import OwnCaptioner

        return OwnCaptioner(spec, device=device)
    if spec.startswith(TRANSFORMERS_PREFIX) or (os.path.isdir(spec) and os.path.exists(os.path.join(spec, "config.json"))):
        from retrieval.captioning.transformers_vlm import TransformersCaptioner

        return TransformersCaptioner(spec.removeprefix(TRANSFORMERS_PREFIX), device=device)
    if os.path.isdir(spec):
        raise CaptionerError(f"{spec} holds neither a clipdex captioner (captioner.json) nor a transformers "
                             "model (config.json)")
    raise CaptionerError(f"unknown captioner {spec!r}: use transformers:ORG/NAME, coca:ARCH/TAG or the folder "
                         "`clipdex train-captioner` wrote")
