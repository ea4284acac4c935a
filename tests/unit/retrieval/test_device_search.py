"""Exact search with torch over the float16 vectors gives FAISS's exact answers: the same ids
in the same order and the same scores, in one chunk or many, filtered or not, with fewer
vectors than asked for. (Runs on the CPU; on a GPU the same code multiplies in float16.)"""

import faiss
import numpy as np
import pytest

from retrieval.index.device_search import DeviceExactSearch, fits
from retrieval.index.vector_rows import VectorRows


@pytest.fixture
def stored(tmp_path):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(3000, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.sort(rng.choice(10_000, size=3000, replace=False))
    rows = VectorRows(tmp_path / "vectors.f16", 64)
    rows.write(ids, vectors)
    rows.flush()
    flat = faiss.IndexIDMap2(faiss.IndexFlatIP(64))
    flat.add_with_ids(rows.get(ids), ids)  # what FAISS holds: the same float16 vectors
    queries = rng.normal(size=(7, 64)).astype(np.float32)
    return rows, ids, flat, queries / np.linalg.norm(queries, axis=1, keepdims=True)


@pytest.mark.parametrize("chunk_rows", [1 << 20, 500, 7])
def test_the_same_answers_as_faiss_exact_search(stored, chunk_rows):
    rows, ids, flat, queries = stored
    search = DeviceExactSearch(rows, ids, "cpu", chunk_rows=chunk_rows)
    scores, found = search.search(queries, 25)
    expected_scores, expected = flat.search(queries, 25)
    np.testing.assert_array_equal(found, expected)
    np.testing.assert_allclose(scores, expected_scores, atol=1e-5)


def test_filters_and_more_asked_for_than_there_are(stored):
    rows, ids, flat, queries = stored
    allowed = ids[::100]  # 30 of them
    search = DeviceExactSearch(rows, ids, "cpu", chunk_rows=1000)
    scores, found = search.search(queries, 40, allowed_ids=allowed)
    selector = faiss.SearchParameters(sel=faiss.IDSelectorArray(allowed))
    expected_scores, expected = flat.search(queries, 40, params=selector)
    np.testing.assert_array_equal(found, expected)
    assert (found[:, 30:] == -1).all() and np.isneginf(scores[:, 30:]).all()
    assert set(found[:, :30].ravel()) <= set(allowed.tolist())
    assert fits(len(ids), 64, "cpu")


def test_a_collection_searching_on_a_device_answers_as_faiss(tmp_path, tiny_encoder):
    from imagefiles import write_photos

    from indexer.collection import Collection
    from indexer.ingest import IndexOptions, index_folders
    from retrieval.index import IndexConfig

    write_photos(str(tmp_path / "photos"), 12)
    index_folders(Collection(str(tmp_path / "data")), [str(tmp_path / "photos")], tiny_encoder.spec,
                  lambda: tiny_encoder, IndexOptions(num_workers=0, progress=False))
    query = tiny_encoder.embed_texts(["a photo"])
    faiss_hits = Collection(str(tmp_path / "data")).search(query, 6)[0]
    on_device = Collection(str(tmp_path / "data"), index_config=IndexConfig(search_device="cpu:0"))
    device_hits = on_device.search(query, 5, offset=1)[0]
    assert on_device._device_search and [h.path for h in device_hits] == [h.path for h in faiss_hits[1:]]
    # (the flat FAISS index keeps the float32 vectors; the device, the float16 copies)
    np.testing.assert_allclose([h.score for h in device_hits], [h.score for h in faiss_hits[1:]], atol=1e-3)


def test_the_device_copy_follows_the_index_as_it_changes(tmp_path, tiny_encoder):
    from imagefiles import write_photos

    from indexer.collection import Collection
    from indexer.ingest import IndexOptions, index_folders
    from retrieval.index import IndexConfig

    on_device = Collection(str(tmp_path / "data"), index_config=IndexConfig(search_device="cpu:0"))
    options = IndexOptions(num_workers=0, progress=False)
    write_photos(str(tmp_path / "a"), 4)
    index_folders(on_device, [str(tmp_path / "a")], tiny_encoder.spec, lambda: tiny_encoder, options)
    query = tiny_encoder.embed_texts(["a photo"])
    assert len(on_device.search(query, 20)[0]) == 4
    write_photos(str(tmp_path / "b"), 3)
    index_folders(on_device, [str(tmp_path / "b")], tiny_encoder.spec, lambda: tiny_encoder, options)
    paths = {hit.path for hit in on_device.search(query, 20)[0]}
    assert len(paths) == 7 and any("/b/" in path for path in paths)


def test_auto_on_a_machine_without_a_gpu_searches_with_faiss(tmp_path, monkeypatch):
    import retrieval.index.device_search as device_search

    monkeypatch.setattr(device_search.glob, "glob", lambda pattern: [])
    assert device_search.cuda_if_present() is None
