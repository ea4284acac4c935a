"""Known dual encoders to choose from: size, input, cost, and whether they are on this machine.

ImageNet-1k zero-shot top-1 and parameter counts are the published figures of OpenCLIP's
benchmark table (docs/openclip_classification_results.csv in open_clip); None where no
figure is published there. Embedding size and image size of open_clip models are read
from open_clip's own configs, not copied here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class KnownModel:
    spec: str
    family: str  # open_clip | transformers
    imagenet_zero_shot: float | None  # top-1, 0..1
    params_m: float | None
    note: str = ""
    shape: tuple[int, int] | None = None  # (embedding size, image size) where no config is at hand


KNOWN = (
    KnownModel("ViT-B-32/laion2b_s34b_b79k", "open_clip", 0.6656, 151.28, "the default"),
    KnownModel("ViT-B-32/openai", "open_clip", 0.6332, 151.28, "OpenAI CLIP"),
    KnownModel("ViT-B-32/datacomp_xl_s13b_b90k", "open_clip", 0.6917, 151.28),
    KnownModel("ViT-B-16/laion2b_s34b_b88k", "open_clip", 0.7023, 149.62),
    KnownModel("ViT-B-16/openai", "open_clip", 0.6834, 149.62, "OpenAI CLIP"),
    KnownModel("ViT-B-16/datacomp_xl_s13b_b90k", "open_clip", 0.7349, 149.62),
    KnownModel("ViT-L-14/laion2b_s32b_b82k", "open_clip", 0.7525, 427.62),
    KnownModel("ViT-L-14/openai", "open_clip", 0.7554, 427.62, "OpenAI CLIP"),
    KnownModel("ViT-L-14/datacomp_xl_s13b_b90k", "open_clip", 0.7921, 427.62),
    KnownModel("ViT-H-14/laion2b_s32b_b79k", "open_clip", 0.7796, 986.11),
    KnownModel("ViT-B-16-SigLIP/webli", "open_clip", 0.7604, 203.16, "SigLIP"),
    KnownModel("ViT-B-16-SigLIP-256/webli", "open_clip", 0.7653, 203.20, "SigLIP"),
    KnownModel("ViT-SO400M-14-SigLIP/webli", "open_clip", 0.8203, 877.36, "SigLIP"),
    KnownModel("xlm-roberta-base-ViT-B-32/laion5b_s13b_b90k", "open_clip", 0.6236, 366.12, "multilingual"),
    KnownModel("xlm-roberta-large-ViT-H-14/frozen_laion5b_s13b_b90k", "open_clip", 0.7695, 1193.01, "multilingual"),
    KnownModel("MobileCLIP-S2/datacompdr", "open_clip", None, None, "MobileCLIP, for small machines"),
    KnownModel("MobileCLIP-B/datacompdr", "open_clip", None, None, "MobileCLIP"),
    KnownModel("transformers:openai/clip-vit-base-patch32", "transformers", 0.6332, 151.28, "CLIPModel", (512, 224)),
    KnownModel("transformers:google/siglip-base-patch16-224", "transformers", 0.7604, 203.16, "SiglipModel", (768, 224)),
    KnownModel("transformers:kakaobrain/align-base", "transformers", None, None, "ALIGN (AlignModel)", (640, 289)),
)


def describe(model: KnownModel, cache_dir: str | None = None) -> dict:
    """The catalogue row: what is known, plus what this machine has."""
    row = asdict(model) | {"embed_dim": None, "image_size": None, "offline": is_cached(model, cache_dir)}
    del row["shape"]
    if model.shape:
        row["embed_dim"], row["image_size"] = model.shape
    elif model.family == "open_clip":
        row.update(_open_clip_shape(model.spec.partition("/")[0]))
    return row


def _open_clip_shape(arch: str) -> dict:
    import open_clip

    config = open_clip.get_model_config(arch) or {}
    size = config.get("vision_cfg", {}).get("image_size")
    if isinstance(size, (list, tuple)):
        size = size[0]
    return {"embed_dim": config.get("embed_dim"), "image_size": size}


def is_cached(model: KnownModel, cache_dir: str | None = None) -> bool:
    """Whether the weights are in the local Hugging Face cache (usable offline)."""
    import os

    from huggingface_hub import try_to_load_from_cache

    from retrieval.models.hub import DEFAULT_OPEN_CLIP_WEIGHTS, weight_file_names

    def cached(repo: str, name: str) -> bool:
        return isinstance(try_to_load_from_cache(repo, name, cache_dir=cache_dir), str)

    if model.family == "transformers":
        repo = model.spec.partition(":")[2]
        return cached(repo, "config.json") and any(cached(repo, n) for n in ("model.safetensors", "pytorch_model.bin"))
    import open_clip

    arch, _, tag = model.spec.partition("/")
    hub = (open_clip.get_pretrained_cfg(arch, tag) or {}).get("hf_hub", "")
    if not hub:
        return False
    repo, filename = os.path.split(hub)  # open_clip writes "org/name/file" or "org/name/"
    return any(cached(repo, name) for name in weight_file_names(filename or DEFAULT_OPEN_CLIP_WEIGHTS))


def catalogue(cache_dir: str | None = None) -> list[dict]:
    return [describe(model, cache_dir) for model in KNOWN]
