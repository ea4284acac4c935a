import pytest

from indexer.collection import Collection, CollectionError
from indexer.reindex import reindex_with_model


def test_reindex_with_a_database_outside_the_data_dir_is_refused_clearly(tmp_path):
    from database_urls import fresh_database

    with fresh_database("sqlite", tmp_path) as url:  # a SQLite file elsewhere, as with --db-url
        collection = Collection(str(tmp_path / "data"), url)
        collection.store.add_roots([str(tmp_path)])
        with pytest.raises(CollectionError, match="index into a new database"):
            reindex_with_model(collection, "random:clipdex-small", lambda: None)
        collection.close()
    assert not (tmp_path / "data.next").exists()  # nothing was built beside it
