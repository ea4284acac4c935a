"""retrieval/training."""
