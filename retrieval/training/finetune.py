"""What fine-tuning trains: everything, the projections, the last blocks, or LoRA adapters."""

from __future__ import annotations

from retrieval.training.errors import TrainingError

FINETUNE_MODES = ("full", "proj", "last", "lora")


def freeze_for(model, mode: str) -> None:
    """Leave trainable only what ``mode`` trains (LoRA: adapters are added, trainable)."""
    import torch

    if mode == "full":
        return
    if mode not in FINETUNE_MODES:
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
