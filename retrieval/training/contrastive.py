"""Contrastive training and fine-tuning of open_clip dual encoders.

Symmetric InfoNCE with a learnable temperature (open_clip's ClipLoss and logit_scale),
AdamW with warm-up and cosine decay, mixed precision on a GPU. Each epoch ends with an
evaluation (recall@1/5/10 both ways, zero-shot accuracy when labels are given) and a
checkpoint: the model as a directory every part of clipdex loads as a model spec
(open_clip_config.json + weights), and the optimiser state beside it for resuming.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from retrieval.atomic_io import atomic_write_bytes
from retrieval.training.schedule import WarmupCosine

log = logging.getLogger(__name__)

STATE_FILE = "train_state.pt"
WEIGHTS_FILE = "open_clip_pytorch_model.bin"
CONFIG_FILE = "open_clip_config.json"


class TrainingError(ValueError):
    pass


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
    progress: bool = True


@dataclass
class EvalData:
    images: list  # PIL images
    captions: list[str]  # one per image, distinct
    labels: list[str] | None = None  # zero-shot class names, if any
    targets: list[int] | None = None  # index into labels per image
    templates: list[str] | None = None


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


def _freeze_for(model, mode: str) -> None:
    import torch

    if mode == "full":
        return
    if mode not in ("proj", "last", "lora"):
        raise TrainingError(f"unknown fine-tune mode {mode!r}: use full, proj, last or lora")
    for param in model.parameters():
        param.requires_grad = False
    trainable: list = [model.logit_scale]
    visual = model.visual
    if isinstance(getattr(visual, "proj", None), torch.nn.Parameter):
        trainable.append(visual.proj)
    if isinstance(getattr(model, "text_projection", None), torch.nn.Parameter):
        trainable.append(model.text_projection)
    if mode == "last":
        for module in (visual.transformer.resblocks[-1], visual.ln_post, model.transformer.resblocks[-1], model.ln_final):
            trainable.extend(module.parameters())
    for param in trainable:
        param.requires_grad = True
    if mode == "lora":
        from retrieval.training.lora import add_lora

        add_lora(model)  # adapter parameters are created trainable


def recall_at(similarity: np.ndarray, ks=(1, 5, 10)) -> dict:
    """Recall@k where row i's correct column is i."""
    ranks = (similarity > similarity[np.arange(len(similarity)), np.arange(len(similarity))][:, None]).sum(axis=1)
    return {f"R@{k}": float((ranks < k).mean()) for k in ks}


def evaluate(encoder, data: EvalData) -> dict:
    """Retrieval both ways on distinct captions; zero-shot accuracy when labels are given."""
    from retrieval.zero_shot import label_vectors

    images = encoder.embed_images(data.images)
    texts = encoder.embed_texts(data.captions)
    similarity = images @ texts.T
    out = {f"image->text {k}": v for k, v in recall_at(similarity).items()}
    out.update({f"text->image {k}": v for k, v in recall_at(similarity.T).items()})
    if data.labels:
        labels = label_vectors(encoder, data.labels, data.templates or ["a {}"])
        predicted = (images @ labels.T).argmax(axis=1)
        out["zero-shot accuracy"] = float((predicted == np.asarray(data.targets)).mean())
    return out


def save_model_dir(model, model_cfg: dict, out_dir: str) -> None:
    """The model in the layout open_clip's local-dir loading reads: a model spec."""
    import io

    import torch

    os.makedirs(out_dir, exist_ok=True)
    buffer = io.BytesIO()
    from retrieval.training.lora import plain_state_dict

    torch.save(plain_state_dict(model), buffer)  # LoRA adapters merged: a plain open_clip model
    atomic_write_bytes(os.path.join(out_dir, WEIGHTS_FILE), buffer.getvalue())
    config = {"model_cfg": model_cfg, "preprocess_cfg": dict(model.visual.preprocess_cfg)}
    atomic_write_bytes(os.path.join(out_dir, CONFIG_FILE), json.dumps(config, indent=2).encode())


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
    import open_clip
    import torch

    from retrieval.encoders.devices import pick_device
    from retrieval.encoders.base import Encoder
    from retrieval.models.loading import LoadedModel, _register_clipdex_configs, load_model

    config = config or TrainConfig()
    check_pairs(images, captions, TrainingError)
    if (arch is None) == (base is None):
        raise TrainingError("give either an architecture to train from scratch or a model to fine-tune")
    _register_clipdex_configs()
    device = pick_device(config.device)
    torch.manual_seed(config.seed)

    resume_path = os.path.join(out_dir, STATE_FILE)
    if os.path.exists(resume_path) and os.path.exists(os.path.join(out_dir, CONFIG_FILE)):
        loaded = load_model(out_dir)
        with open(os.path.join(out_dir, CONFIG_FILE)) as handle:
            model_cfg = json.load(handle)["model_cfg"]
        state = torch.load(resume_path, map_location="cpu", weights_only=False)
        log.info("resuming from step %d (epoch %d)", state["step"], state["epoch"])
    elif arch is not None:
        if arch not in open_clip.list_models():
            raise TrainingError(f"unknown architecture {arch!r}")
        model_cfg = open_clip.get_model_config(arch)
        loaded = load_model(f"random:{arch}")
        state = None
    else:
        loaded = load_model(base)
        model_cfg = _model_cfg_of(base)
        state = None

    model = loaded.model.to(device)
    model.train()
    _freeze_for(model, config.finetune)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.lr,
    )
    steps_per_epoch = max(1, len(images) // config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    step, first_epoch, history = 0, 0, []
    if state is not None:
        if config.finetune == "lora":  # the saved model has its adapters merged: new ones start at zero
            log.info("LoRA: resuming with fresh adapters on the merged weights")
        else:
            optimizer.load_state_dict(state["optimizer"])
        step, first_epoch, history = state["step"], state["epoch"], state.get("history", [])

    lr_at = WarmupCosine(config.lr, config.warmup_steps, total_steps)

    def fit_schedule_to_time(steps_done: int) -> None:
        elapsed = time.monotonic() - started
        lr_at.fit_to_time(step, elapsed / max(1, steps_done), config.max_seconds - elapsed)

    pixels = torch.stack([loaded.preprocess(image) for image in images]).to(torch.float16)
    tokens = loaded.tokenizer(captions)
    if groups is None:
        groups = np.unique(np.asarray(captions), return_inverse=True)[1].tolist()
    if len(groups) != len(images):
        raise TrainingError(f"{len(groups)} groups for {len(images)} pairs")
    group_ids = torch.as_tensor(groups)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if device == "cuda" else contextlib.nullcontext()
    generator = torch.Generator().manual_seed(config.seed)
    started = time.monotonic()
    bar = _bar(total_steps, step, config.progress)

    def checkpoint(epoch: int) -> None:
        save_model_dir(model, model_cfg, out_dir)
        import io

        buffer = io.BytesIO()
        torch.save({"optimizer": optimizer.state_dict(), "step": step, "epoch": epoch, "history": history}, buffer)
        atomic_write_bytes(resume_path, buffer.getvalue())

    out_of_time = False
    steps_this_run = 0
    for epoch in range(first_epoch, config.epochs):
        order = torch.randperm(len(images), generator=generator)
        losses = []
        for batch_start in range(0, steps_per_epoch * config.batch_size, config.batch_size):
            index = order[batch_start:batch_start + config.batch_size]
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step)
            with amp:
                image_features, text_features, logit_scale = model(
                    pixels[index].float().to(device), tokens[index].to(device)
                )[:3]
                loss = contrastive_loss(image_features, text_features, logit_scale, group_ids[index].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                model.logit_scale.clamp_(0, math.log(100))
            losses.append(float(loss.detach()))
            step += 1
            steps_this_run += 1
            if config.max_seconds and steps_this_run in (20, 200):
                fit_schedule_to_time(steps_this_run)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{losses[-1]:.3f}")
            if config.max_seconds and time.monotonic() - started > config.max_seconds:
                out_of_time = True
                break
        record = {"epoch": epoch + 1, "step": step, "loss": float(np.mean(losses)), "seconds": time.monotonic() - started}
        if eval_data is not None:
            model.eval()
            encoder = Encoder(LoadedModel(loaded.spec, model, loaded.preprocess, loaded.tokenizer, loaded.embed_dim,
                                          loaded.image_size), device=device, batch_size=256)
            record.update(evaluate(encoder, eval_data))
            model.train()
        history.append(record)
        checkpoint(epoch + 1 if not out_of_time else epoch)
        log.info("epoch %d: step %d, loss %.3f (%.0f s)%s", record["epoch"], record["step"], record["loss"],
                 record["seconds"], "".join(f", {k} {v:.3f}" for k, v in record.items()
                                            if k not in ("epoch", "step", "loss", "seconds")))
        if on_epoch:
            on_epoch(record)
        if out_of_time:
            break
    if bar is not None:
        bar.close()
    model.eval()
    return TrainResult(out_dir=out_dir, steps=step, epochs=len(history), history=history)


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


def _model_cfg_of(spec: str) -> dict:
    """The open_clip config of a spec, to write beside fine-tuned weights."""
    import open_clip

    from retrieval.models.loading import parse_spec

    parsed = parse_spec(spec)
    if parsed["kind"] == "local-dir":
        with open(os.path.join(parsed["path"], CONFIG_FILE)) as handle:
            return json.load(handle)["model_cfg"]
    if "arch" in parsed:
        return open_clip.get_model_config(parsed["arch"])
    raise TrainingError(f"cannot fine-tune {spec!r}: use a local model directory or ARCH/TAG")


def _bar(total: int, done: int, enabled: bool):
    import sys

    if not enabled or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=done, unit="step", desc="training")
