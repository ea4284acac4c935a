"""The surfaces people touch: the `clipdex` command, the HTTP API and the web page.

- cli/         one module per command group
- http/        the FastAPI app: routes, dependencies, schemas, the web page
- services.py  what the CLI and HTTP both build from Settings (tests/e2e/test_cli.py, tests/e2e/test_http.py)
- settings.py  the one Settings object, CLIPDEX_* variables (tests/e2e/test_cli.py)
- demo.py      `clipdex demo`: generate, train, index, search, offline (tests/e2e/test_cli_long_runs.py,
               tests/unit/api/test_demo_queries.py)
- cpu_kernels.py  the demo's torch held to AVX2 kernels, 2 threads, no oneDNN or NNPACK: the same numbers
                  whatever the machine's speed or load, and across Intel CPUs (tests/unit/api/test_cpu_kernels.py)
"""

import os

# ONNX Runtime (1.32) writes a device id and a telemetry database under the user's
# ~/.cache/Microsoft when it opens its first session, unless this is set: clipdex should
# leave no such trace. A value the user set stands.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
