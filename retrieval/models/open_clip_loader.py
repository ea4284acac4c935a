"""open_clip dual encoders: pretrained tags, checkpoint files, hub repositories, model
folders and seeded random weights, from a parsed spec."""

from __future__ import annotations

import logging
import os

from retrieval.images.aspect import BoundedAspect
from retrieval.models.compact_vocab import (
    TOKEN_IDS_KEY,
    CompactTokenizer,
    compact_vocab_size,
    token_ids_of,
    valid_token_ids,
)
from retrieval.models.hub import DEFAULT_OPEN_CLIP_WEIGHTS, hub_file, weight_file_names
from retrieval.models.loaded import LoadedModel
from retrieval.models.spec import (
    CHECKPOINT,
    HF_HUB,
    LOCAL_DIR,
    MODEL_CONFIG_FILE,
    RANDOM,
    TAG,
    BadModelSpec,
    ModelNotAvailable,
    ModelSpec,
    canonical_spec,
)

RANDOM_SEED = 0


def _seeded_random_model(arch: str, **overrides):
    import open_clip
    import torch

    # Random weights must be the same on every load, or a collection indexed with
    # random:ARCH could not be searched by the next process. open_clip's warning that no
    # weights were loaded is dropped: random weights are what random: asks for.
    root = logging.getLogger()
    root.addFilter(_no_weights_warning)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_SEED)
            return open_clip.create_model_and_transforms(arch, pretrained=None, **overrides)
    finally:
        root.removeFilter(_no_weights_warning)


def _no_weights_warning(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("No pretrained weights loaded")


def _from_tag(parsed: ModelSpec, cache_dir: str | None):
    import open_clip

    cfg = parsed.pretrained
    if "file" in cfg:
        weights = cfg["file"]
    elif cfg.get("hf_hub"):
        # open_clip writes "org/name/file.bin", or "org/name/" for the default file name.
        repo, filename = os.path.split(cfg["hf_hub"])
        weights = hub_file(repo, weight_file_names(filename or DEFAULT_OPEN_CLIP_WEIGHTS), cache_dir, parsed.text)
    else:
        raise ModelNotAvailable(
            f"{parsed.text!r} is only published at {cfg.get('url')}; download it and use {parsed.arch}/PATH-TO-FILE"
        )
    return open_clip.create_model_and_transforms(
        parsed.arch,
        pretrained=weights,
        force_quick_gelu=bool(cfg.get("quick_gelu", False)),
        image_mean=cfg.get("mean"),
        image_std=cfg.get("std"),
        image_interpolation=cfg.get("interpolation"),
        image_resize_mode=cfg.get("resize_mode"),
    )


def _create(parsed: ModelSpec, cache_dir: str | None):
    """(model, train transform, preprocess, tokenizer) of an open_clip spec."""
    import open_clip

    if parsed.kind == RANDOM:
        return _seeded_random_model(parsed.arch) + (open_clip.get_tokenizer(parsed.arch),)
    if parsed.kind == CHECKPOINT:
        created = open_clip.create_model_and_transforms(parsed.arch, pretrained=parsed.path)
        return created + (open_clip.get_tokenizer(parsed.arch),)
    if parsed.kind == TAG:
        return _from_tag(parsed, cache_dir) + (open_clip.get_tokenizer(parsed.arch),)
    if parsed.kind == HF_HUB:
        config = hub_file(parsed.repo, [MODEL_CONFIG_FILE], cache_dir, parsed.text)
        hub_file(parsed.repo, weight_file_names(DEFAULT_OPEN_CLIP_WEIGHTS), cache_dir, parsed.text)
        # Both files now sit in one snapshot folder: load it as a local directory so that
        # open_clip makes no network calls of its own.
        return _from_folder(os.path.dirname(config))
    if parsed.kind == LOCAL_DIR:
        return _from_folder(parsed.path)
    raise BadModelSpec(f"{parsed.text!r} is not an open_clip model spec")


def _from_folder(folder: str):
    """A model folder as open_clip reads it, with the compact vocabulary its config may keep."""
    import json

    import open_clip

    local = "local-dir:" + folder
    tokenizer = open_clip.get_tokenizer(local)
    with open(os.path.join(folder, MODEL_CONFIG_FILE)) as handle:
        token_ids = json.load(handle).get(TOKEN_IDS_KEY)
    if token_ids is not None:
        if not valid_token_ids(token_ids):
            raise BadModelSpec(f"{folder}: {TOKEN_IDS_KEY!r} in {MODEL_CONFIG_FILE} must be the increasing "
                               "tokenizer ids the model's vocabulary keeps (as training wrote them)")
        tokenizer = CompactTokenizer(tokenizer, token_ids)
    return open_clip.create_model_and_transforms(local) + (tokenizer,)


def new_compact_model(arch: str, captions: list[str]) -> tuple[LoadedModel, dict]:
    """A seeded random ``arch`` whose token embedding has a row only for each token that
    ``captions`` use (compact_vocab.py), and its open_clip config: what training from scratch
    starts from."""
    import open_clip

    token_ids = token_ids_of(open_clip.get_tokenizer(arch), captions)
    model_cfg = open_clip.get_model_config(arch)
    model_cfg["text_cfg"] = dict(model_cfg["text_cfg"], vocab_size=compact_vocab_size(token_ids))
    created = _seeded_random_model(arch, text_cfg=model_cfg["text_cfg"])
    tokenizer = CompactTokenizer(open_clip.get_tokenizer(arch), token_ids)
    return _loaded(f"random:{arch}", created[0], created[2], tokenizer), model_cfg


def load_open_clip(parsed: ModelSpec, cache_dir: str | None = None) -> LoadedModel:
    """The open_clip model a parsed spec names, in eval mode on the CPU."""
    model, _train_transform, preprocess, tokenizer = _create(parsed, cache_dir)
    return _loaded(canonical_spec(parsed.text), model, preprocess, tokenizer)


def _loaded(spec: str, model, preprocess, tokenizer) -> LoadedModel:
    model.eval()
    if (getattr(model.visual, "preprocess_cfg", None) or {}).get("resize_mode", "shortest") == "shortest":
        preprocess = BoundedAspect(preprocess)  # a 30000 x 1 strip must not become 6,720,000 x 224 first
    image_size = model.visual.image_size
    if isinstance(image_size, (tuple, list)):
        image_size = image_size[0]
    return LoadedModel(
        spec=spec,
        model=model,
        preprocess=preprocess,
        tokenizer=tokenizer,
        embed_dim=output_dim(model),
        image_size=int(image_size),
    )


def output_dim(model) -> int:
    import torch

    proj = getattr(model, "text_projection", None)
    if isinstance(proj, torch.Tensor) and proj.ndim == 2:
        return int(proj.shape[1])
    if isinstance(proj, torch.nn.Linear):
        return int(proj.out_features)
    with torch.no_grad():
        tokens = torch.zeros(1, getattr(model, "context_length", 77), dtype=torch.long)
        return int(model.encode_text(tokens).shape[-1])
