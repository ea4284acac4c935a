"""The torch-free CLIP tokenizer gives exactly open_clip's ids: a query tokenized without
torch must find what the same query finds through the PyTorch model."""

import numpy as np
import pytest

from retrieval.models.clip_bpe import ClipBpeTokenizer

TEXTS = [
    "a red car", "A Photo of a DOG!!", "  café &amp; crème brûlée 😀 ", "", "x" * 300, "I'll've don't 1234 ½",
    "日本語のテキスト", "tab\tand\n\nnewlines", "word " * 100, "&lt;b&gt;bold&lt;/b&gt;", "naïve façade Ⅻ",
    "<start_of_text> inside", "e-mail: someone@example.com, 3.14159", "ÀÉÎÕÜ ßẞ", "\u200bzero\u200dwidth",
]


@pytest.fixture(scope="module")
def reference():
    open_clip = pytest.importorskip("open_clip")
    return open_clip.get_tokenizer("ViT-B-32")


def test_ids_are_open_clips_for_every_kind_of_text(reference):
    mine = ClipBpeTokenizer()
    ours = mine(TEXTS)
    assert ours.dtype == np.int64 and ours.shape == (len(TEXTS), 77)
    assert np.array_equal(ours, reference(TEXTS).numpy())
    assert np.array_equal(mine(TEXTS, context_length=8), reference(TEXTS, context_length=8).numpy())  # truncated, end kept
    assert np.array_equal(mine("one text"), reference("one text").numpy())


def test_a_compact_vocabulary_renumbers_as_the_model_folder_does(reference):
    from retrieval.models.compact_vocab import CompactTokenizer, token_ids_of

    kept = token_ids_of(reference, ["a red circle", "a blue square"])
    texts = ["a red square", "a green triangle", ""]  # "green" and "triangle" were never seen: UNKNOWN
    assert np.array_equal(ClipBpeTokenizer(token_ids=kept)(texts), CompactTokenizer(reference, kept)(texts).numpy())


def test_plain_ascii_is_cleaned_as_ftfy_would_without_importing_it():
    import random
    import string

    from open_clip.tokenizer import _clean_lower

    from retrieval.models.clip_bpe import clean

    rng = random.Random(0)
    alphabet = string.printable + "&;\x00\x07\x1b\x7f" + "&amp;&lt;&#39;"
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        assert clean(text) == _clean_lower(text), repr(text)


def test_a_missing_vocabulary_file_says_which(tmp_path):
    tokenizer = ClipBpeTokenizer(path=str(tmp_path / "nowhere.txt.gz"))  # (read on first use)
    with pytest.raises(OSError, match="nowhere.txt.gz"):
        tokenizer("a photo")
