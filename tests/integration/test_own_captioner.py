"""clipdex's own captioner: trained here on generated scenes over a frozen random encoder,
it learns to name what it sees, saves a folder any part of clipdex loads, and refuses
bad training data clearly."""

import json
import random

import pytest

from retrieval.captioning import load_captioner
from retrieval.datasets import shapes
from retrieval.training import CaptionTrainConfig, CaptionTrainingError, train_captioner

ENCODER = "random:clipdex-tiny"


def _single_objects(count: int, seed: int):
    rng = random.Random(seed)
    seen, _ = shapes.pairs()
    scenes = [shapes.scene(rng, seen, objects=1) for _ in range(count)]
    return [shapes.draw(s) for s in scenes], [shapes.caption(s) for s in scenes], scenes


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("captioner"))
    images, captions, _ = _single_objects(1000, seed=0)
    result = train_captioner(images, captions, ENCODER, out,
                             CaptionTrainConfig(epochs=8, batch_size=64, warmup_steps=20, device="cpu"))
    return out, result


def test_a_trained_captioner_names_colour_and_shape_of_unseen_images(trained):
    out, result = trained
    assert result.steps == 8 * (1000 // 64) and len(result.history) == 8
    assert result.history[-1]["loss"] < result.history[0]["loss"] / 2
    captioner = load_captioner(out, device="cpu")
    images, captions, scenes = _single_objects(200, seed=1)
    written = captioner.caption(images)
    right = sum(shapes.names_every_object(w, s) for w, s in zip(written, scenes)) / len(scenes)
    assert right >= 0.3  # chance is 1 in 19 colour x shape pairs; the benchmark trains to >= 0.9
    assert all(w.startswith("a ") for w in written)
    assert captioner.caption(images[:5]) == written[:5]  # deterministic, batch or not


def test_a_prompt_is_the_start_of_every_caption(trained):
    captioner = load_captioner(trained[0], device="cpu")
    images, _, _ = _single_objects(4, seed=2)
    assert all(c.startswith("a large") for c in captioner.caption(images, prompt="a large"))
    assert not captioner.supports_answer
    with pytest.raises(ValueError, match="never saw in training: zebra"):  # not a caption starting "<unk>"
        captioner.caption(images, prompt="a large zebra")


def test_the_name_changes_when_the_weights_do(trained, tmp_path):
    out, _ = trained
    first = load_captioner(out, device="cpu").name
    images, captions, _ = _single_objects(64, seed=3)
    train_captioner(images, captions, ENCODER, str(tmp_path), CaptionTrainConfig(epochs=1, batch_size=64, seed=5))
    assert load_captioner(str(tmp_path), device="cpu").name.split("@")[1] != first.split("@")[1]


def test_bad_training_data_and_bad_folders_are_clear_errors(tmp_path):
    images, captions, _ = _single_objects(4, seed=4)
    with pytest.raises(CaptionTrainingError, match="4 images but 3 captions"):
        train_captioner(images, captions[:3], ENCODER, str(tmp_path))
    with pytest.raises(CaptionTrainingError, match="non-empty caption"):
        train_captioner(images, captions[:3] + [" "], ENCODER, str(tmp_path))
    with pytest.raises(CaptionTrainingError, match="no training pairs"):
        train_captioner([], [], ENCODER, str(tmp_path))
    (tmp_path / "captioner.json").write_text(json.dumps({"kind": "something else"}))
    (tmp_path / "captioner.pt").write_bytes(b"")
    with pytest.raises(RuntimeError, match="not a clipdex captioner"):
        load_captioner(str(tmp_path))
