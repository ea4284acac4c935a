"""retrieval/captioning."""
