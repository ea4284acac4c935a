"""Training clipdex's own captioner on (image, caption) pairs.

The dual encoder stays frozen: its features of every training image are computed once,
then only the decoder learns (teacher forcing, cross-entropy on the next word), with
AdamW, warm-up and cosine decay fitted to a time budget. Each epoch ends with a
checkpoint in the directory layout ``load_captioner`` reads (``captioner.json`` +
``captioner.pt``), written atomically, so a crash leaves the last epoch usable.
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Callable

from retrieval.atomic_io import atomic_write_bytes
from retrieval.captioning.own_model import (
    DecoderConfig,
    WordVocab,
    build_decoder,
    image_features,
    shape_of_features,
)
from retrieval.training.schedule import WarmupCosine

log = logging.getLogger(__name__)

CONFIG_FILE = "captioner.json"
WEIGHTS_FILE = "captioner.pt"


class CaptionTrainingError(ValueError):
    pass


@dataclass
class CaptionTrainConfig:
    epochs: int = 30
    batch_size: int = 128
    lr: float = 1e-3
    warmup_steps: int = 100
    width: int = 128
    layers: int = 2
    max_len: int = 32
    max_seconds: float | None = None
    device: str | None = None
    seed: int = 0


@dataclass
class CaptionTrainResult:
    out_dir: str
    steps: int
    seconds: float
    history: list[dict] = field(default_factory=list)


def encode_features(loaded, images: list, device: str, batch_size: int = 256):
    """Frozen-tower features of PIL images: (embeddings, tokens or None) as CPU tensors
    (tokens in float16, to keep a large training set in memory)."""
    import torch

    model = loaded.model.to(device).eval()
    embeddings, tokens = [], []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            pixels = torch.stack([loaded.preprocess(image) for image in images[start:start + batch_size]])
            embedding, token = image_features(model, pixels.to(device))
            embeddings.append(embedding.cpu())
            if token is not None:
                tokens.append(token.to(torch.float16).cpu())
    return torch.cat(embeddings), (torch.cat(tokens) if tokens else None)


def save_captioner(out_dir: str, decoder, vocab: WordVocab, encoder_spec: str, history: list[dict]) -> None:
    import torch

    os.makedirs(out_dir, exist_ok=True)
    buffer = io.BytesIO()
    torch.save(decoder.state_dict(), buffer)
    atomic_write_bytes(os.path.join(out_dir, WEIGHTS_FILE), buffer.getvalue())
    meta = {"kind": "clipdex-captioner", "encoder": encoder_spec, "decoder": decoder.config.to_dict(),
            "vocab": vocab.words[4:], "history": history}
    atomic_write_bytes(os.path.join(out_dir, CONFIG_FILE), json.dumps(meta, indent=1).encode())


def train_captioner(
    images: list,
    captions: list[str],
    encoder_spec: str,
    out_dir: str,
    config: CaptionTrainConfig | None = None,
    on_epoch: Callable[[dict], None] | None = None,
) -> CaptionTrainResult:
    """Train a captioner on the image tower of the dual encoder ``encoder_spec``."""
    import torch
    import torch.nn.functional as F

    from retrieval.encoders.devices import pick_device
    from retrieval.models.loading import load_model

    from retrieval.training.contrastive import check_pairs

    config = config or CaptionTrainConfig()
    check_pairs(images, captions, CaptionTrainingError)
    encoder_spec = os.path.abspath(encoder_spec) if os.path.isdir(encoder_spec) else encoder_spec
    loaded = load_model(encoder_spec)
    if loaded.family != "open_clip":
        raise CaptionTrainingError(f"{encoder_spec}: the captioner is built on open_clip dual encoders")
    device = pick_device(config.device)
    torch.manual_seed(config.seed)
    started = time.monotonic()

    vocab = WordVocab.build(captions)
    embed_dim, token_dim, num_tokens = shape_of_features(loaded.model, loaded.image_size)
    decoder_config = DecoderConfig(vocab_size=len(vocab), embed_dim=embed_dim, token_dim=token_dim,
                                   num_tokens=num_tokens, width=config.width, layers=config.layers,
                                   max_len=config.max_len)
    embeddings, tokens = encode_features(loaded, images, device)
    ids = torch.zeros((len(captions), config.max_len + 1), dtype=torch.long)
    for row, caption in enumerate(captions):
        encoded = vocab.encode(caption, config.max_len + 1)
        ids[row, : len(encoded)] = torch.tensor(encoded)
    log.info("features of %d images in %.0f s", len(images), time.monotonic() - started)

    decoder = build_decoder(decoder_config).to(device)
    optimizer = torch.optim.AdamW(decoder.parameters(), lr=config.lr, weight_decay=0.01)
    steps_per_epoch = max(1, len(images) // config.batch_size)
    lr_at = WarmupCosine(config.lr, config.warmup_steps, steps_per_epoch * config.epochs)

    generator = torch.Generator().manual_seed(config.seed)
    step, history, train_started = 0, [], time.monotonic()
    out_of_time = False
    for epoch in range(config.epochs):
        decoder.train()
        order = torch.randperm(len(images), generator=generator)
        losses = []
        for start in range(0, steps_per_epoch * config.batch_size, config.batch_size):
            index = order[start:start + config.batch_size]
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step)
            batch_tokens = tokens[index].float().to(device) if tokens is not None else None
            memory = decoder.memory(embeddings[index].to(device), batch_tokens)
            batch_ids = ids[index].to(device)
            logits = decoder(memory, batch_ids[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch_ids[:, 1:].reshape(-1), ignore_index=0)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(decoder.parameters(), 1.0)
            optimizer.step()
            losses.append(float(loss.detach()))
            step += 1
            if config.max_seconds and step == 50:
                lr_at.fit_to_time(step, (time.monotonic() - train_started) / step,
                                  config.max_seconds - (time.monotonic() - started))
            if config.max_seconds and time.monotonic() - started > config.max_seconds:
                out_of_time = True
                break
        record = {"epoch": epoch + 1, "step": step, "loss": sum(losses) / len(losses),
                  "seconds": time.monotonic() - started}
        history.append(record)
        decoder.eval()
        save_captioner(out_dir, decoder, vocab, encoder_spec, history)
        log.info("captioner epoch %d: step %d, loss %.3f (%.0f s)", record["epoch"], step, record["loss"],
                 record["seconds"])
        if on_epoch:
            on_epoch(record)
        if out_of_time or step >= lr_at.total:
            break
    return CaptionTrainResult(out_dir, step, time.monotonic() - started, history)
