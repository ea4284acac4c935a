import numpy as np
import pytest

from retrieval.index.vector_rows import VectorRows, VectorRowsError


def test_rows_come_back_by_id_in_float16_precision(tmp_path):
    store = VectorRows(tmp_path / "v.f16", 8)
    vectors = np.random.default_rng(0).normal(size=(6, 8)).astype(np.float32)
    store.write([9, 3, 4, 5, 0, 20], vectors)  # out of order, with gaps
    store.flush()
    again = VectorRows(tmp_path / "v.f16", 8)
    assert np.allclose(again.get([3, 20, 9]), vectors[[1, 5, 0]], atol=1e-2)
    assert again.rows == 21


def test_a_row_cut_short_by_a_crash_is_dropped_and_missing_ids_are_an_error(tmp_path):
    path = tmp_path / "v.f16"
    store = VectorRows(path, 4)
    store.write([0, 1], np.ones((2, 4), np.float32))
    store.flush()
    with open(path, "ab") as handle:
        handle.write(b"\x00\x01\x02")  # half a row
    store = VectorRows(path, 4)
    assert store.rows == 2
    with pytest.raises(VectorRowsError, match="truncated"):
        store.get([5])
    with pytest.raises(ValueError, match="dimension 4"):
        store.write([3], np.ones((1, 5), np.float32))
