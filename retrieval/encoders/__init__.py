"""retrieval/encoders."""
