"""Search beyond one index lookup: hybrid ranking with captions, and cross-encoder re-ranking.

Modules (test file in brackets):

- hybrid.py  image similarity and caption similarity together (tests/integration/test_hybrid.py)
- rerank.py  a text search's hits re-scored by a cross-encoder (tests/e2e/test_rerank.py)
- locate.py  where in each hit the query is: a box and a heat map (tests/e2e/test_show_where.py)
"""

from indexer.search.hybrid import hybrid_search
from indexer.search.locate import heat_rows, locate_hits
from indexer.search.rerank import rerank_hits

__all__ = ["heat_rows", "hybrid_search", "locate_hits", "rerank_hits"]
