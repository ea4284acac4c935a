"""Pictures prepared at index time to show where, on SQLite and PostgreSQL: a crash half-way
keeps what was prepared and the rerun prepares only the rest; a hit located from its record
gets the box and heat map that reading its file gives; records of another model are
dropped, and a record this clipdex cannot read leaves its hit to be located from the file."""

import numpy as np
import pytest
from PIL import Image

from indexer import prepare_locating as preparing
from indexer.collection import Collection
from indexer.ingest import IndexOptions, index_folders
from indexer.search import locate_hits
from indexer.store.prepared_locations import PreparedLocations
from indexer.store.schema import prepared_locations_table
from retrieval.datasets import shapes
from retrieval.encoders import TorchEncoder
from retrieval.locate import DenseLocator
from retrieval.locate.prepared import recipe
from retrieval.models import load_model


class FailsAfter:
    """An encoder that breaks after ``calls`` batches of windows (a crash half-way)."""

    def __init__(self, encoder, calls: int):
        self.encoder, self.calls = encoder, calls

    def __getattr__(self, name):
        return getattr(self.encoder, name)

    def embed_preprocessed(self, pixels):
        if self.calls == 0:
            raise RuntimeError("the machine went down")
        self.calls -= 1
        return self.encoder.embed_preprocessed(pixels)


@pytest.fixture(scope="module")
def encoder():
    return TorchEncoder(load_model("random:clipdex-small"), device="cpu", batch_size=64)


@pytest.fixture
def collection(tmp_path, encoder, database_url):
    folder = tmp_path / "scenes"
    folder.mkdir()
    for number in range(5):
        things = [shapes.Thing("red", "circle", "large", 0.2 + 0.15 * number, 0.5),
                  shapes.Thing("blue", "square", "small", 0.8, 0.2)]
        image = shapes.draw(things, 64)
        (image.resize((96, 64)) if number % 2 else image).save(folder / f"scene_{number}.png")
    collection = Collection(str(tmp_path / "data"), database_url)  # on SQLite and on PostgreSQL
    index_folders(collection, [str(folder)], encoder.spec, lambda: encoder, IndexOptions(num_workers=0, progress=False))
    yield collection
    collection.close()


def test_a_crash_half_way_keeps_what_was_prepared_and_the_rerun_prepares_the_rest(collection, encoder, monkeypatch):
    monkeypatch.setattr(preparing, "BATCH", 2)
    with pytest.raises(RuntimeError, match="went down"):
        preparing.prepare_locating(collection, lambda: FailsAfter(encoder, calls=1), progress=False)
    records = PreparedLocations(collection.store)
    assert len(records.unprepared(recipe(collection.model_spec))) == 3
    report = preparing.prepare_locating(collection, lambda: encoder, progress=False)
    assert (report.prepared, report.failed) == (3, 0)
    assert records.unprepared(recipe(collection.model_spec)) == []
    built = []
    assert preparing.prepare_locating(collection, lambda: built.append(1), progress=False).prepared == 0
    assert built == []  # nothing left to prepare: the model is not even loaded


def test_a_hit_located_from_its_record_is_located_as_from_its_file(collection, encoder):
    preparing.prepare_locating(collection, lambda: encoder, progress=False)
    vector = encoder.embed_texts(["a large red circle"])[0]
    locator = DenseLocator(encoder, "windows")
    from_records = collection.search(vector, 5)[0]
    assert locate_hits(from_records, locator, vector, "a large red circle", 10**8, collection) == {}
    from_files = collection.search(vector, 5)[0]
    locate_hits(from_files, locator, vector, "a large red circle", 10**8)
    for prepared, read in zip(from_records, from_files):
        assert (prepared.width, prepared.height) == Image.open(prepared.path).size
        assert np.allclose(prepared.regions[0].box, read.regions[0].box, atol=1.0)
        assert np.allclose(prepared.heatmap, read.heatmap, atol=0.03)


def test_stale_and_unreadable_records_are_not_used(collection, encoder):
    records = PreparedLocations(collection.store)
    records.put({content: b"from an older model" for content, _ in records.unprepared("none yet")}, "older|model")
    assert preparing.prepare_locating(collection, lambda: encoder, progress=False).dropped == 5
    key = recipe(collection.model_spec)
    with collection.store.engine.begin() as conn:  # records a newer clipdex wrote, in place of these
        conn.execute(prepared_locations_table.update().values(data=b'{"format": 999}\n'))
    assert len(records.get([content for content, _ in records.unprepared("none yet")], key)) == 5
    vector = encoder.embed_texts(["a small blue square"])[0]
    hits = collection.search(vector, 5)[0]
    assert locate_hits(hits, DenseLocator(encoder, "windows"), vector, "a small blue square", 10**8, collection) == {}
    assert all(hit.regions and hit.heatmap for hit in hits)  # from their files


def test_a_prepared_collection_reindexed_with_another_model_is_prepared_for_it(tmp_path, encoder):
    from indexer.reindex import reindex_with_model

    folder = tmp_path / "scenes"
    folder.mkdir()
    for number in range(3):
        shapes.draw([shapes.Thing("red", "circle", "large", 0.2 + 0.3 * number, 0.5)], 64).save(folder / f"{number}.png")
    collection = Collection(str(tmp_path / "data"))
    index_folders(collection, [str(folder)], encoder.spec, lambda: encoder, IndexOptions(num_workers=0, progress=False))
    preparing.prepare_locating(collection, lambda: encoder, progress=False)
    other = TorchEncoder(load_model("random:clipdex-tiny"), device="cpu")
    reindex_with_model(collection, other.spec, lambda: other, IndexOptions(num_workers=0, progress=False))
    collection.close()
    switched = Collection(str(tmp_path / "data"))
    try:
        assert switched.model_spec == other.spec and preparing.prepares_locating(switched)
        assert PreparedLocations(switched.store).unprepared(recipe(switched.model_spec)) == []
    finally:
        switched.close()
