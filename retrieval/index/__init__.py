"""Where a vector becomes a search hit: FAISS indexes over float16 rows of every vector.

Modules (test file in brackets):

- search_index.py   SearchIndex: what a collection searches; rebuilt as another type without re-embedding (tests/unit/retrieval/test_search_index.py)
- sharded_index.py  an index split in shards, searched in parallel, merged by score (tests/unit/retrieval/test_search_index.py)
- vector_index.py   one FAISS inner-product index with stable ids and checksummed atomic files (tests/unit/retrieval/test_vector_index.py)
- vector_rows.py    VectorRows: float16 copies of the vectors, memory-mapped, for exact re-ranking (tests/unit/retrieval/test_vector_rows.py)
- device_search.py  exact search with torch on a GPU over the float16 vectors, FAISS's answers (tests/unit/retrieval/test_device_search.py)
- plan.py           which index type a collection of a given size should have (tests/unit/retrieval/test_index_plan.py)
- duplicates.py     groups of near-duplicates from the index's neighbours (tests/unit/retrieval/test_duplicates.py)
"""

from retrieval.index.plan import KINDS, IndexConfig, IndexPlan, plan_for
from retrieval.index.search_index import SearchIndex
from retrieval.index.vector_index import IndexFileError, VectorIndex
from retrieval.index.vector_rows import VectorRows, VectorRowsError

__all__ = ["KINDS", "IndexConfig", "IndexFileError", "IndexPlan", "SearchIndex", "VectorIndex", "VectorRows",
           "VectorRowsError", "plan_for"]
