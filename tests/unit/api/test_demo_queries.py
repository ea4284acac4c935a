"""The demo's searches each have an exact answer in its collection: a query that is no
picture's caption can never rank its exact caption first, whatever the model."""

from api.demo import COLLECTION_SEED, COLLECTION_SIZE, PICKED, QUERIES
from retrieval.datasets.shapes import make_split


def test_every_demo_query_is_the_caption_of_one_picture_of_the_collection():
    _, captions, _ = make_split(COLLECTION_SIZE, COLLECTION_SEED, "test", distinct=True)
    queries = [*QUERIES, *(captions[i] for i in PICKED)]
    assert len(set(queries)) == 4
    for query in queries:
        assert captions.count(query) == 1, query
