"""indexer/ingest."""
