"""The shapes scenes' colourless share: the same scenes, some drawn in grey and captioned
without colour words, and never a held-out colour x shape pair in training."""

import re

import numpy as np

from retrieval.datasets.shapes import COLOURS, HELD_OUT, SHAPES, make_split


def _names_a_colour(caption: str) -> bool:
    return any(colour in caption.split() for colour in COLOURS)


def test_colourless_scenes_are_grey_and_their_captions_name_no_colour():
    plain_images, plain_captions, plain_scenes = make_split(400, 0, "train")
    images, captions, scenes = make_split(400, 0, "train", colourless=0.25)
    assert scenes == plain_scenes  # the same objects in the same places
    grey = [i for i, caption in enumerate(captions) if not _names_a_colour(caption)]
    assert 60 <= len(grey) <= 140  # about a quarter
    for i in range(len(images)):
        pixels = np.asarray(images[i], dtype=np.int16)
        spread = (pixels.max(axis=2) - pixels.min(axis=2)).max()  # 0 where every pixel is grey
        if i in grey:
            assert spread <= 5  # grey shapes on the off-white ground (245, 245, 240)
            assert captions[i] == re.sub(rf"\b({'|'.join(COLOURS)}) ", "", plain_captions[i])
        else:
            assert captions[i] == plain_captions[i] and spread > 100
            assert np.array_equal(pixels, np.asarray(plain_images[i], dtype=np.int16))


def test_no_training_scene_shows_a_held_out_pair_in_colour_or_grey():
    _, _, scenes = make_split(2000, 0, "train", colourless=0.25)
    assert not {(t.colour, t.shape) for scene in scenes for t in scene} & set(HELD_OUT)


def test_without_a_colourless_share_no_scene_is_grey():
    _, captions, _ = make_split(300, 0, "train")
    assert all(_names_a_colour(caption) for caption in captions)


def test_the_all_split_shows_every_pair_in_other_scenes_than_the_test_split():
    _, all_captions, all_scenes = make_split(2000, 0, "all")
    _, test_captions, _ = make_split(2000, 0, "test")
    shown = {(t.colour, t.shape) for scene in all_scenes for t in scene}
    assert shown == {(c, s) for c in COLOURS for s in SHAPES}
    assert set(HELD_OUT) <= shown
    assert all_captions != test_captions  # a model trained on "all" is not shown the test scenes
