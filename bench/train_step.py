"""Where a training step's time goes on this CPU: clipdex-small before and after issue 24.

    python -m bench.train_step [--steps 20] [--batch-size 128] [--archs clipdex-small-before,clipdex-small]

For each architecture (open_clip config names; the first is the baseline), trains from
random weights on shapes scenes as retrieval.training does (pixels and tokens prepared
once, AdamW, the contrastive loss) and times each phase of a step: image forward, text
forward, loss, backward, optimiser. ``clipdex-small-before`` is the old clipdex-small
(64 px, MLP ratio 4, context 32, torch's MultiheadAttention blocks) with the tokenizer's
49,408-token embedding, as training made it; the others get a vocabulary sized for the
captions, as training does now (retrieval/models/compact_vocab.py). Prints one table with
each phase in ms, steps/s and the ratio to the baseline measured in the same run, with
the CPU's vector flags and torch's threads; writes bench/results/train_step.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from bench.common import cpu_flags, hub_offline, print_table, write_result

PHASES = ("image", "text", "loss", "backward", "optimiser")
BEFORE = "clipdex-small-before"
BEFORE_CONFIG = {"embed_dim": 128,
                 "vision_cfg": {"image_size": 64, "layers": 4, "width": 128, "head_width": 32, "patch_size": 8},
                 "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 128, "heads": 4, "layers": 3}}


def register_before() -> None:
    import tempfile

    import open_clip

    folder = tempfile.mkdtemp(prefix="clipdex-bench-configs-")
    with open(os.path.join(folder, f"{BEFORE}.json"), "w") as handle:
        json.dump(BEFORE_CONFIG, handle)
    open_clip.add_model_config(folder)


def new_model(arch: str, captions: list[str]):
    """The model a training run from scratch starts from: the old one with the whole
    tokenizer's embedding, every other one with a vocabulary sized for ``captions``."""
    from retrieval.models import load_model
    from retrieval.models.open_clip_loader import new_compact_model

    if arch == BEFORE:
        return load_model(f"random:{arch}")
    return new_compact_model(arch, captions)[0]


def profile(arch: str, steps: int, batch: int) -> dict:
    import torch

    from retrieval.datasets.shapes import make_split
    from retrieval.training.contrastive import TrainConfig, contrastive_loss, optimizer_for

    images, captions, _ = make_split(batch * 4, 0, "train")
    loaded = new_model(arch, captions)
    model = loaded.model.train()
    optimizer = optimizer_for(model, TrainConfig())
    pixels = torch.stack([loaded.preprocess(image) for image in images])
    tokens = loaded.tokenizer(captions)
    groups = torch.arange(len(images))
    spent = dict.fromkeys(PHASES, 0.0)
    for step in range(steps + 3):  # three to warm up
        index = torch.arange(step % 4 * batch, (step % 4 + 1) * batch)
        times = [time.perf_counter()]
        image_features = model.encode_image(pixels[index], normalize=True)
        times.append(time.perf_counter())
        text_features = model.encode_text(tokens[index], normalize=True)
        times.append(time.perf_counter())
        loss = contrastive_loss(image_features, text_features, model.logit_scale.exp(), groups[index])
        times.append(time.perf_counter())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        times.append(time.perf_counter())
        optimizer.step()
        times.append(time.perf_counter())
        if step >= 3:
            for phase, start, end in zip(PHASES, times, times[1:]):
                spent[phase] += end - start
    per_step = sum(spent.values()) / steps
    parameters = sum(p.numel() for p in model.parameters())
    embedding = model.token_embedding.weight.numel() if hasattr(model, "token_embedding") else 0
    return {"arch": arch, "params_m": parameters / 1e6, "embedding_m": embedding / 1e6,
            **{f"{phase}_ms": spent[phase] / steps * 1000 for phase in PHASES},
            "step_ms": per_step * 1000, "steps_per_s": 1 / per_step}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--archs", default=f"{BEFORE},clipdex-small")
    args = parser.parse_args()
    hub_offline()

    import torch

    from retrieval.models import register_clipdex_configs

    register_clipdex_configs()
    register_before()
    torch.manual_seed(0)
    rows = [profile(arch, args.steps, args.batch_size) for arch in args.archs.split(",")]
    for row in rows:
        row["speed-up"] = row["steps_per_s"] / rows[0]["steps_per_s"]
    flags = cpu_flags()
    print(f"\n{args.steps} steps of batch {args.batch_size}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs; {' '.join(flags)}")
    print_table([("arch", "24s", "arch"), ("params M", "8.2f", "params_m"), ("emb M", "6.2f", "embedding_m")]
                + [(f"{phase} ms", "10.1f", f"{phase}_ms") for phase in PHASES]
                + [("step ms", "8.1f", "step_ms"), ("steps/s", "7.2f", "steps_per_s"),
                   ("speed-up", "8.2f", "speed-up")], rows)
    write_result("train_step.json", {"steps": args.steps, "batch_size": args.batch_size, "cpu_flags": flags,
                                     "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
                                     "torch": torch.__version__, "rows": rows})


if __name__ == "__main__":
    main()
