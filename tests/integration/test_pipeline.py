"""Indexing real folders into a real SQL store (SQLite, and PostgreSQL when one is given:
tests/database_urls.py) and FAISS index, with the tiny random model."""

import contextlib
import os
import shutil

import numpy as np
import pytest
from imagefiles import noise_image, rotated_pair, write_bad_files, write_odd_but_valid, write_photos

from indexer.collection import Collection, ModelMismatch
from indexer.ingest import IndexOptions, index_folders
from indexer.store import FAILED, OK

TINY = "random:clipdex-tiny"
OPTIONS = IndexOptions(batch_size=8, num_workers=2, checkpoint_seconds=0.0, progress=False)


DATABASE = {"url": None}  # this test's metadata store; None: SQLite in the data dir


@pytest.fixture(autouse=True, params=["sqlite", "postgresql"])
def _database(request, tmp_path):
    from database_urls import fresh_database

    if request.param == "sqlite":
        DATABASE["url"] = None
        yield
        return
    with fresh_database("postgresql", tmp_path) as url:
        DATABASE["url"] = url
        yield
    DATABASE["url"] = None


@contextlib.contextmanager
def _own_database(folder, first: bool):
    """A second collection's database of its own (on SQLite its data dir has one already)."""
    if first or DATABASE["url"] is None:
        yield
        return
    from database_urls import fresh_database

    before = DATABASE["url"]
    with fresh_database("postgresql", folder) as url:
        DATABASE["url"] = url
        try:
            yield
        finally:
            DATABASE["url"] = before


def _collection(data_dir) -> Collection:
    return Collection(data_dir, DATABASE["url"])


class CountingFactory:
    """Builds the tiny encoder and counts how many images it embeds."""

    def __init__(self, encoder, fail_after_batches: int | None = None):
        self.encoder, self.embedded, self.calls, self.fail_after = encoder, 0, 0, fail_after_batches

    def __call__(self):
        factory = self

        class Counting:
            def __getattr__(self, name):  # everything else is the real encoder's
                return getattr(factory.encoder, name)

            def embed_pixels(self, pixels):
                factory.calls += 1
                if factory.fail_after is not None and factory.calls > factory.fail_after:
                    raise RuntimeError("simulated crash")
                factory.embedded += len(pixels)
                return factory.encoder.embed_pixels(pixels)

        return Counting()


def _index(data_dir, roots, factory, options=OPTIONS):
    collection = _collection(data_dir)
    try:
        return index_folders(collection, roots, TINY, factory, options)
    finally:
        collection.close()


def _consistent(data_dir) -> tuple[int, int]:
    """Rows with vectors and vectors in the index must be the same set."""
    collection = _collection(data_dir)
    index = collection.load_index()
    in_rows = collection.store.vector_ids()
    assert set(index.ids().tolist()) == in_rows
    counts = collection.store.counts()
    assert counts["pending"] == 0 and counts[OK] == len(in_rows)
    collection.close()
    return counts[OK], counts[FAILED]


def _file_vector(encoder, path):
    from retrieval.images.decode import decode_image

    with open(path, "rb") as handle:
        return encoder.embed_images([decode_image(handle.read()).image])[0]


def _search(data_dir, encoder, vector, k=3):
    collection = _collection(data_dir)
    try:
        return collection.search(vector[None, :], k)[0]
    finally:
        collection.close()


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    write_photos(str(folder), 20)
    return folder


def test_index_then_search_finds_the_image_itself(tmp_path, photos, tiny_encoder):
    data = str(tmp_path / "data")
    factory = CountingFactory(tiny_encoder)
    report = _index(data, [str(photos)], factory)
    assert report.embedded == 20 and factory.embedded == 20
    assert _consistent(data) == (20, 0)
    query = _file_vector(tiny_encoder, photos / "photo_0005.jpg")
    hits = _search(data, tiny_encoder, query)
    assert hits[0].path == str(photos / "photo_0005.jpg") and hits[0].score > 0.99
    assert (hits[0].width, hits[0].height) == (160, 120)
    text_hits = _search(data, tiny_encoder, tiny_encoder.embed_texts(["a photo"])[0], k=50)
    assert len(text_hits) == 20 and text_hits[0].score >= text_hits[-1].score


def test_bad_files_are_recorded_and_the_run_finishes(tmp_path, photos, tiny_encoder):
    expected = write_bad_files(str(photos / "bad"))
    valid = write_odd_but_valid(str(photos / "odd"))
    data = str(tmp_path / "data")
    report = _index(data, [str(photos)], CountingFactory(tiny_encoder))
    assert report.failed == len(expected)
    assert _consistent(data) == (20 + len(valid), len(expected))
    collection = _collection(data)
    failures = dict(collection.store.failures())
    for path, words in expected.items():
        assert words in failures[path]
    indexed = {row["path"] for row in collection.store.iter_ok()}
    assert set(valid) <= indexed  # CMYK, 16-bit, palette, alpha, 1x1, odd names all indexed


def test_decoding_in_threads_makes_the_collection_worker_processes_make(tmp_path, photos, tiny_encoder):
    # What an ONNX Runtime encoder gets (no torch to import in workers): the same rows, errors and vectors.
    expected = write_bad_files(str(photos / "bad"))
    write_odd_but_valid(str(photos / "odd"))
    made = {}
    for how in ("processes", "threads"):
        data = str(tmp_path / how)
        options = IndexOptions(batch_size=4, num_workers=2, progress=False, decode_workers=how)
        with _own_database(tmp_path / f"{how}-db", first=how == "processes"):
            assert _index(data, [str(photos)], CountingFactory(tiny_encoder), options).failed == len(expected)
            collection = _collection(data)
            made[how] = ({row["path"]: collection.vector_of_file(row["id"]) for row in collection.store.iter_ok()},
                         dict(collection.store.failures()))
            collection.close()
    (by_processes, failed_p), (by_threads, failed_t) = made["processes"], made["threads"]
    assert failed_p == failed_t and by_processes.keys() == by_threads.keys()
    assert all(np.allclose(by_processes[path], by_threads[path], atol=1e-6) for path in by_processes)


def test_unreadable_file_is_recorded(tmp_path, photos, tiny_encoder):
    locked = photos / "locked.jpg"
    noise_image(1).save(locked)
    os.chmod(locked, 0)
    data = str(tmp_path / "data")
    if os.geteuid() == 0:  # root reads anything: make the file vanish between scan and read instead
        real_scan = __import__("indexer.ingest.scan", fromlist=["scan_folders"]).scan_folders

        def scan_then_lose(roots, *args):
            result = real_scan(roots, *args)
            os.unlink(locked)
            return result

        import indexer.ingest.plan

        original = indexer.ingest.plan.scan_folders
        indexer.ingest.plan.scan_folders = scan_then_lose
        try:
            _index(data, [str(photos)], CountingFactory(tiny_encoder))
        finally:
            indexer.ingest.plan.scan_folders = original
    else:
        _index(data, [str(photos)], CountingFactory(tiny_encoder))
    failures = dict(_collection(data).store.failures())
    assert "cannot read file" in failures[str(locked)]


def test_exif_rotated_photo_is_embedded_upright(tmp_path, tiny_encoder):
    folder = tmp_path / "rot"
    folder.mkdir()
    upright, sideways = rotated_pair(str(folder))
    data = str(tmp_path / "data")
    _index(data, [str(folder)], CountingFactory(tiny_encoder))
    collection = _collection(data)
    a = collection.vector_of_path(upright)
    b = collection.vector_of_path(sideways)
    assert float(a @ b) > 0.9999


def test_reindex_embeds_only_what_changed(tmp_path, photos, tiny_encoder):
    data = str(tmp_path / "data")
    _index(data, [str(photos)], CountingFactory(tiny_encoder))

    factory = CountingFactory(tiny_encoder)
    report = _index(data, [str(photos)], factory)
    assert report.up_to_date and report.unchanged == 20 and factory.calls == 0

    write_photos(str(photos), 2, start=100)  # two new
    noise_image(999).save(photos / "photo_0003.jpg")  # one changed in place
    os.utime(photos / "photo_0003.jpg", ns=(1, 10**18))
    os.unlink(photos / "photo_0007.jpg")  # one deleted
    factory = CountingFactory(tiny_encoder)
    report = _index(data, [str(photos)], factory)
    assert factory.embedded == 3 and report.removed == 1
    assert _consistent(data) == (21, 0)
    changed = str(photos / "photo_0003.jpg")
    query = _file_vector(tiny_encoder, changed)
    assert _search(data, tiny_encoder, query)[0].path == changed
    assert float(_collection(data).vector_of_path(changed) @ query) > 0.9999  # the new picture's vector
    assert _collection(data).store.row_by_path(str(photos / "photo_0007.jpg")) is None


def test_moved_and_renamed_files_keep_their_vectors(tmp_path, photos, tiny_encoder):
    data = str(tmp_path / "data")
    _index(data, [str(photos)], CountingFactory(tiny_encoder))
    before = _collection(data).store.row_by_path(str(photos / "photo_0004.jpg"))

    (photos / "album").mkdir()
    shutil.move(photos / "photo_0004.jpg", photos / "album" / "renamed.jpg")
    shutil.move(photos / "photo_0009.jpg", photos / "photo_0009_copy.jpg")
    factory = CountingFactory(tiny_encoder)
    report = _index(data, [str(photos)], factory)
    assert report.moved == 2 and factory.embedded == 0 and report.removed == 0
    assert _consistent(data) == (20, 0)
    after = _collection(data).store.row_by_path(str(photos / "album" / "renamed.jpg"))
    assert after["vector_id"] == before["vector_id"] and after["width"] == 160
    query = _file_vector(tiny_encoder, photos / "album" / "renamed.jpg")
    assert _search(data, tiny_encoder, query)[0].path == str(photos / "album" / "renamed.jpg")


def test_a_moved_file_copied_twice_gets_a_vector_for_each_copy(tmp_path, photos, tiny_encoder):
    data = str(tmp_path / "data")
    _index(data, [str(photos)], CountingFactory(tiny_encoder))
    shutil.copy(photos / "photo_0002.jpg", photos / "copy_a.jpg")
    shutil.move(photos / "photo_0002.jpg", photos / "copy_b.jpg")
    factory = CountingFactory(tiny_encoder)
    report = _index(data, [str(photos)], factory)
    assert report.moved == 1 and factory.embedded == 1
    assert _consistent(data) == (21, 0)


def test_several_folders_make_one_collection(tmp_path, tiny_encoder):
    a, b = tmp_path / "a", tmp_path / "b"
    write_photos(str(a), 3)
    write_photos(str(b), 4, start=50)
    data = str(tmp_path / "data")
    _index(data, [str(a)], CountingFactory(tiny_encoder))
    _index(data, [str(b)], CountingFactory(tiny_encoder))
    assert _consistent(data) == (7, 0)
    os.unlink(a / "photo_0000.jpg")
    report = _index(data, [], CountingFactory(tiny_encoder))  # no folders: all known folders
    assert report.removed == 1 and _consistent(data) == (6, 0)
    assert sorted(_collection(data).store.roots()) == sorted([str(a), str(b)])


def test_a_missing_root_does_not_delete_its_rows(tmp_path, tiny_encoder):
    a = tmp_path / "a"
    write_photos(str(a), 3)
    data = str(tmp_path / "data")
    _index(data, [str(a)], CountingFactory(tiny_encoder))
    shutil.move(a, tmp_path / "unmounted")
    report = _index(data, [], CountingFactory(tiny_encoder))
    assert report.removed == 0 and _consistent(data) == (3, 0)


def test_another_model_is_refused(tmp_path, photos, tiny_encoder):
    data = str(tmp_path / "data")
    _index(data, [str(photos)], CountingFactory(tiny_encoder))
    collection = _collection(data)
    with pytest.raises(ModelMismatch, match="random:clipdex-tiny"):
        index_folders(collection, [str(photos)], "random:ViT-B-32", CountingFactory(tiny_encoder), OPTIONS)
    with pytest.raises(ModelMismatch):
        collection.check_model("random:ViT-B-32")


def test_a_crash_half_way_loses_nothing_and_the_rerun_completes(tmp_path, tiny_encoder):
    folder = tmp_path / "many"
    write_photos(str(folder), 60)
    write_bad_files(str(folder))
    data = str(tmp_path / "data")
    crashing = CountingFactory(tiny_encoder, fail_after_batches=3)
    with pytest.raises(RuntimeError, match="simulated crash"):
        _index(data, [str(folder)], crashing)
    collection = _collection(data)
    done_before = {row["path"]: row["indexed_at"] for row in collection.store.iter_ok()}
    assert 0 < len(done_before) < 60
    collection.close()

    factory = CountingFactory(tiny_encoder)
    _index(data, [str(folder)], factory)
    assert _consistent(data) == (60, 4)
    assert factory.embedded == 60 - len(done_before)  # what was done is not embedded again
    after = {row["path"]: row["indexed_at"] for row in _collection(data).store.iter_ok()}
    assert all(after[p] == t for p, t in done_before.items())


@pytest.mark.parametrize("decode_workers", ["processes", "threads"])
def test_ctrl_c_keeps_what_was_embedded_and_the_rerun_does_only_the_rest(tmp_path, tiny_encoder, decode_workers):
    folder = tmp_path / "many"
    write_photos(str(folder), 40)
    data = str(tmp_path / "data")

    class Interrupting(CountingFactory):
        def __call__(self):
            inner = super().__call__()
            factory = self

            class Interrupted:
                def __getattr__(self, name):
                    return getattr(inner, name)

                def embed_pixels(self, pixels):
                    if factory.calls >= 2:
                        raise KeyboardInterrupt
                    return inner.embed_pixels(pixels)

            return Interrupted()

    slow_checkpoints = IndexOptions(batch_size=8, num_workers=0, checkpoint_seconds=3600, progress=False,
                                    decode_workers=decode_workers)
    with pytest.raises(KeyboardInterrupt):
        _index(data, [str(folder)], Interrupting(tiny_encoder), slow_checkpoints)
    collection = _collection(data)
    saved = collection.store.counts()[OK]
    assert set(collection.load_index().ids().tolist()) == collection.store.vector_ids()
    collection.close()
    assert saved == 16  # two batches of 8, committed although no checkpoint was due
    rerun = CountingFactory(tiny_encoder)
    _index(data, [str(folder)], rerun)
    assert rerun.embedded == 40 - saved and _consistent(data) == (40, 0)


def test_files_deleted_while_pending_are_removed_not_failed(tmp_path, tiny_encoder):
    folder = tmp_path / "many"
    write_photos(str(folder), 40)
    data = str(tmp_path / "data")
    with pytest.raises(RuntimeError, match="simulated crash"):
        _index(data, [str(folder)], CountingFactory(tiny_encoder, fail_after_batches=1))
    collection = _collection(data)
    pending = [path for _, path in collection.store.pending()]
    collection.close()
    assert pending
    for path in pending[:10]:
        os.remove(path)
    report = _index(data, [str(folder)], CountingFactory(tiny_encoder))
    assert (report.failed, report.removed) == (0, min(10, len(pending)))
    assert _consistent(data) == (40 - min(10, len(pending)), 0)


def test_orphan_vectors_and_lost_index_are_repaired(tmp_path, photos, tiny_encoder):
    data = str(tmp_path / "data")
    _index(data, [str(photos)], CountingFactory(tiny_encoder))
    collection = _collection(data)
    index = collection.load_index()
    index.add([10**9], np.ones((1, 64), np.float32) / 8.0)  # as if saved just before a crash
    collection.save_index()
    collection.close()
    write_photos(str(photos), 1, start=300)
    _index(data, [str(photos)], CountingFactory(tiny_encoder))
    assert _consistent(data) == (21, 0)

    os.unlink(os.path.join(data, "vectors.faiss"))  # the index file is lost: rebuilt from the stored vectors
    factory = CountingFactory(tiny_encoder)
    _index(data, [str(photos)], factory)
    assert factory.embedded == 0 and _consistent(data) == (21, 0)

    for name in os.listdir(data):  # index and vectors lost: re-embedded
        if name.startswith("vectors") or name == "index.json":
            os.unlink(os.path.join(data, name))
    factory = CountingFactory(tiny_encoder)
    _index(data, [str(photos)], factory)
    assert factory.embedded == 21 and _consistent(data) == (21, 0)


def test_corrupt_index_file_is_rebuilt_from_the_stored_vectors(tmp_path, photos, tiny_encoder):
    from retrieval.index.vector_index import IndexFileError

    data = str(tmp_path / "data")
    _index(data, [str(photos)], CountingFactory(tiny_encoder))
    before = _search_all(data)
    path = os.path.join(data, "vectors.faiss")
    with open(path, "r+b") as handle:
        handle.truncate(os.path.getsize(path) // 2)
    with pytest.raises(IndexFileError, match="corrupt or truncated"):
        _collection(data).load_index()
    write_photos(str(photos), 1, start=400)  # give the run something to do
    factory = CountingFactory(tiny_encoder)
    _index(data, [str(photos)], factory)
    assert factory.embedded == 1  # only the new photo: the others came back from vectors.f16
    assert _consistent(data) == (21, 0)
    after = _search_all(data)
    for path, (vector, best) in before.items():  # the same vectors, each still finds itself first
        assert float(after[path][0] @ vector) > 0.999 and after[path][1] == best == path


def test_damaged_manifest_is_rebuilt_from_the_stored_vectors(tmp_path, photos, tiny_encoder):
    from retrieval.index.vector_index import IndexFileError

    data = str(tmp_path / "data")
    _index(data, [str(photos)], CountingFactory(tiny_encoder))
    with open(os.path.join(data, "index.json"), "w") as handle:
        handle.write("{half a manif")
    with pytest.raises(IndexFileError, match="index.json is corrupt"):
        _collection(data).load_index()
    collection = _collection(data)
    index = collection.rebuild_index()  # what `clipdex rebuild-index` does
    assert len(index) == 20 and _consistent(data) == (20, 0)
    collection.close()


def test_corrupt_index_without_stored_vectors_is_re_embedded(tmp_path, photos, tiny_encoder):
    data = str(tmp_path / "data")
    _index(data, [str(photos)], CountingFactory(tiny_encoder))
    path = os.path.join(data, "vectors.faiss")
    with open(path, "r+b") as handle:
        handle.truncate(os.path.getsize(path) // 2)
    os.truncate(os.path.join(data, "vectors.f16"), 0)
    write_photos(str(photos), 1, start=500)  # give the run something to do
    factory = CountingFactory(tiny_encoder)
    _index(data, [str(photos)], factory)
    assert factory.embedded == 21 and _consistent(data) == (21, 0)
    assert os.path.exists(path + ".corrupt")


def _search_all(data: str) -> dict:
    """Each indexed file's stored vector and the path of its best match."""
    collection = _collection(data)
    out = {}
    for row in collection.store.iter_ok():
        vector = collection.vector_of_file(row["id"])
        out[row["path"]] = (vector, collection.search(vector, 1)[0][0].path)
    collection.close()
    return out


def test_device_decode_path_matches_the_cpu_path(tmp_path, tiny_encoder, monkeypatch):
    """The GPU ingest path (JPEG bytes decoded and resized by torch), run here on the CPU."""
    from PIL import Image

    from retrieval.images.gpu_preprocess import TensorPreprocessor

    decoded_on_device = []
    real_decode = TensorPreprocessor.decode
    monkeypatch.setattr(
        TensorPreprocessor, "decode", lambda self, blobs: decoded_on_device.extend(blobs) or real_decode(self, blobs)
    )

    folder = tmp_path / "mixed"
    write_photos(str(folder), 10, size=(320, 240))
    write_photos(str(folder / "png"), 3, ext="png")
    write_bad_files(str(folder / "bad"))
    write_odd_but_valid(str(folder / "odd"))  # CMYK and grey JPEGs, odd names
    sideways = noise_image(77, (120, 60)).resize((12, 6)).resize((120, 60))
    exif = Image.Exif()
    exif[0x0112] = 6
    sideways.save(folder / "sideways.jpg", exif=exif.tobytes(), quality=95)

    vectors, failures = {}, {}
    for decode in ("cpu", "device"):
        data = str(tmp_path / decode)
        options = IndexOptions(batch_size=8, num_workers=2, checkpoint_seconds=0.0, progress=False, decode=decode)
        _index(data, [str(folder)], CountingFactory(tiny_encoder), options)
        collection = _collection(data)
        vectors[decode] = {row["path"]: collection.vector_of_path(row["path"]) for row in collection.store.iter_ok()}
        failures[decode] = dict(collection.store.failures())
        rows = {row["path"]: (row["width"], row["height"]) for row in collection.store.iter_ok()}
        assert rows[str(folder / "sideways.jpg")] == (60, 120)
        collection.close()
    # the 10 photos, the sideways one, grey JPEGs and the odd names; not CMYK or truncated files
    assert len(decoded_on_device) >= 13
    assert failures["cpu"] == failures["device"] and len(failures["cpu"]) == 4
    assert set(vectors["cpu"]) == set(vectors["device"])
    cosines = [float(vectors["cpu"][p] @ vectors["device"][p]) for p in vectors["cpu"]]
    assert min(cosines) > 0.99


def test_a_second_writer_is_refused_while_one_indexes(tmp_path, photos, tiny_encoder):
    import subprocess
    import sys

    from indexer.collection import CollectionBusy

    data = str(tmp_path / "data")
    _index(data, [str(photos)], CountingFactory(tiny_encoder))
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; sys.path.insert(0, '.');"
        "from indexer.collection import Collection;"
        f"c = Collection({data!r});"
        "lock = c.writer_lock(); lock.__enter__(); print('held', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(CollectionBusy, match="another clipdex process"):
            _index(data, [str(photos)], CountingFactory(tiny_encoder))
    finally:
        holder.kill()
        holder.wait()
    assert _index(data, [str(photos)], CountingFactory(tiny_encoder)).up_to_date  # freed when its holder died


def test_a_second_writer_thread_of_the_same_process_is_refused_too(tmp_path, photos, tiny_encoder):
    """A server's re-index job and a request writing texts are two threads of one process:
    a POSIX record lock alone would let both write (and the last save would drop the other's
    vectors)."""
    import threading

    from indexer.collection import Collection, CollectionBusy
    from indexer.texts import TextCollection

    data = str(tmp_path / "data")
    _index(data, [str(photos)], CountingFactory(tiny_encoder))
    collection = Collection(data)
    holding, release = threading.Event(), threading.Event()

    def hold():
        with collection.writer_lock("texts"):
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(30)
        with pytest.raises(CollectionBusy, match="another clipdex process or task"):
            TextCollection(collection).add(["a dog"], tiny_encoder)
    finally:
        release.set()
        holder.join()
    texts = TextCollection(collection)
    texts.add(["a cat"], tiny_encoder)  # free again once the holder let go
    assert [hit["text"] for hit in texts.search(tiny_encoder.embed_texts(["a cat"])[0], 5)] == ["a cat"]
    collection.close()


def test_batches_run_as_two_halves_at_once_give_every_file_the_vector_one_thread_gives(tmp_path, photos, tiny_model):
    pytest.importorskip("onnxruntime")
    if (os.cpu_count() or 1) < 2:
        pytest.skip("two streams need two cores")
    from retrieval.encoders.backend import make_encoder

    cache = str(tmp_path / "onnx")
    halves = make_encoder(tiny_model, "onnx", "cpu", batch_size=3, threads=os.cpu_count(), onnx_cache=cache)
    one = make_encoder(tiny_model, "onnx", "cpu", batch_size=3, threads=1, onnx_cache=cache)  # a share: whole batches
    assert halves.runs_halves and not one.runs_halves
    options = IndexOptions(batch_size=3, num_workers=2, checkpoint_seconds=0.0, progress=False,
                           decode_workers="threads")
    vectors = {}
    for name, encoder in (("halves", halves), ("one", one)):
        data = str(tmp_path / name)
        report = _index(data, [str(photos)], lambda encoder=encoder: encoder, options)
        assert report.embedded == 20 and _consistent(data) == (20, 0)
        collection = _collection(data)
        vectors[name] = {row["path"]: collection.vector_of_path(row["path"]) for row in collection.store.iter_ok()}
        collection.close()
    assert vectors["halves"].keys() == vectors["one"].keys()
    for path, vector in vectors["one"].items():  # the halves put back in order: each file its own vector
        np.testing.assert_allclose(vectors["halves"][path], vector, atol=1e-5)
    assert len({tuple(np.round(v, 4)) for v in vectors["one"].values()}) == 20  # the files differ
