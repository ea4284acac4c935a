"""indexer/collection."""
