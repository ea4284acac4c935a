"""retrieval/index."""
