"""Contrastive training and fine-tuning of open_clip dual encoders.

Symmetric InfoNCE with a learnable temperature (open_clip's ClipLoss and logit_scale),
AdamW with warm-up and cosine decay, mixed precision on a GPU. Each epoch ends with an
evaluation (recall@1/5/10 both ways, zero-shot accuracy when labels are given) and a
checkpoint: the model as a directory every part of clipdex loads as a model spec
(model_dir.py), and the optimiser state beside it for resuming.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from retrieval.atomic_io import atomic_write_bytes
from retrieval.training.errors import TrainingError
from retrieval.training.evaluation import EvalData, evaluate
from retrieval.training.finetune import freeze_for
from retrieval.training.model_dir import CONFIG_FILE, STATE_FILE, model_cfg_of, save_model_dir
from retrieval.training.optimiser import adamw
from retrieval.training.schedule import WarmupCosine

log = logging.getLogger(__name__)

FIT_SCHEDULE_AT_STEPS = (20, 200)  # with a time budget: the schedule is fitted to the measured step time


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.1
    warmup_steps: int = 50
    finetune: str = "full"  # full | proj (projections) | last (last blocks + projections) | lora (MLP adapters + projections)
    device: str | None = None
    seed: int = 0
    max_seconds: float | None = None  # stop (and checkpoint) once this much time has passed
    max_steps: int | None = None  # this many steps in all, more epochs if need be: the same run on every machine
    progress: bool = True


@dataclass
class TrainResult:
    out_dir: str
    steps: int
    epochs: int
    history: list[dict] = field(default_factory=list)


def check_pairs(images: list, captions: list[str], error: type[Exception]) -> None:
    """Raise ``error`` unless every image has one non-empty caption."""
    if not images:
        raise error("no training pairs: the data has no images")
    if len(images) != len(captions):
        raise error(f"{len(images)} images but {len(captions)} captions")
    if any(not c or not c.strip() for c in captions):
        raise error("every image needs a non-empty caption")


def _starting_point(out_dir: str, arch: str | None, base: str | None, captions: list[str]):
    """(loaded model, its open_clip config, the saved training state or None): a run to
    resume in ``out_dir``, else a new model of ``arch`` with a vocabulary sized for
    ``captions``, else ``base`` to fine-tune."""
    import open_clip
    import torch

    from retrieval.models import load_model
    from retrieval.models.open_clip_loader import new_compact_model

    resume_path = os.path.join(out_dir, STATE_FILE)
    if os.path.exists(resume_path) and os.path.exists(os.path.join(out_dir, CONFIG_FILE)):
        loaded = load_model(out_dir)
        with open(os.path.join(out_dir, CONFIG_FILE)) as handle:
            model_cfg = json.load(handle)["model_cfg"]
        state = torch.load(resume_path, map_location="cpu", weights_only=False)
        log.info("resuming from step %d (epoch %d)", state["step"], state["epoch"])
        return loaded, model_cfg, state
    if arch is not None:
        if arch not in open_clip.list_models():
            raise TrainingError(f"unknown architecture {arch!r}")
        return new_compact_model(arch, captions) + (None,)
    return load_model(base), model_cfg_of(base), None


def optimizer_for(model, config: TrainConfig):
    params = [p for p in model.parameters() if p.requires_grad]
    return adamw([{"params": [p for p in params if p.ndim >= 2], "weight_decay": config.weight_decay},
                  {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}], lr=config.lr)


def _training_tensors(loaded, images: list, captions: list[str], groups: list[int] | None):
    """Pixels (float16, preprocessed once), tokens and group ids of every pair."""
    import torch

    pixels = torch.stack([loaded.preprocess(image) for image in images]).to(torch.float16)
    tokens = loaded.tokenizer(captions)
    if groups is None:
        groups = np.unique(np.asarray(captions), return_inverse=True)[1].tolist()
    if len(groups) != len(images):
        raise TrainingError(f"{len(groups)} groups for {len(images)} pairs")
    return pixels, tokens, torch.as_tensor(groups)


@dataclass
class _Run:
    """A training run between epochs: what steps and checkpoints need."""

    model: object
    optimizer: object
    lr_at: WarmupCosine
    config: TrainConfig
    device: str
    started: float
    step: int = 0
    steps_this_run: int = 0
    history: list = field(default_factory=list)
    bar: object = None

    def out_of_time(self) -> bool:
        """Whether the run must stop now: its time budget spent, or its number of steps done."""
        if self.config.max_steps is not None and self.step >= self.config.max_steps:
            return True
        return bool(self.config.max_seconds) and time.monotonic() - self.started > self.config.max_seconds


def _step(run: _Run, pixels, tokens, groups, amp) -> float:
    import torch

    for group in run.optimizer.param_groups:
        group["lr"] = run.lr_at(run.step)
    with amp:
        image_features, text_features, logit_scale = run.model(pixels.float().to(run.device), tokens.to(run.device))[:3]
        loss = contrastive_loss(image_features, text_features, logit_scale, groups.to(run.device))
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    run.optimizer.step()
    with torch.no_grad():
        run.model.logit_scale.clamp_(0, math.log(100))
    run.step += 1
    run.steps_this_run += 1
    if run.config.max_seconds and run.steps_this_run in FIT_SCHEDULE_AT_STEPS:
        elapsed = time.monotonic() - run.started
        run.lr_at.fit_to_time(run.step, elapsed / run.steps_this_run, run.config.max_seconds - elapsed)
    return float(loss.detach())


def _epoch(run: _Run, pixels, tokens, group_ids, generator) -> tuple[list[float], bool]:
    """One pass over the pairs in a random order; (losses, whether the time ran out)."""
    import torch

    amp = torch.autocast("cuda", dtype=torch.bfloat16) if run.device == "cuda" else contextlib.nullcontext()
    batch = run.config.batch_size
    order = torch.randperm(len(pixels), generator=generator)
    losses = []
    for start in range(0, (len(pixels) // batch or 1) * batch, batch):
        index = order[start:start + batch]
        losses.append(_step(run, pixels[index], tokens[index], group_ids[index], amp))
        if run.bar is not None:
            run.bar.update(1)
            run.bar.set_postfix(loss=f"{losses[-1]:.3f}")
        if run.out_of_time():
            return losses, True
    return losses, False


def _checkpoint(run: _Run, model_cfg: dict, token_ids: list[int] | None, out_dir: str, epoch: int) -> None:
    import torch

    save_model_dir(run.model, model_cfg, out_dir, token_ids)
    buffer = io.BytesIO()
    torch.save({"optimizer": run.optimizer.state_dict(), "step": run.step, "epoch": epoch, "history": run.history},
               buffer)
    atomic_write_bytes(os.path.join(out_dir, STATE_FILE), buffer.getvalue())


def _evaluated(run: _Run, loaded, eval_data: EvalData) -> dict:
    from retrieval.encoders import TorchEncoder
    from retrieval.models import LoadedModel

    run.model.eval()
    encoder = TorchEncoder(LoadedModel(loaded.spec, run.model, loaded.preprocess, loaded.tokenizer, loaded.embed_dim,
                                       loaded.image_size), device=run.device, batch_size=256)
    metrics = evaluate(encoder, eval_data)
    run.model.train()
    return metrics


def train(
    images: list,
    captions: list[str],
    out_dir: str,
    arch: str | None = None,
    base: str | None = None,
    config: TrainConfig | None = None,
    eval_data: EvalData | None = None,
    on_epoch: Callable[[dict], None] | None = None,
    groups: list[int] | None = None,
) -> TrainResult:
    """Train a new model of ``arch`` (an open_clip config name), or fine-tune ``base``
    (a model spec). Resumes from ``out_dir`` when it holds a training state.

    ``groups``: pairs of one group (a class) are all positives of each other; by default
    pairs with identical captions are. With templated captions, a batch holds many
    pairs of a class: plain InfoNCE would push them apart as negatives.
    """
    import torch

    from retrieval.encoders import pick_device
    from retrieval.models import register_clipdex_configs

    config = config or TrainConfig()
    check_pairs(images, captions, TrainingError)
    if (arch is None) == (base is None):
        raise TrainingError("give either an architecture to train from scratch or a model to fine-tune")
    register_clipdex_configs()
    device = pick_device(config.device)
    torch.manual_seed(config.seed)
    loaded, model_cfg, state = _starting_point(out_dir, arch, base, captions)
    token_ids = getattr(loaded.tokenizer, "token_ids", None)  # a compact vocabulary, kept by every save
    model = loaded.model.to(device)
    model.train()
    freeze_for(model, config.finetune)
    optimizer = optimizer_for(model, config)
    steps_per_epoch = max(1, len(images) // config.batch_size)
    epochs = config.epochs  # with max_steps, as many passes as those steps take
    if config.max_steps is not None:
        epochs = max(epochs, -(-config.max_steps // steps_per_epoch))
    total_steps = steps_per_epoch * epochs if config.max_steps is None else config.max_steps
    run = _Run(model, optimizer, WarmupCosine(config.lr, config.warmup_steps, total_steps), config, device, 0.0)
    first_epoch = 0
    if state is not None:
        if config.finetune == "lora":  # the saved model has its adapters merged: new ones start at zero
            log.info("LoRA: resuming with fresh adapters on the merged weights")
        else:
            optimizer.load_state_dict(state["optimizer"])
        run.step, first_epoch, run.history = state["step"], state["epoch"], state.get("history", [])
    pixels, tokens, group_ids = _training_tensors(loaded, images, captions, groups)
    generator = torch.Generator().manual_seed(config.seed)
    for _ in range(first_epoch):  # resumed after a finished epoch: the orders the uninterrupted run sees
        torch.randperm(len(pixels), generator=generator)
    run.started = time.monotonic()
    run.bar = _bar(total_steps, run.step, config.progress)
    for epoch in range(first_epoch, epochs):
        if run.out_of_time():  # resumed after its last step: not one more
            break
        losses, out_of_time = _epoch(run, pixels, tokens, group_ids, generator)
        record = {"epoch": epoch + 1, "step": run.step, "loss": float(np.mean(losses)),
                  "seconds": time.monotonic() - run.started}
        if eval_data is not None:
            record.update(_evaluated(run, loaded, eval_data))
        run.history.append(record)
        _checkpoint(run, model_cfg, token_ids, out_dir, epoch + 1 if not out_of_time else epoch)
        log.info("epoch %d: step %d, loss %.3f (%.0f s)%s", record["epoch"], record["step"], record["loss"],
                 record["seconds"], "".join(f", {k} {v:.3f}" for k, v in record.items()
                                            if k not in ("epoch", "step", "loss", "seconds")))
        if on_epoch:
            on_epoch(record)
        if out_of_time:
            break
    if run.bar is not None:
        run.bar.close()
    model.eval()
    return TrainResult(out_dir=out_dir, steps=run.step, epochs=len(run.history), history=run.history)


def contrastive_loss(image_features, text_features, logit_scale, groups):
    """Symmetric InfoNCE; every pair of the same group counts as a positive.

    With all groups distinct this is exactly CLIP's loss (cross-entropy against the
    diagonal in both directions).
    """
    import torch.nn.functional as F

    logits = logit_scale * image_features.float() @ text_features.float().T
    positives = (groups[:, None] == groups[None, :]).float()
    targets = positives / positives.sum(dim=1, keepdim=True)
    image_to_text = -(targets * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
    text_to_image = -(targets * F.log_softmax(logits.T, dim=1)).sum(dim=1).mean()
    return (image_to_text + text_to_image) / 2


def _bar(total: int, done: int, enabled: bool):
    import sys

    if not enabled or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=done, unit="step", desc="training")
