import json
import os
import threading

import numpy as np
import pytest

from retrieval.index.plan import IndexPlan, plan_for
from retrieval.index.search_index import SearchIndex
from retrieval.index.vector_index import IndexFileError

DIM = 32


def _plan(kind: str) -> IndexPlan:
    base = plan_for(4000, DIM, kind)
    return IndexPlan(base.kind, nlist=16 if base.nlist else 0, pq_m=base.pq_m)


def _clustered(n, seed=0, clusters=40):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, DIM))
    v = centres[rng.integers(0, clusters, n)] + 0.4 * rng.normal(size=(n, DIM))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def _built(tmp_path, kind, n=4000, shards=1):
    index = SearchIndex.create(str(tmp_path), DIM, shard_count=shards)
    vectors = _clustered(n)
    ids = np.arange(n) * 3 + 5  # ids need not be dense or start at 0
    index.add(ids, vectors)
    index.rebuild(_plan(kind), ids, shards)
    return index, ids, vectors


def _exact(ids, vectors, queries, k):
    return ids[np.argsort(-(queries @ vectors.T), axis=1)[:, :k]]


@pytest.mark.parametrize("kind", ["flat", "ivf", "ivfpq"])
def test_recall_against_exact_search_with_default_settings(tmp_path, kind):
    index, ids, vectors = _built(tmp_path, kind)
    assert index.kind == kind
    queries = _clustered(50, seed=1)
    _, found = index.search(queries, 10)
    truth = _exact(ids, vectors, queries, 10)
    recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)])
    assert recall >= 0.95


def test_compressed_index_scores_are_re_ranked_exactly(tmp_path):
    index, ids, vectors = _built(tmp_path, "ivfpq")
    query = _clustered(1, seed=2)
    scores, found = index.search(query, 5)
    by_id = dict(zip(ids.tolist(), vectors))
    exact = [float(by_id[int(i)] @ query[0]) for i in found[0]]
    assert np.allclose(scores[0], exact, atol=2e-3)  # float16 store: ~1e-3
    assert list(scores[0]) == sorted(scores[0], reverse=True)


@pytest.mark.parametrize("kind", ["ivf", "ivfpq"])
def test_add_and_remove_after_training_without_rebuild(tmp_path, kind):
    index, ids, vectors = _built(tmp_path, kind)
    new = _clustered(3, seed=9)
    index.add([100_001, 100_002, 100_003], new)
    _, found = index.search(new, 1)
    assert found[:, 0].tolist() == [100_001, 100_002, 100_003]
    assert index.remove(ids[:10]) == 10
    _, found = index.search(vectors[:10], 1)
    assert not set(found[:, 0].tolist()) & set(ids[:10].tolist())
    assert len(index) == len(ids) + 3 - 10


def test_shards_merged_equal_the_unsharded_result(tmp_path):
    one, ids, _ = _built(tmp_path / "one", "flat")
    three, _, _ = _built(tmp_path / "three", "flat", shards=3)
    assert three.shard_count == 3 and len(three) == len(one)
    queries = _clustered(20, seed=3)
    s1, f1 = one.search(queries, 10)
    s3, f3 = three.search(queries, 10)
    assert f3.tolist() == f1.tolist() and np.allclose(s3, s1, atol=1e-6)
    allowed = ids[::7]  # a filter applies across shards too
    _, filtered = three.search(queries, 10, allowed_ids=allowed)
    assert set(filtered.ravel().tolist()) <= set(allowed.tolist())


@pytest.mark.parametrize("kind", ["flat", "ivf", "ivfpq"])
def test_save_and_load_every_type(tmp_path, kind):
    index, _, _ = _built(tmp_path, kind, shards=2)
    index.save()
    queries = _clustered(10, seed=4)
    loaded = SearchIndex.load(str(tmp_path))
    assert (loaded.kind, loaded.shard_count, len(loaded)) == (kind, 2, len(index))
    assert loaded.search(queries, 5)[1].tolist() == index.search(queries, 5)[1].tolist()


def test_truncated_shard_and_damaged_manifest_are_detected(tmp_path):
    index, _, _ = _built(tmp_path, "ivf", shards=2)
    index.save()
    manifest = json.loads((tmp_path / "index.json").read_text())
    shard = tmp_path / manifest["shards"][1]
    shard.write_bytes(shard.read_bytes()[:1000])
    with pytest.raises(IndexFileError, match="corrupt or truncated"):
        SearchIndex.load(str(tmp_path))
    (tmp_path / "index.json").write_text("{not json")
    with pytest.raises(IndexFileError, match="index.json is corrupt"):
        SearchIndex.load(str(tmp_path))


def test_rebuild_while_searching_keeps_answering(tmp_path):
    index, ids, vectors = _built(tmp_path, "flat")
    errors, answers = [], []
    stop = threading.Event()

    def search_forever():
        probe = vectors[:5]
        while not stop.is_set():
            try:
                answers.append(index.search(probe, 1)[1][:, 0].tolist())
            except Exception as exc:  # noqa: BLE001 - any failure is what the test looks for
                errors.append(exc)

    thread = threading.Thread(target=search_forever)
    thread.start()
    try:
        index.rebuild(_plan("ivfpq"), ids)
        index.rebuild(_plan("ivf"), ids, shard_count=2)
    finally:
        stop.set()
        thread.join()
    assert not errors and len(answers) > 3
    assert all(a == ids[:5].tolist() for a in answers)  # every search, old index or new, found them
    assert (index.kind, index.shard_count) == ("ivf", 2)
    names = set(os.listdir(tmp_path))
    assert not any(n.startswith("vectors-g1") for n in names)  # the replaced generation's files are gone


def test_a_load_that_meets_a_generation_switch_reads_the_new_generation(tmp_path, monkeypatch):
    """A reader (a server reloading, `clipdex search`) reads the manifest just before a
    rebuild switches generations and deletes the files that manifest lists."""
    from retrieval.index import sharded_index
    from retrieval.index.vector_index import VectorIndex

    writer, ids, vectors = _built(tmp_path, "flat")
    real_load = VectorIndex.load.__func__
    switched = []

    def load_after_a_switch(cls, path):
        if not switched:  # the manifest was read; now the writer switches before the files are
            switched.append(path)
            writer.rebuild(_plan("ivf"), ids, shard_count=2)
        return real_load(cls, path)

    monkeypatch.setattr(sharded_index.VectorIndex, "load", classmethod(load_after_a_switch))
    reader = SearchIndex.load(str(tmp_path))
    assert switched and not os.path.exists(switched[0])  # the file it first went for is gone
    assert (reader.kind, reader.shard_count) == ("ivf", 2)
    assert reader.search(vectors[:5], 1)[1][:, 0].tolist() == ids[:5].tolist()
