import numpy as np
import pytest

from retrieval.index.vector_index import IndexFileError, VectorIndex


def _unit(n, dim, seed=0):
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_search_returns_the_nearest_by_dot_product_with_stable_ids():
    vectors = _unit(50, 16)
    index = VectorIndex(16)
    ids = np.arange(1000, 1050)
    index.add(ids, vectors)
    scores, found = index.search(vectors[7], 3)
    assert found[0, 0] == 1007 and scores[0, 0] == pytest.approx(1.0, abs=1e-5)
    expected = np.argsort(-(vectors @ vectors[7]))[:3] + 1000
    assert found[0].tolist() == expected.tolist()


def test_remove_takes_vectors_out_and_keeps_other_ids():
    vectors = _unit(10, 8)
    index = VectorIndex(8)
    index.add(np.arange(10), vectors)
    assert index.remove([3, 4, 99]) == 2
    assert len(index) == 8 and sorted(index.ids().tolist()) == [0, 1, 2, 5, 6, 7, 8, 9]
    _, found = index.search(vectors[5], 1)
    assert found[0, 0] == 5
    _, found = index.search(vectors[3], 8)
    assert 3 not in found[0]


def test_wrong_dimension_is_refused():
    index = VectorIndex(8)
    with pytest.raises(ValueError, match="shape"):
        index.add([1], np.zeros((1, 9), np.float32))


def test_save_and_load_round_trip(tmp_path):
    vectors = _unit(20, 8)
    index = VectorIndex(8)
    index.add(np.arange(20) * 3, vectors)
    index.save(tmp_path / "v.faiss")
    loaded = VectorIndex.load(tmp_path / "v.faiss")
    assert len(loaded) == 20 and loaded.dim == 8
    assert np.array_equal(loaded.search(vectors, 5)[1], index.search(vectors, 5)[1])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty"])
def test_corrupt_file_is_detected_on_load(tmp_path, damage):
    index = VectorIndex(8)
    index.add(np.arange(5), _unit(5, 8))
    path = tmp_path / "v.faiss"
    index.save(path)
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) - 40]
    elif damage == "flip":
        data[-10] ^= 0xFF
    elif damage == "garbage":
        data = bytearray(b"not an index at all" * 4)
    else:
        data = bytearray()
    path.write_bytes(bytes(data))
    with pytest.raises(IndexFileError):
        VectorIndex.load(path)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(IndexFileError, match="does not exist"):
        VectorIndex.load(tmp_path / "nope.faiss")
