"""A collection written by an earlier clipdex (tests/data/collection_v0, made before the
house was restructured) opens, searches and keeps its texts and captions with this one."""

import json
import os
import shutil

import pytest

from indexer.captions import CaptionCache
from indexer.collection import Collection
from indexer.texts import TextCollection
from retrieval.encoders.backend import make_encoder

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE = os.path.join(HERE, "data", "collection_v0")
with open(os.path.join(HERE, "data", "collection_v0.json")) as handle:
    EXPECTED = json.load(handle)


@pytest.fixture
def old_collection(tmp_path):
    data_dir = tmp_path / "data"
    shutil.copytree(FIXTURE, data_dir)
    collection = Collection(str(data_dir))
    yield collection
    collection.close()


def test_old_collection_searches_as_it_did(old_collection, tiny_model):
    assert old_collection.model_spec == EXPECTED["model"]
    assert old_collection.store.counts()["ok"] == EXPECTED["indexed"]
    encoder = make_encoder(tiny_model, "torch", device="cpu")
    hits = old_collection.search(encoder.embed_texts([EXPECTED["text_query"]]), 6)[0]
    assert [os.path.basename(h.path) for h in hits] == [name for name, _ in EXPECTED["hits"]]
    assert [h.score for h in hits] == pytest.approx([score for _, score in EXPECTED["hits"]], abs=1e-4)


def test_old_collection_keeps_texts_and_captions(old_collection):
    vector = old_collection.vector_of_file(1)
    texts = TextCollection(old_collection).search(vector, 3)
    assert [t["text"] for t in texts] == [text for text, _ in EXPECTED["texts_for_file_1"]]
    row = old_collection.store.get_row(1)
    cached = CaptionCache(old_collection.store).get([row["content_hash"]], "own:test", None)
    assert cached == {row["content_hash"]: EXPECTED["caption_of_file_1"]}
    similar = old_collection.search(vector, 1)[0]
    assert similar[0].file_id == 1
