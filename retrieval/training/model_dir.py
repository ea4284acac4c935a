"""The folder a training run writes: the model in the layout open_clip's local-dir loading
reads (a model spec for every part of clipdex), and the optimiser state for resuming."""

from __future__ import annotations

import io
import json
import os

from retrieval.atomic_io import atomic_write_bytes
from retrieval.models.compact_vocab import TOKEN_IDS_KEY
from retrieval.models.spec import LOCAL_DIR, MODEL_CONFIG_FILE, parse_spec
from retrieval.training.errors import TrainingError

STATE_FILE = "train_state.pt"
WEIGHTS_FILE = "open_clip_pytorch_model.bin"
CONFIG_FILE = MODEL_CONFIG_FILE


def weights_digest(model_dir: str) -> str:
    """The sha256 of a model folder's tensors, by name: equal when two runs trained the same
    weights to the bit (the file's own bytes are not: torch.save writes an id of its own)."""
    import hashlib

    import torch

    digest = hashlib.sha256()
    for name, tensor in sorted(torch.load(os.path.join(model_dir, WEIGHTS_FILE), map_location="cpu").items()):
        digest.update(name.encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


def save_model_dir(model, model_cfg: dict, out_dir: str, token_ids: list[int] | None = None) -> None:
    """The model in the layout open_clip's local-dir loading reads: a model spec; with the
    BPE ids of its compact vocabulary, if it has one (retrieval/models/compact_vocab.py)."""
    import torch

    os.makedirs(out_dir, exist_ok=True)
    buffer = io.BytesIO()
    from retrieval.training.lora import plain_state_dict

    torch.save(plain_state_dict(model), buffer)  # LoRA adapters merged: a plain open_clip model
    atomic_write_bytes(os.path.join(out_dir, WEIGHTS_FILE), buffer.getvalue())
    config = {"model_cfg": model_cfg, "preprocess_cfg": dict(model.visual.preprocess_cfg)}
    if token_ids:
        config[TOKEN_IDS_KEY] = list(token_ids)
    atomic_write_bytes(os.path.join(out_dir, CONFIG_FILE), json.dumps(config, indent=2).encode())


def model_cfg_of(spec: str) -> dict:
    """The open_clip config of a spec, to write beside fine-tuned weights."""
    import open_clip

    parsed = parse_spec(spec)
    if parsed.kind == LOCAL_DIR:
        with open(os.path.join(parsed.path, CONFIG_FILE)) as handle:
            return json.load(handle)["model_cfg"]
    if parsed.arch is not None:
        return open_clip.get_model_config(parsed.arch)
    raise TrainingError(f"cannot fine-tune {spec!r}: use a local model directory or ARCH/TAG")
