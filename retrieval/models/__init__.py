"""retrieval/models."""
