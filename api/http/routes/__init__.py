"""HTTP routers, one file per area, all under /v1."""
