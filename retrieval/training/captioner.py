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
    CONFIG_FILE,
    WEIGHTS_FILE,
    DecoderConfig,
    WordVocab,
    build_decoder,
    image_features,
    shape_of_features,
    token_source,
)
from retrieval.training.contrastive import check_pairs
from retrieval.training.optimiser import adamw
from retrieval.training.schedule import WarmupCosine

log = logging.getLogger(__name__)

FIT_SCHEDULE_AT_STEP = 50  # with a time budget: the schedule is fitted to the measured step time


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
    dropout: float = 0.1  # 0 for short runs: on a CPU its random masks cost a third of a step
    tokens_from: str = "penultimate"  # which patch tokens the decoder reads (own_model.image_features)
    max_seconds: float | None = None
    device: str | None = None
    seed: int = 0


@dataclass
class CaptionTrainResult:
    out_dir: str
    steps: int
    seconds: float
    history: list[dict] = field(default_factory=list)


def encode_features(loaded, images: list, device: str, batch_size: int = 256, tokens_from: str = "last"):
    """Frozen-tower features of PIL images: (embeddings, tokens or None) as CPU tensors
    (tokens in float16, to keep a large training set in memory)."""
    import torch

    model = loaded.model.to(device).eval()
    embeddings, tokens = [], []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            pixels = torch.stack([loaded.preprocess(image) for image in images[start:start + batch_size]])
            embedding, token = image_features(model, pixels.to(device), tokens_from)
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

    from retrieval.encoders.devices import pick_device
    from retrieval.models import load_model

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
    tokens_from = token_source(loaded.model, config.tokens_from)  # what this tower gives, as its config records
    embed_dim, token_dim, num_tokens = shape_of_features(loaded.model, loaded.image_size, tokens_from)
    decoder_config = DecoderConfig(vocab_size=len(vocab), embed_dim=embed_dim, token_dim=token_dim,
                                   num_tokens=num_tokens, width=config.width, layers=config.layers,
                                   max_len=config.max_len, tokens_from=tokens_from,
                                   dropout=config.dropout)
    embeddings, tokens = encode_features(loaded, images, device, tokens_from=tokens_from)
    ids = _caption_ids(vocab, captions, config.max_len + 1)
    log.info("features of %d images in %.0f s", len(images), time.monotonic() - started)

    decoder = build_decoder(decoder_config).to(device)
    run = _DecoderRun(decoder, adamw(decoder.parameters(), lr=config.lr, weight_decay=0.01),
                      WarmupCosine(config.lr, config.warmup_steps, max(1, len(images) // config.batch_size) * config.epochs),
                      config, device, started, time.monotonic())
    generator = torch.Generator().manual_seed(config.seed)
    history = []
    for epoch in range(config.epochs):
        losses, out_of_time = _captioner_epoch(run, embeddings, tokens, ids, generator)
        record = {"epoch": epoch + 1, "step": run.step, "loss": sum(losses) / len(losses),
                  "seconds": time.monotonic() - started}
        history.append(record)
        decoder.eval()
        save_captioner(out_dir, decoder, vocab, encoder_spec, history)
        log.info("captioner epoch %d: step %d, loss %.3f (%.0f s)", record["epoch"], run.step, record["loss"],
                 record["seconds"])
        if on_epoch:
            on_epoch(record)
        if out_of_time or run.step >= run.lr_at.total:
            break
    step = run.step
    return CaptionTrainResult(out_dir, step, time.monotonic() - started, history)


def _caption_ids(vocab: WordVocab, captions: list[str], length: int):
    """Word ids of every caption, zero-padded to the longest (at most ``length``): a step
    costs what the captions need, not the longest caption the decoder could write."""
    import torch

    ids = torch.zeros((len(captions), length), dtype=torch.long)
    longest = 2
    for row, caption in enumerate(captions):
        encoded = vocab.encode(caption, length)
        ids[row, : len(encoded)] = torch.tensor(encoded)
        longest = max(longest, len(encoded))
    return ids[:, :longest]


@dataclass
class _DecoderRun:
    decoder: object
    optimizer: object
    lr_at: WarmupCosine
    config: CaptionTrainConfig
    device: str
    started: float  # when the run started (features included): the time budget counts from here
    train_started: float  # when the decoder's steps started
    step: int = 0


def _captioner_epoch(run: _DecoderRun, embeddings, tokens, ids, generator) -> tuple[list[float], bool]:
    """One pass of teacher forcing over the captions; (losses, whether the time ran out)."""
    import torch
    import torch.nn.functional as F

    config, decoder = run.config, run.decoder
    decoder.train()
    order = torch.randperm(len(embeddings), generator=generator)
    losses = []
    for start in range(0, max(1, len(embeddings) // config.batch_size) * config.batch_size, config.batch_size):
        index = order[start:start + config.batch_size]
        for group in run.optimizer.param_groups:
            group["lr"] = run.lr_at(run.step)
        batch_tokens = tokens[index].float().to(run.device) if tokens is not None else None
        memory = decoder.memory(embeddings[index].to(run.device), batch_tokens)
        batch_ids = ids[index].to(run.device)
        logits = decoder(memory, batch_ids[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch_ids[:, 1:].reshape(-1), ignore_index=0)
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(decoder.parameters(), 1.0)
        run.optimizer.step()
        losses.append(float(loss.detach()))
        run.step += 1
        if config.max_seconds and run.step == FIT_SCHEDULE_AT_STEP:
            run.lr_at.fit_to_time(run.step, (time.monotonic() - run.train_started) / run.step,
                                  config.max_seconds - (time.monotonic() - run.started))
        if config.max_seconds and time.monotonic() - run.started > config.max_seconds:
            return losses, True
    return losses, False
