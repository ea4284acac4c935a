"""Text in pictures, in a collection: read once by a pool of worker processes (RapidOCR,
really), kept with the files through moves, changes and deletes, searched the forgiving
way on SQLite and PostgreSQL; a crashing worker or Ctrl-C costs nothing already read."""

import os
import shutil
import signal
import time

import numpy as np
import pytest
from PIL import ImageOps

from indexer.collection import Collection, SearchFilters
from indexer.ingest import IndexOptions, index_folders
from indexer.ocr import OcrFollowsFiles, OcrOptions, read_collection_texts, search_text_in_images
from indexer.store.ocr_texts import OcrTexts, Reading
from retrieval.datasets.text_scenes import FontsMissing, make_text_scenes, scene_bytes
from retrieval.ocr import load_ocr_engine
from retrieval.ocr.matching import query_words
from retrieval.ocr.workers import read_in_workers
from retrieval.regions import Region

pytest.importorskip("rapidocr_onnxruntime")


@pytest.fixture(scope="module")
def scenes():
    try:
        return make_text_scenes(8, seed=3, text_share=0.75)  # 6 with text: turned, tilted, tagged, plain
    except FontsMissing as exc:
        pytest.skip(str(exc))


def _write(folder, scenes):
    os.makedirs(folder, exist_ok=True)
    for scene in scenes:
        with open(os.path.join(folder, scene.name + ".jpg"), "wb") as handle:
            handle.write(scene_bytes(scene))


def _index(collection, folder, encoder):
    follow = OcrFollowsFiles(collection)
    index_folders(collection, [str(folder)], encoder.spec, lambda: encoder,
                  IndexOptions(batch_size=8, num_workers=0, progress=False), events=follow)
    return follow


def _names(hits):
    return [os.path.basename(h.path) for h in hits]


def test_text_is_read_once_and_found_however_it_is_typed(tmp_path, scenes, tiny_encoder, database_url):
    _write(tmp_path / "pics", scenes)
    collection = Collection(str(tmp_path / "data"), database_url)
    _index(collection, tmp_path / "pics", tiny_encoder)
    first = read_collection_texts(collection, "rapidocr", OcrOptions(workers=2, progress=False))
    with_text = [s for s in scenes if s.lines]
    assert (first.read, first.failed, first.with_text) == (len(scenes), 0, len(with_text))
    again = read_collection_texts(collection, None, OcrOptions(workers=2, progress=False))  # the remembered engine
    assert again.read == 0 and again.engine == first.engine

    for scene in with_text:
        for kind, query in scene.queries.items():
            hits = search_text_in_images(collection, query, 3)
            assert _names(hits)[:1] == [scene.name + ".jpg"], (kind, query, scene.rotation, _names(hits))
            assert hits[0].regions and hits[0].text_score >= 0.76
    assert search_text_in_images(collection, "Xylophone", 5) == []
    folder = str(tmp_path / "elsewhere")
    assert search_text_in_images(collection, with_text[0].queries[next(iter(with_text[0].queries))], 5,
                                 filters=SearchFilters(folder=folder)) == []


def test_text_follows_moved_changed_and_deleted_files(tmp_path, scenes, tiny_encoder):
    with_text = [s for s in scenes if s.lines]
    moved, changed, deleted, other = with_text[:4]
    _write(tmp_path / "pics", [moved, changed, deleted])
    collection = Collection(str(tmp_path / "data"))
    _index(collection, tmp_path / "pics", tiny_encoder)
    read_collection_texts(collection, "rapidocr", OcrOptions(workers=0, progress=False))

    pics = tmp_path / "pics"
    os.makedirs(pics / "sub")
    os.replace(pics / f"{moved.name}.jpg", pics / "sub" / "renamed.jpg")
    (pics / f"{changed.name}.jpg").write_bytes(scene_bytes(other))  # same name, another picture
    os.remove(pics / f"{deleted.name}.jpg")
    follow = _index(collection, pics, tiny_encoder)
    assert follow.dropped == 2  # the changed file's old text and the deleted file's
    report = read_collection_texts(collection, None, OcrOptions(workers=0, progress=False))
    assert report.read == 1  # only the new content: the moved file kept its text

    def find(scene):
        return _names(search_text_in_images(collection, next(iter(scene.queries.values())), 5))

    assert find(moved) == ["renamed.jpg"]
    assert find(changed) == [] and find(deleted) == []
    assert find(other) == [f"{changed.name}.jpg"]
    assert OcrTexts(collection.store).counts(report.engine)["read"] == 2


def test_among_equal_text_matches_the_query_meaning_ranks(tmp_path, scenes, tiny_encoder):
    scene = next(s for s in scenes if s.kind == "code")
    _write(tmp_path / "pics", [scene])
    ImageOps.invert(scene.image).save(tmp_path / "pics" / "twin.jpg", quality=95)  # same text, another picture
    collection = Collection(str(tmp_path / "data"))
    _index(collection, tmp_path / "pics", tiny_encoder)
    read_collection_texts(collection, "rapidocr", OcrOptions(workers=0, progress=False))
    query = scene.queries["half_code"]
    for name in ("twin.jpg", f"{scene.name}.jpg"):
        vector = collection.vector_of_path(str(tmp_path / "pics" / name))
        hits = search_text_in_images(collection, query, 5, query_vector=vector)
        assert _names(hits)[0] == name and hits[0].score == pytest.approx(1.0, abs=1e-2)


def test_a_worker_that_dies_costs_only_its_picture(tmp_path, scenes):
    paths = []
    for scene in scenes:
        path = tmp_path / f"{scene.name}.jpg"
        path.write_bytes(scene_bytes(scene))
        paths.append(path)
    from retrieval.images.decode import content_hash

    items = [(content_hash(p.read_bytes()), str(p)) for p in paths]
    results, killed = [], False
    for content, lines, error in read_in_workers("rapidocr", items, 10**8, workers=2):
        results.append((content, lines, error))
        if not killed:  # kill one worker while it reads its next picture
            worker = next(pid for pid in _children() if b"retrieval.ocr.worker" in _cmdline(pid))
            os.kill(worker, signal.SIGKILL)
            killed = True
    assert sorted(c for c, _, _ in results) == sorted(c for c, _ in items)  # every picture has an answer
    crashed = [e for _, _, e in results if e and "crashed" in e]
    assert len(crashed) <= 1 and sum(1 for _, lines, e in results if lines and not e) >= len(items) - 3
    time.sleep(0.2)
    assert not [pid for pid in _children() if b"retrieval.ocr.worker" in _cmdline(pid)]  # none outlives the run


def _children():
    me = str(os.getpid())
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and open(f"/proc/{pid}/stat").read().split()[3] == me:
                yield int(pid)
        except OSError:
            continue


def _cmdline(pid):
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read()
    except OSError:
        return b""


class _Interrupted:
    """RapidOCR, stopped by Ctrl-C at its third picture."""

    def __init__(self):
        self.engine = load_ocr_engine("rapidocr")
        self.name, self.seen = self.engine.name, 0

    def read(self, image):
        self.seen += 1
        if self.seen == 3:
            raise KeyboardInterrupt
        return self.engine.read(image)


def test_ctrl_c_keeps_what_was_read(tmp_path, scenes, tiny_encoder):
    _write(tmp_path / "pics", scenes)
    collection = Collection(str(tmp_path / "data"))
    _index(collection, tmp_path / "pics", tiny_encoder)
    options = OcrOptions(workers=0, progress=False, checkpoint_seconds=3600)
    with pytest.raises(KeyboardInterrupt):
        read_collection_texts(collection, "rapidocr", options, engine=_Interrupted())
    done = read_collection_texts(collection, None, options)
    assert done.read == len(scenes) - 2


def test_candidate_search_uses_the_trigram_index_on_both_databases(tmp_path, database_url):
    collection = Collection(str(tmp_path / "data"), database_url)
    texts = OcrTexts(collection.store)
    assert texts.has_trigram_index()
    rng = np.random.default_rng(0)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    readings = [Reading(f"{n:064x}", [Region((0, 0, 10, 10), "".join(rng.choice(letters, 12)), 0.9, "x")])
                for n in range(3000)]
    readings[1234] = Reading(f"{1234:064x}", [Region((0, 0, 10, 10), "Bahnhofstrasse 12", 0.9, "x")])
    assert texts.put(readings, "eng") == 3000 and texts.put(readings[:5], "eng") == 0
    exact = texts.candidates("eng", query_words("Bahnhof"), 50)
    assert exact[0].content_hash == f"{1234:064x}"  # then readings that share some trigrams
    near = texts.candidates("eng", query_words("Bahnhufstrasse"), 50)  # an OCR slip: only trigrams in common
    assert f"{1234:064x}" in [r.content_hash for r in near][:10]
    assert texts.candidates("other engine", query_words("Bahnhof"), 50) == []
    short = texts.candidates("eng", query_words("12"), 5000)  # too short for trigrams: a scan that still finds it
    assert f"{1234:064x}" in [r.content_hash for r in short]
    shutil.rmtree(tmp_path / "data", ignore_errors=True)
