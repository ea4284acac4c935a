"""The word vocabulary of the own captioner, the caption metrics, and the shapes check."""

import pytest

from retrieval.captioning.metrics import bleu4, cider_d
from retrieval.captioning.own_model import WordVocab
from retrieval.datasets.shapes import Thing, names_every_object


def test_vocabulary_round_trips_words_and_punctuation():
    vocab = WordVocab.build(["a large red circle, a small blue square and a green diamond", "A red square."])
    ids = vocab.encode("A large red circle, a small blue square", max_len=32)
    assert ids[0] == 1 and ids[-1] == 2
    assert vocab.decode(ids[1:]) == "a large red circle, a small blue square"
    assert vocab.decode(vocab.encode("a purple circle", 32)[1:]) == "a <unk> circle"  # unknown words stay visible
    assert len(vocab.encode(" ".join(["red"] * 50), max_len=10)) == 10  # cut, the end mark kept


def test_metrics_reward_the_right_caption_and_punish_the_wrong_one():
    truth = ["a small red circle above a large blue square", "a large green triangle", "a small yellow diamond"]
    refs = [[t] for t in truth]
    assert bleu4(truth, refs) == pytest.approx(1.0)
    wrong = truth[1:] + truth[:1]  # every caption of another image
    assert bleu4(wrong, refs) < 0.3
    assert cider_d(truth, refs) > 5 * cider_d(wrong, refs)
    assert cider_d(truth, refs) == pytest.approx(10.0)  # the COCO scale: a perfect caption of unique words


def test_names_every_object_counts_colour_and_shape_of_each_object():
    scene = [Thing("red", "circle", "small", 0.2, 0.2), Thing("blue", "square", "large", 0.2, 0.8)]
    assert names_every_object("a large blue square below a small red circle", scene)
    assert not names_every_object("a small red circle", scene)  # one missing
    assert not names_every_object("a small red square above a large blue circle", scene)  # swapped shapes
    assert not names_every_object("a red circle, a blue square and a red circle", scene)  # one too many


def test_penultimate_tokens_are_the_patch_tokens_entering_the_tower_s_last_block():
    import torch
    import torch.nn.functional as F

    from retrieval.captioning.own_model import image_features
    from retrieval.models import load_model

    model = load_model("random:clipdex-tiny").model.eval()
    pixels = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    blocks = len(model.visual.transformer.resblocks)
    with torch.inference_mode():
        embedding, tokens = image_features(model, pixels, "penultimate")
        last_embedding, last_tokens = image_features(model, pixels)
        entering = model.visual.forward_intermediates(pixels, indices=[blocks - 2], output_fmt="NLC",
                                                      intermediates_only=True)["image_intermediates"][0]
    assert tokens.shape == last_tokens.shape == (3, 16, 64)  # a 4 x 4 grid of patches, no class token
    assert torch.allclose(tokens, F.layer_norm(entering, entering.shape[-1:]), atol=1e-5)
    assert torch.allclose(embedding, last_embedding, atol=1e-6)  # the pooled vector is the tower's either way
    assert not torch.allclose(tokens, last_tokens, atol=1e-2)
    with pytest.raises(ValueError, match="unknown token source"):
        image_features(model, pixels, "first")
