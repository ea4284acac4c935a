"""The text index (texts.faiss) damaged or lost: the texts themselves are in the database,
so nothing is lost. Readers get an error that says how to embed them again; writers,
which hold the model, embed them again on the spot."""

import pytest
from imagefiles import write_photos

from indexer.collection import Collection
from indexer.ingest import IndexOptions, index_folders
from indexer.texts import TextCollection
from retrieval.index.vector_index import IndexFileError

TEXTS = ["a red square", "two blue circles", "a green triangle on the left"]


@pytest.fixture
def collection(tmp_path, tiny_encoder):
    write_photos(str(tmp_path / "photos"), 3)
    collection = Collection(str(tmp_path / "data"))
    index_folders(collection, [str(tmp_path / "photos")], tiny_encoder.spec, lambda: tiny_encoder,
                  IndexOptions(batch_size=4, num_workers=0, progress=False))
    TextCollection(collection).add(TEXTS, tiny_encoder, source="test")
    yield collection
    collection.close()


def _finds_each_text_by_itself(texts, encoder, wanted):
    for text in wanted:
        assert texts.search(encoder.embed_texts([text])[0], 1)[0]["text"] == text


def test_a_damaged_text_index_is_embedded_again_by_the_next_writer(collection, tiny_encoder):
    path = TextCollection(collection).path
    with open(path, "r+b") as handle:
        handle.truncate(200)
    reader = TextCollection(collection)
    with pytest.raises(IndexFileError, match=r"its 3 texts are kept in the database: `clipdex index-texts --rebuild`"):
        reader.search(tiny_encoder.embed_texts(["a red square"])[0], 3)
    writer = TextCollection(collection)
    writer.add(["a yellow star"], tiny_encoder)
    _finds_each_text_by_itself(writer, tiny_encoder, TEXTS + ["a yellow star"])
    _finds_each_text_by_itself(reader, tiny_encoder, TEXTS)  # a reader picks up the repaired file


def test_a_lost_text_index_is_an_error_until_rebuilt(collection, tiny_encoder, tmp_path):
    import os

    os.remove(TextCollection(collection).path)
    texts = TextCollection(collection)
    with pytest.raises(IndexFileError, match="texts.faiss is missing"):  # not an empty answer
        texts.search(tiny_encoder.embed_texts(["a red square"])[0], 3)
    assert texts.rebuild(tiny_encoder) == 3
    _finds_each_text_by_itself(texts, tiny_encoder, TEXTS)


def test_index_captions_repairs_a_lost_text_index(collection, tiny_encoder, tiny_captioner_dir):
    import os

    from indexer.captions import sync_caption_texts
    from retrieval.captioning import load_captioner

    captioner = load_captioner(tiny_captioner_dir, device="cpu")
    sync_caption_texts(collection, captioner, lambda: tiny_encoder)
    os.remove(TextCollection(collection).path)
    again = sync_caption_texts(collection, captioner, lambda: tiny_encoder)
    assert again.kept == 3  # nothing to caption, but the captions are searchable again
    texts = TextCollection(collection)
    _finds_each_text_by_itself(texts, tiny_encoder, TEXTS)
    assert len(texts.search(tiny_encoder.embed_texts(["a photo"])[0], 10)) == 6
