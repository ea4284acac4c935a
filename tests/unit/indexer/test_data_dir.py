"""The data dir read without SQLAlchemy: what the embedded database records, and finding
the collection a command runs in."""

import os

from indexer.data_dir import SQLITE_FILE, find_data_dir, recorded_model
from indexer.store import Store, sqlite_url


def _collection(data_dir, model: str | None) -> str:
    os.makedirs(data_dir, exist_ok=True)
    store = Store(sqlite_url(str(data_dir)))
    if model:
        store.set_meta("model", model)
    store.close()
    return str(data_dir)


def test_recorded_model_is_what_the_store_wrote_in_an_oddly_named_folder_and_changes_nothing(tmp_path):
    data_dir = _collection(tmp_path / "odd ?#% name" / ".clipdex", "random:ViT-B-32")
    database = os.path.join(data_dir, SQLITE_FILE)  # (in the data dir, not cut at the '?')
    before = open(database, "rb").read(), os.stat(database).st_mtime_ns
    assert recorded_model(data_dir) == "random:ViT-B-32"
    assert (open(database, "rb").read(), os.stat(database).st_mtime_ns) == before


def test_no_model_where_none_is_recorded_or_the_file_is_not_a_database(tmp_path):
    assert recorded_model(_collection(tmp_path / "fresh", None)) is None
    assert recorded_model(str(tmp_path / "nothing here")) is None
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / SQLITE_FILE).write_bytes(b"not a database at all" * 100)
    assert recorded_model(str(garbage)) is None


def test_find_data_dir_passes_over_a_collection_never_indexed(tmp_path):
    outer = _collection(tmp_path / ".clipdex", "random:ViT-B-32")
    inner_folder = tmp_path / "photos" / "2024"
    _collection(tmp_path / "photos" / ".clipdex", None)  # made and left empty (an older clipdex did)
    inner_folder.mkdir(parents=True)
    assert find_data_dir(str(inner_folder)) == outer
