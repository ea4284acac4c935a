"""indexer/texts."""
