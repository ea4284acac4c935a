"""What a loaded dual encoder is, whichever library made it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass
class LoadedModel:
    """A dual encoder with what it needs to turn pixels and words into vectors."""

    spec: str
    model: Any  # encode_image(pixels), encode_text(tokens), logit_scale
    preprocess: Callable  # PIL image -> CHW float tensor
    tokenizer: Callable  # list[str] -> token tensor
    embed_dim: int
    image_size: int
    family: str = "open_clip"  # or "transformers"
