"""A collection: one data dir holding the metadata store and the vector index of some folders.

Modules (test file in brackets):

- collection.py  Collection: model binding, loading/repairing/saving the index, search, duplicates (tests/integration/test_pipeline.py)
- hits.py        Hit and SearchFilters (tests/e2e/test_http.py)
- paths.py       whether a path, links resolved, lies in the indexed folders; paths shown relative (tests/e2e/test_hostile.py)
- locks.py       one writer per index file, across processes and threads (tests/integration/test_pipeline.py)
- switch.py      finishing a re-index switch a crash cut short (tests/integration/test_reindex_refusal.py)
- errors.py      ModelMismatch, CollectionError, CollectionBusy
"""

from indexer.collection.collection import Collection
from indexer.collection.errors import CollectionBusy, CollectionError, ModelMismatch
from indexer.collection.hits import Hit, SearchFilters, hit_of_row
from indexer.data_dir import DATA_DIR_NAME, default_data_dir, find_data_dir

__all__ = ["DATA_DIR_NAME", "Collection", "CollectionBusy", "CollectionError", "Hit", "ModelMismatch",
           "SearchFilters", "default_data_dir", "find_data_dir", "hit_of_row"]
