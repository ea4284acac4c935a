"""Dual encoders from transformers: CLIPModel, AlignModel, SiglipModel (any model with
``get_text_features`` and ``get_image_features``), with their own processors.

Spec: ``transformers:ORG/NAME`` (a hub repository) or ``transformers:/a/local/dir`` (what
``save_pretrained`` writes). Hub files are looked up in the local cache first; offline and
not cached fails at once with how to get them. The model is wrapped to look like an
open_clip model to the rest of clipdex: ``encode_image(pixels)``, ``encode_text(tokens)``,
``logit_scale``, and a picklable preprocess and tokenizer.
"""

from __future__ import annotations

import os

import torch

from retrieval.images.aspect import BoundedAspect
from retrieval.models.hub import hub_snapshot
from retrieval.models.loaded import LoadedModel
from retrieval.models.spec import TRANSFORMERS_PREFIX, BadModelSpec, ModelSpec, canonical_spec

_HUB_FILES = ["*.json", "*.safetensors", "*.txt", "*.model", "*.spm", "*.jinja"]


def _features(output):
    """transformers 4 returns the projected tensor, 5 an output whose pooler_output it is."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output


class TransformersDualEncoder(torch.nn.Module):
    """The open_clip-like face of a transformers dual encoder."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def encode_image(self, pixels):
        return _features(self.inner.get_image_features(pixel_values=pixels))

    def encode_text(self, tokens):
        return _features(self.inner.get_text_features(**tokens))

    @property
    def logit_scale(self):
        if hasattr(self.inner, "logit_scale"):  # CLIP, SigLIP: a log-scale
            return self.inner.logit_scale
        temperature = getattr(self.inner, "temperature", None)  # ALIGN: logits / temperature
        return None if temperature is None else -torch.log(temperature)


class ImagePreprocess:
    """PIL image -> CHW float tensor, by the model's own image processor."""

    def __init__(self, image_processor):
        self.image_processor = image_processor

    def __call__(self, image):
        return self.image_processor(images=image, return_tensors="pt")["pixel_values"][0]


class Tokenizer:
    """list[str] -> the token tensors the model's text tower takes (a BatchEncoding)."""

    def __init__(self, tokenizer, max_length: int, pad_to_max: bool):
        self.tokenizer = tokenizer
        self.max_length = max_length
        # SigLIP was trained on texts padded to the full length and has no attention mask.
        self.padding = "max_length" if pad_to_max else True

    def __call__(self, texts):
        if isinstance(texts, str):
            texts = [texts]
        return self.tokenizer(list(texts), padding=self.padding, truncation=True, max_length=self.max_length,
                              return_tensors="pt")


def _image_size(image_processor) -> int:
    for attribute in ("crop_size", "size"):
        size = getattr(image_processor, attribute, None)
        if isinstance(size, int):
            return size
        for key in ("height", "shortest_edge", "width"):  # a dict, or transformers 5's SizeDict
            value = size.get(key) if isinstance(size, dict) else getattr(size, key, None)
            if value:
                return int(value)
    raise ValueError("cannot tell the image size from the model's image processor")


def local_folder(source: str, cache_dir: str | None) -> str:
    """The folder holding a transformers model's files: ``source`` itself when it is a
    folder, else the hub repository's snapshot in the cache (fetched when online)."""
    if os.path.isdir(source):
        return source
    return hub_snapshot(source, _HUB_FILES, cache_dir, TRANSFORMERS_PREFIX + source)


def load_transformers(parsed: ModelSpec, cache_dir: str | None = None) -> LoadedModel:
    """A LoadedModel for a transformers dual encoder."""
    from transformers import AutoModel, AutoProcessor

    spec = parsed.text
    folder = local_folder(parsed.source, cache_dir)
    try:
        model = AutoModel.from_pretrained(folder)
        processor = AutoProcessor.from_pretrained(folder)
    except (OSError, ValueError, KeyError) as exc:
        raise BadModelSpec(f"{spec!r}: transformers cannot load {folder}: {exc}") from None
    if not (hasattr(model, "get_text_features") and hasattr(model, "get_image_features")):
        raise BadModelSpec(f"{spec!r} is a {type(model).__name__}, not a dual encoder (no text and image features)")
    model.eval()
    text_config = getattr(model.config, "text_config", model.config)
    max_length = int(getattr(text_config, "max_position_embeddings", 77))
    tokenizer = Tokenizer(processor.tokenizer, max_length, pad_to_max="siglip" in model.config.model_type)
    wrapped = TransformersDualEncoder(model)
    with torch.no_grad():
        embed_dim = int(wrapped.encode_text(tokenizer(["a photo"])).shape[-1])
        image_size = _image_size(processor.image_processor)
        image_dim = int(wrapped.encode_image(torch.zeros(1, 3, image_size, image_size)).shape[-1])
    if image_dim != embed_dim:
        raise BadModelSpec(f"{spec!r}: image vectors have {image_dim} dimensions, text vectors {embed_dim}")
    preprocess = ImagePreprocess(processor.image_processor)
    if getattr(processor.image_processor, "do_center_crop", False):  # short side resized, then cropped
        preprocess = BoundedAspect(preprocess)
    return LoadedModel(spec=canonical_spec(spec), model=wrapped, preprocess=preprocess,
                       tokenizer=tokenizer, embed_dim=embed_dim, image_size=image_size,
                       family="transformers")
