"""Generative VLMs from transformers as captioners.

Whatever ``AutoModelForImageTextToText`` loads (BLIP, GIT, Florence-2, PaliGemma 2,
Qwen2-VL / Qwen2.5-VL, SmolVLM / Idefics3, Llama 3.2 Vision, ...), plus BLIP's VQA model.
What differs between them is how they are asked:

- BLIP: no text for a caption (a prompt is the caption's beginning); the VQA model takes
  the question;
- GIT: no text, or the question as the start of the text;
- Florence-2: a task token (``<CAPTION>``, ``<DETAILED_CAPTION>``, ...);
- PaliGemma: ``caption en`` / ``answer en QUESTION``;
- chat models (those whose processor has a chat template): one user turn with the image
  and an instruction or the question.

Half precision on a GPU. Decoder-only models echo their prompt: only new tokens are kept.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

from retrieval.captioning.base import Captioner, CaptionerError

CAPTION_INSTRUCTION = "Describe this image in one sentence."
FLORENCE_TASKS = ("<CAPTION>", "<DETAILED_CAPTION>", "<MORE_DETAILED_CAPTION>")
# Families that answer questions whatever their checkpoint (the rest: chat models, BLIP VQA,
# GIT's question-answering checkpoints).
_ANSWERING = {"paligemma"}
# GIT's checkpoints share one architecture; only those trained on question answering
# (microsoft/git-base-vqav2, git-large-textvqa, ...) answer rather than caption on.
_GIT_QA_NAME = re.compile(r"vqa|[-_]qa\b", re.IGNORECASE)


@dataclass
class RawGeneration:
    """What a VLM wrote, special tokens kept (boxes are written in them), and the size
    (width, height) of the picture as the model saw it, where its processor resized it."""

    text: str
    seen_size: tuple[int, int] | None = None


class TransformersCaptioner(Captioner):
    def __init__(self, source: str, device: str | None = None):
        import torch

        from retrieval.encoders.devices import half_dtype, pick_device
        from retrieval.models.fingerprint import folder_weights_fingerprint
        from retrieval.models.transformers_loader import local_folder

        try:
            import transformers  # noqa: F401
        except ImportError:
            raise CaptionerError("transformers captioners need transformers: pip install 'clipdex[transformers]'") from None
        folder = local_folder(source, None)
        try:
            with open(os.path.join(folder, "config.json"), encoding="utf-8") as handle:
                config = json.load(handle)
        except (OSError, ValueError) as exc:
            raise CaptionerError(f"{source}: no readable config.json ({exc})") from None
        self.family = config.get("model_type", "")
        architectures = config.get("architectures") or []
        self.device = pick_device(device)
        on_gpu = str(self.device).startswith("cuda")
        # bf16 where the GPU has it: Gemma 2 (PaliGemma 2) and Qwen2-VL overflow in fp16.
        dtype = half_dtype(self.device) if on_gpu else torch.float32
        try:
            from transformers import AutoModelForImageTextToText, AutoProcessor

            self.processor = AutoProcessor.from_pretrained(folder)
            if "BlipForQuestionAnswering" in architectures:
                from transformers import BlipForQuestionAnswering as model_class
            else:
                model_class = AutoModelForImageTextToText
            self.model = model_class.from_pretrained(folder, dtype=dtype).to(self.device).eval()
        except (OSError, ValueError, KeyError, ImportError) as exc:
            raise CaptionerError(f"{source}: transformers cannot load it as an image-to-text model: {exc}") from None
        self.dtype = dtype
        self.chat = getattr(self.processor, "chat_template", None) is not None
        self.vqa_only = "BlipForQuestionAnswering" in architectures
        git_qa = self.family == "git" and bool(_GIT_QA_NAME.search(os.path.basename(source.rstrip("/"))))
        if self.family == "git" and not git_qa:
            self.answer_hint = ("GIT answers with its question-answering checkpoints only (microsoft/git-base-vqav2, "
                                "...-textvqa); a local folder of one needs 'vqa' in its name")
        self.supports_answer = self.chat or self.vqa_only or git_qa or self.family in _ANSWERING
        self.encoder_decoder = bool(getattr(self.model.config, "is_encoder_decoder", False))
        tokenizer = getattr(self.processor, "tokenizer", None)
        if tokenizer is not None and not self.encoder_decoder:
            tokenizer.padding_side = "left"  # batched generation continues every row at its end
        self.name = f"transformers:{source}@{folder_weights_fingerprint(folder)}"

    def _prompts(self, count: int, text: str | None, question: bool) -> list[str] | None:
        family = self.family
        if self.chat:
            instruction = text if text else CAPTION_INSTRUCTION
            messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": instruction}]}]
            return [self.processor.apply_chat_template(messages, add_generation_prompt=True)] * count
        if family == "florence2":
            if text and text not in FLORENCE_TASKS:
                raise ValueError(f"Florence-2 captions with one of the task tokens {', '.join(FLORENCE_TASKS)}")
            return [text or FLORENCE_TASKS[0]] * count
        if family == "paligemma":
            return [f"<image>answer en {text}" if question else "<image>caption en"] * count
        if self.vqa_only:
            return [text if text else "what is in the picture?"] * count
        return [text] * count if text else None  # BLIP, GIT: the start of the caption / the question

    def _inputs(self, images: list, prompts: list[str] | None):
        kwargs = {"images": images, "return_tensors": "pt"}
        if self.family in ("mllama", "idefics3", "smolvlm"):
            kwargs["images"] = [[image] for image in images]  # one list of images per prompt
        if prompts is not None:
            kwargs["text"] = prompts
            kwargs["padding"] = True
        if self.family == "git" and prompts is not None:
            # GIT reads a question as the start of its text: [CLS] question, no [SEP] after it.
            tokenizer = self.processor.tokenizer
            kwargs.pop("text"), kwargs.pop("padding")
            inputs = self.processor(**kwargs)
            ids = [[tokenizer.cls_token_id, *tokenizer(p, add_special_tokens=False).input_ids] for p in prompts]
            inputs.update(tokenizer.pad({"input_ids": ids}, return_tensors="pt"))
        else:
            inputs = self.processor(**kwargs)
        inputs.pop("token_type_ids", None)
        return {k: (v.to(self.device, self.dtype) if v.is_floating_point() else v.to(self.device))
                for k, v in inputs.items() if hasattr(v, "to")}

    def _generate(self, images: list, text: str | None, question: bool) -> list[str]:
        import torch

        prompts = self._prompts(len(images), text, question)
        try:
            inputs = self._inputs(images, prompts)
            with torch.inference_mode():
                detailed = self.family == "florence2" and text in FLORENCE_TASKS[1:]
                output = self.model.generate(**inputs, max_new_tokens=128 if detailed else self.max_new_tokens,
                                             do_sample=False)
        except (ValueError, RuntimeError, TypeError) as exc:
            raise CaptionerError(f"{self.name}: generation failed: {exc}") from None
        prompt_ids = inputs.get("input_ids")
        if prompt_ids is not None and not self.encoder_decoder and not self.vqa_only and self.family != "blip":
            output = output[:, prompt_ids.shape[1]:]  # decoder-only: the prompt comes back first
        texts = self.processor.batch_decode(output, skip_special_tokens=True)
        if self.family == "blip" and text and not question:
            texts = [t if t.lower().startswith(text.lower()) else f"{text} {t}" for t in texts]
        return texts

    def _raw_prompts(self, count: int, prompt: str) -> list[str]:
        if self.chat:
            messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]
            return [self.processor.apply_chat_template(messages, add_generation_prompt=True)] * count
        if self.family == "florence2":
            return [prompt] * count  # a task token, and the phrase of a grounding task
        if self.family == "paligemma":
            return [f"<image>{prompt}"] * count
        raise CaptionerError(f"{self.name}: a {self.family or 'this'} model does not take task prompts; read text and "
                             "find regions with Florence-2, PaliGemma or a chat VLM such as Qwen2-VL")

    def generate_raw(self, images: list, prompt: str, max_new_tokens: int = 256) -> list[RawGeneration]:
        """What the model writes for each picture after ``prompt`` (a Florence-2 task token,
        a PaliGemma task, a chat instruction), special tokens kept, prompt left out."""
        import torch

        images = [image.convert("RGB") for image in images]
        try:
            inputs = self._inputs(images, self._raw_prompts(len(images), prompt))
            with torch.inference_mode():
                output = self.model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
        except (ValueError, RuntimeError, TypeError) as exc:
            raise CaptionerError(f"{self.name}: generation failed: {exc}") from None
        prompt_ids = inputs.get("input_ids")
        if prompt_ids is not None and not self.encoder_decoder:
            output = output[:, prompt_ids.shape[1]:]
        tokenizer = self.processor.tokenizer
        padding = {t for t in (tokenizer.pad_token, tokenizer.eos_token, tokenizer.bos_token) if t}
        texts = []
        for text in self.processor.batch_decode(output, skip_special_tokens=False):
            for token in padding:
                text = text.replace(token, "")
            texts.append(text.strip())
        return [RawGeneration(text, size) for text, size in zip(texts, self._seen_sizes(inputs, len(texts)))]

    def _seen_sizes(self, inputs: dict, count: int) -> list[tuple[int, int] | None]:
        """Qwen-VL's processors resize each picture to a multiple of their patch: its grid says to what."""
        grid = inputs.get("image_grid_thw")
        patch = getattr(getattr(self.processor, "image_processor", None), "patch_size", None)
        if grid is None or not patch:
            return [None] * count
        return [(int(w) * patch, int(h) * patch) for _, h, w in grid.tolist()][:count]
