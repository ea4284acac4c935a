"""A model trained from scratch gets a vocabulary sized for its captions, and keeps it."""

import json
import os

import pytest
import torch

from retrieval.models import BadModelSpec, load_model
from retrieval.models.compact_vocab import UNKNOWN, CompactTokenizer, token_ids_of
from retrieval.training import TrainConfig, train

CAPTIONS = ["a small red circle", "a large blue square above a small red circle", "a green triangle"]


def _bpe():
    import open_clip

    return open_clip.get_tokenizer("ViT-B-32")


def test_the_kept_tokens_are_renumbered_in_order_and_the_rest_is_unknown():
    bpe = _bpe()
    kept = token_ids_of(bpe, CAPTIONS)
    tokenizer = CompactTokenizer(bpe, kept)
    tokens = tokenizer(CAPTIONS + ["a purple car"])
    assert tokens.max() == len(kept) + 1 < 20  # a row per kept token, after padding and unknown
    # the end-of-text token stays the largest id of each text: open_clip pools the text there
    assert torch.equal(tokens.argmax(dim=1), bpe(CAPTIONS + ["a purple car"]).argmax(dim=1))
    purple_car = tokens[-1][(tokens[-1] != 0)].tolist()
    assert purple_car.count(UNKNOWN) == 2  # words no caption used
    assert tokens[0, 1:5].tolist() == tokens[1, 6:10].tolist()  # "a small red circle" in both: the same ids


def test_a_model_trained_from_scratch_has_a_small_embedding_and_reloads_with_its_vocabulary(tmp_path):
    from retrieval.datasets.shapes import make_split

    images, captions, _ = make_split(64, 0, "train")
    out = str(tmp_path / "model")
    train(images, captions, out, arch="clipdex-tiny",
          config=TrainConfig(epochs=1, batch_size=32, warmup_steps=1, progress=False))
    with open(os.path.join(out, "open_clip_config.json")) as handle:
        config = json.load(handle)
    kept = config["token_ids"]
    assert 10 < len(kept) < 40 and config["model_cfg"]["text_cfg"]["vocab_size"] == len(kept) + 2
    loaded = load_model(out)
    assert loaded.model.token_embedding.weight.shape[0] == len(kept) + 2  # not 49,408 rows
    tokens = loaded.tokenizer(captions[:4])
    assert tokens.max() < len(kept) + 2 and UNKNOWN not in tokens
    with torch.no_grad():
        assert loaded.model.encode_text(tokens).shape == (4, loaded.embed_dim)

    for broken in ([], "3,4", [5, 4], [0, 7], [2.5, 9]):  # a hand-edited config: a clear error, not torch's
        with open(os.path.join(out, "open_clip_config.json"), "w") as handle:
            json.dump(config | {"token_ids": broken}, handle)
        with pytest.raises(BadModelSpec, match="token_ids"):
            load_model(out)
