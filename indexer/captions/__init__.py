"""indexer/captions."""
