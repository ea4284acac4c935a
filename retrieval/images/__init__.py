"""retrieval/images."""
