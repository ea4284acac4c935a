"""Contrastive training on generated data: it learns, it checkpoints, it resumes."""

import os

import numpy as np
import pytest

from retrieval.datasets.shapes import make_split
from retrieval.encoders import TorchEncoder
from retrieval.models import load_model
from retrieval.training import EvalData, TrainConfig, TrainingError, evaluate, train


@pytest.fixture(scope="module")
def shapes():
    images, captions, _ = make_split(2048, 0, "train")
    test_images, test_captions, _ = make_split(200, 0, "test", distinct=True)
    return images, captions, EvalData(test_images, test_captions)


def test_a_short_run_beats_chance_by_far_and_writes_a_model_spec(tmp_path, shapes):
    images, captions, held = shapes
    out = str(tmp_path / "model")
    result = train(images, captions, out, arch="clipdex-small",
                   config=TrainConfig(epochs=2, batch_size=128, warmup_steps=10, progress=False), eval_data=held)
    first, last = result.history[0], result.history[-1]
    assert last["loss"] < first["loss"]
    # chance: R@10 = 10/200 = 0.05 either way
    assert last["text->image R@10"] > 0.25 and last["image->text R@10"] > 0.25
    assert os.path.exists(os.path.join(out, "open_clip_config.json"))
    loaded = load_model(out)  # the output is a model spec like any other
    again = evaluate(TorchEncoder(loaded, device="cpu"), held)
    assert again["text->image R@10"] == pytest.approx(last["text->image R@10"], abs=0.02)


def test_resume_continues_from_the_same_step(tmp_path, shapes):
    images, captions, _ = shapes
    images, captions = images[:256], captions[:256]
    out = str(tmp_path / "model")
    config = TrainConfig(epochs=2, batch_size=64, warmup_steps=2, progress=False)
    first = train(images, captions, out, arch="clipdex-tiny", config=config)
    assert first.steps == 8
    config.epochs = 3
    resumed = train(images, captions, out, arch="clipdex-tiny", config=config)
    assert resumed.steps == 12 and [h["step"] for h in resumed.history] == [4, 8, 12]
    assert resumed.history[:2] == first.history


def test_a_run_stopped_and_resumed_trains_the_model_an_uninterrupted_run_does(tmp_path, shapes):
    import torch

    images, captions, _ = shapes
    images, captions = images[:256], captions[:256]
    config = TrainConfig(epochs=3, batch_size=64, warmup_steps=2, progress=False)
    train(images, captions, str(tmp_path / "straight"), arch="clipdex-tiny", config=config)
    stopped = str(tmp_path / "stopped")

    def crash_after_two(record):
        if record["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(images, captions, stopped, arch="clipdex-tiny", config=config, on_epoch=crash_after_two)
    train(images, captions, stopped, arch="clipdex-tiny", config=config)
    straight, resumed = load_model(str(tmp_path / "straight")).model.state_dict(), load_model(stopped).model.state_dict()
    assert all(torch.equal(straight[name], resumed[name]) for name in straight)  # the same pairs in the same order


def _base_model(tmp_path, images, captions) -> str:
    """A tiny model trained one epoch on the first 256 pairs, to fine-tune from."""
    base = str(tmp_path / "base")
    train(images[:256], captions[:256], base, arch="clipdex-tiny",
          config=TrainConfig(epochs=1, batch_size=64, progress=False))
    return base


def test_fine_tuning_only_the_projections_leaves_the_towers_alone(tmp_path, shapes):
    images, captions, _ = shapes
    base = _base_model(tmp_path, images, captions)
    tuned = str(tmp_path / "tuned")
    train(images[256:512], captions[256:512], tuned, base=base,
          config=TrainConfig(epochs=1, batch_size=64, finetune="proj", progress=False))
    before, after = load_model(base).model.state_dict(), load_model(tuned).model.state_dict()
    assert not np.allclose(before["text_projection"].numpy(), after["text_projection"].numpy())
    assert np.array_equal(before["visual.conv1.weight"].numpy(), after["visual.conv1.weight"].numpy())


def test_bad_training_input_is_refused(tmp_path):
    with pytest.raises(TrainingError, match="no training pairs"):
        train([], [], str(tmp_path / "m"), arch="clipdex-tiny")
    images, captions, _ = make_split(4, 0, "train")
    with pytest.raises(TrainingError, match="non-empty caption"):
        train(images, captions[:3] + [" "], str(tmp_path / "m"), arch="clipdex-tiny")
    with pytest.raises(TrainingError, match="unknown architecture"):
        train(images, captions, str(tmp_path / "m"), arch="NoSuchNet")
    with pytest.raises(TrainingError, match="either"):
        train(images, captions, str(tmp_path / "m"))


def test_the_loss_is_clips_when_groups_are_distinct_and_multi_positive_otherwise():
    import open_clip
    import torch

    from retrieval.training import contrastive_loss

    torch.manual_seed(0)
    images = torch.nn.functional.normalize(torch.randn(8, 16), dim=1)
    texts = torch.nn.functional.normalize(torch.randn(8, 16), dim=1)
    scale = torch.tensor(20.0)
    clip = open_clip.ClipLoss()(images, texts, scale)
    assert torch.allclose(contrastive_loss(images, texts, scale, torch.arange(8)), clip, atol=1e-5)
    # With groups: cross-entropy against "any member of my group", both directions.
    same_class = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    logits = (scale * images @ texts.T).double()
    member = (same_class[:, None] == same_class[None, :]).double() / 2
    expected = 0.5 * (-(member * logits.log_softmax(1)).sum(1).mean() - (member * logits.T.log_softmax(1)).sum(1).mean())
    assert torch.allclose(contrastive_loss(images, texts, scale, same_class).double(), expected, atol=1e-5)


def test_lora_fine_tuning_changes_the_model_and_saves_a_plain_one(tmp_path, shapes):
    images, captions, _ = shapes
    base = _base_model(tmp_path, images, captions)
    tuned = str(tmp_path / "lora")
    train(images[256:512], captions[256:512], tuned, base=base,
          config=TrainConfig(epochs=2, batch_size=64, finetune="lora", lr=1e-2, progress=False))
    before, after = load_model(base).model.state_dict(), load_model(tuned).model.state_dict()
    assert set(before) == set(after)  # merged: no adapter keys, loads as a plain model
    mlp = "transformer.resblocks.0.mlp.c_fc.weight"
    assert not np.allclose(before[mlp].numpy(), after[mlp].numpy())
    attention = "transformer.resblocks.0.attn.in_proj_weight"
    assert np.array_equal(before[attention].numpy(), after[attention].numpy())  # frozen outside the adapters


def test_lora_adapters_start_as_the_identity():
    import torch

    from retrieval.training.lora import LoRALinear, plain_state_dict

    layer = torch.nn.Linear(6, 4)
    wrapped = LoRALinear(layer, rank=2)
    x = torch.randn(3, 6)
    assert torch.allclose(wrapped(x), layer(x))
    holder = torch.nn.Sequential(wrapped)
    assert set(plain_state_dict(holder)) == {"0.weight", "0.bias"}
