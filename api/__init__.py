"""The surfaces people touch: the CLI (and later HTTP and the web page)."""
