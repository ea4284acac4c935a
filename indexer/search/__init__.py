"""indexer/search."""
