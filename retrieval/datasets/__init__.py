"""retrieval/datasets."""
