"""Captioners: images in, sentences out (and answers to questions, where a model can).

One interface, three kinds of backend, chosen by the spec string:

- ``transformers:ORG/NAME`` or ``transformers:DIR`` (or a directory holding a transformers
  ``config.json``): a generative VLM — BLIP, GIT, Florence-2, PaliGemma 2, Qwen2-VL /
  Qwen2.5-VL, SmolVLM, Llama 3.2 Vision (transformers_vlm.py);
- ``coca:SPEC``: an open_clip CoCa model, SPEC as for dual encoders
  (``coca:coca_ViT-B-32/mscoco_finetuned_laion2b_s13b_b90k``) (coca.py);
- a directory holding ``captioner.json``: clipdex's own captioner, trained with
  ``clipdex train-captioner`` (own.py).

Every captioner has a ``name`` that changes when its weights do, so cached captions
keyed by it are never stale.
"""

from __future__ import annotations

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


def check_prompt(text: str | None, what: str) -> None:
    if text is not None and len(text) > MAX_PROMPT_CHARS:
        raise PromptTooLong(f"the {what} is {len(text)} characters; at most {MAX_PROMPT_CHARS} are allowed")
