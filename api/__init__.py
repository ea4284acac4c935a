"""The surfaces people touch: the `clipdex` command, the HTTP API and the web page.

- cli/         one module per command group
- http/        the FastAPI app: routes, dependencies, schemas, the web page
- services.py  what the CLI and HTTP both build from Settings (tests/e2e/test_cli.py, tests/e2e/test_http.py)
- settings.py  the one Settings object, CLIPDEX_* variables (tests/e2e/test_cli.py)
- demo.py      `clipdex demo`: generate, train, index, search, offline (tests/e2e/test_cli.py)
"""
