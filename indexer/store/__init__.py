"""indexer/store."""
