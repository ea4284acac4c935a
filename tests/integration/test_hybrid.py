"""Hybrid text search over image vectors and indexed captions: the weight moves the
ranking from pure image similarity to pure caption similarity, images without captions
keep their image score, and filters still apply."""

import os

import numpy as np
import pytest
from imagefiles import write_photos

from indexer.captions import caption_source
from indexer.collection import Collection, SearchFilters
from indexer.ingest import IndexOptions, index_folders
from indexer.search import hybrid_search
from indexer.texts import TextCollection

CAPTIONS = ["a red bus in the rain", "a green apple on a table", "two dogs on a beach", "a city street at night",
            "a bowl of soup", "snow on a mountain"]


@pytest.fixture
def captioned(tmp_path, tiny_encoder):
    write_photos(str(tmp_path / "photos" / "a"), 4)
    write_photos(str(tmp_path / "photos" / "b"), 3, start=10)
    collection = Collection(str(tmp_path / "data"))
    index_folders(collection, [str(tmp_path / "photos")], tiny_encoder.spec, lambda: tiny_encoder,
                  IndexOptions(num_workers=0, progress=False))
    rows = sorted(collection.store.iter_ok(), key=lambda r: r["path"])
    texts = TextCollection(collection)
    # Every image but the last gets a caption (the last shows what happens without one).
    texts.add(CAPTIONS, tiny_encoder, source=[caption_source(r["id"]) for r in rows[:6]])
    texts.add(["a note that is not a caption"], tiny_encoder, source="notes.txt")
    yield collection, texts, rows
    collection.close()


def test_weight_zero_is_image_search_and_weight_one_is_caption_search(captioned, tiny_encoder):
    collection, texts, rows = captioned
    query = tiny_encoder.embed_texts([CAPTIONS[1]])[0]
    plain = collection.search(query, 7)[0]
    by_image = hybrid_search(collection, texts, query, 7, weight=0.0)
    assert [h.file_id for h in by_image] == [h.file_id for h in plain]
    assert np.allclose([h.hybrid_score for h in by_image], [h.score for h in plain], atol=1e-5)
    by_caption = hybrid_search(collection, texts, query, 7, weight=1.0)
    assert by_caption[0].file_id == rows[1]["id"] and by_caption[0].hybrid_score == pytest.approx(1.0, abs=1e-4)
    uncaptioned = next(h for h in by_caption if h.file_id == rows[6]["id"])
    assert uncaptioned.hybrid_score == pytest.approx(uncaptioned.score)  # no caption: its image score


def test_half_and_half_is_the_mean_of_both_scores(captioned, tiny_encoder):
    collection, texts, rows = captioned
    query = tiny_encoder.embed_texts(["a dog on the sand"])[0]
    hits = hybrid_search(collection, texts, query, 7, weight=0.5)
    caption_vectors = tiny_encoder.embed_texts(CAPTIONS)
    caption_score = {rows[i]["id"]: float(caption_vectors[i] @ query) for i in range(6)}
    for hit in hits:
        expected = 0.5 * hit.score + 0.5 * caption_score.get(hit.file_id, hit.score)
        assert hit.hybrid_score == pytest.approx(expected, abs=1e-4)
    assert [h.hybrid_score for h in hits] == sorted((h.hybrid_score for h in hits), reverse=True)
    assert [h.file_id for h in hybrid_search(collection, texts, query, 3, offset=2)] == [h.file_id for h in hits[2:5]]


def test_filters_hold_even_for_an_image_found_by_its_caption(captioned, tiny_encoder):
    collection, texts, rows = captioned
    query = tiny_encoder.embed_texts([CAPTIONS[5]])[0]  # the caption of an image in folder b
    folder_a = os.path.dirname(rows[0]["path"])
    hits = hybrid_search(collection, texts, query, 7, weight=1.0, filters=SearchFilters(folder=folder_a))
    assert hits and all(os.path.dirname(h.path) == folder_a for h in hits)
    with pytest.raises(ValueError, match="between 0 and 1"):
        hybrid_search(collection, texts, query, 3, weight=1.5)


def test_captions_beyond_the_nearest_texts_are_scored_exactly(captioned, tiny_encoder, monkeypatch):
    collection, texts, rows = captioned
    query = tiny_encoder.embed_texts(["a dog on the sand"])[0]
    expected = {h.file_id: h.hybrid_score for h in hybrid_search(collection, texts, query, 7)}
    # As if no caption were among the nearest texts: every caption score comes from the stored vectors.
    monkeypatch.setattr(texts, "best_by_source", lambda *args: {})
    exact = {h.file_id: h.hybrid_score for h in hybrid_search(collection, texts, query, 7)}
    assert exact.keys() == expected.keys()
    assert all(exact[i] == pytest.approx(expected[i], abs=1e-5) for i in expected)


def test_a_text_whose_source_only_looks_like_a_caption_is_ignored(captioned, tiny_encoder):
    collection, texts, _ = captioned
    texts.add(["a green apple on a table"], tiny_encoder, source="caption:not-a-file")
    query = tiny_encoder.embed_texts(["a green apple on a table"])[0]
    assert len(hybrid_search(collection, texts, query, 7, weight=1.0)) == 7
    with pytest.raises(ValueError, match="2000 results at the most"):
        hybrid_search(collection, texts, query, 1000, offset=1500)
