"""Each transformers captioner family, loaded from a tiny random model saved offline: it
loads from its folder, is prompted its own way, batches, answers where it can; and
CoCa through open_clip. Captions of random weights are noise: what is checked is that
the same image gets the same words alone and in a batch, one per image."""

import json
import time

import pytest
from PIL import Image

pytest.importorskip("transformers")

from tiny_vlms import CAPTIONERS  # noqa: E402

from retrieval.captioning import AnswerNotSupported, CaptionerError, PromptTooLong, load_captioner  # noqa: E402


def _images():
    return [Image.new("RGB", (40, 30), (200, 20, 20)), Image.new("RGB", (64, 64), (20, 20, 200)),
            Image.new("L", (20, 50), 128)]  # grey: converted to RGB on the way in


@pytest.fixture(scope="module", params=sorted(CAPTIONERS))
def family(request, tmp_path_factory):
    folder = str(tmp_path_factory.mktemp(request.param))
    CAPTIONERS[request.param](folder)
    return request.param, folder


def test_each_family_loads_batches_and_generates(family):
    _, folder = family
    captioner = load_captioner(folder, device="cpu")
    assert captioner.name.startswith(f"transformers:{folder}@")
    images = _images()
    batched = captioner.caption(images)
    assert len(batched) == 3 and all(isinstance(c, str) for c in batched)
    captioner.batch_size = 1
    assert [captioner.caption([image])[0] for image in images] == batched  # padding and slicing are right
    assert load_captioner(f"transformers:{folder}", device="cpu").caption(images[:1]) == batched[:1]


def test_each_family_answers_or_says_it_cannot(family):
    name, folder = family
    captioner = load_captioner(folder, device="cpu")
    expected = name not in ("blip", "florence2", "git")  # captioning-only checkpoints (GIT: by its name)
    assert captioner.supports_answer == expected
    if expected:
        answers = captioner.answer(_images()[:2], "what colour is it?")
        assert len(answers) == 2 and all(isinstance(a, str) for a in answers)
    else:
        with pytest.raises(AnswerNotSupported):
            captioner.answer(_images()[:1], "what colour is it?")


def test_over_long_prompts_are_refused_before_any_work(family):
    captioner = load_captioner(family[1], device="cpu")
    with pytest.raises(PromptTooLong):
        captioner.caption(_images()[:1], prompt="a" * 301)


def test_missing_weights_fail_fast_with_a_clear_message(tmp_path):
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="hf download"):
        load_captioner("transformers:Salesforce/blip-image-captioning-base-not-here")
    assert time.monotonic() - started < 30
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "blip"}))
    with pytest.raises(CaptionerError, match="cannot load"):
        load_captioner(str(tmp_path))
    with pytest.raises(CaptionerError, match="unknown captioner"):
        load_captioner("no-such-captioner")


def test_coca_generates_with_its_own_decoder_and_takes_a_prompt(tmp_path):
    import open_clip
    import torch

    config = {"embed_dim": 32, "custom_text": True,
              "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 8, "head_width": 16,
                             "attentional_pool": True, "attn_pooler_heads": 2, "output_tokens": True},
              "text_cfg": {"context_length": 20, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1,
                           "embed_cls": True, "output_tokens": True},
              "multimodal_cfg": {"context_length": 20, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1,
                                 "attn_pooler_heads": 2}}
    (tmp_path / "test-coca-tiny.json").write_text(json.dumps(config))
    open_clip.add_model_config(tmp_path)
    captioner = load_captioner("coca:random:test-coca-tiny", device="cpu")
    torch.nn.init.normal_(captioner.model.text_decoder.text_projection, std=1.0)  # random init projects to zeros
    captions = captioner.caption(_images())
    assert len(captions) == 3 and all(c for c in captions)
    assert all(c.startswith("a photo of") for c in captioner.caption(_images(), prompt="a photo of"))
    with pytest.raises(CaptionerError, match="not a CoCa model"):
        load_captioner("coca:random:clipdex-tiny")
    # Captions are cached under the captioner's name: it must change with the weights.
    other = load_captioner("coca:random:test-coca-tiny", device="cpu")
    assert other.name != captioner.name  # random weights are new at every load
    checkpoint = tmp_path / "coca.pt"
    torch.save(captioner.model.state_dict(), checkpoint)
    first = load_captioner(f"coca:test-coca-tiny/{checkpoint}", device="cpu").name
    assert first == load_captioner(f"coca:test-coca-tiny/{checkpoint}", device="cpu").name
    torch.save(other.model.state_dict(), checkpoint)  # retrained, saved over the old file
    assert load_captioner(f"coca:test-coca-tiny/{checkpoint}", device="cpu").name != first


def test_florence_takes_caption_tasks_only(tmp_path):
    CAPTIONERS["florence2"](str(tmp_path))
    captioner = load_captioner(str(tmp_path), device="cpu")
    assert len(captioner.caption(_images()[:1], prompt="<DETAILED_CAPTION>")) == 1
    with pytest.raises(ValueError, match="task tokens"):
        captioner.caption(_images()[:1], prompt="<OD>")  # boxes, not a caption
