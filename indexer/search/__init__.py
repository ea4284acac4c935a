"""Search beyond one index lookup: hybrid ranking with captions, and cross-encoder re-ranking.

Modules (test file in brackets):

- hybrid.py  image similarity and caption similarity together (tests/integration/test_hybrid.py)
- rerank.py  a text search's hits re-scored by a cross-encoder (tests/e2e/test_rerank.py)
"""

from indexer.search.hybrid import hybrid_search
from indexer.search.rerank import rerank_hits

__all__ = ["hybrid_search", "rerank_hits"]
