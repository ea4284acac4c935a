"""The `clipdex` command: one module per command group.

Modules (test file in brackets):

- main.py      main(): run a command, errors to messages and exit codes (tests/e2e/test_cli.py)
- parser.py    the command line: shared flags and each group's commands (tests/e2e/test_cli.py)
- common.py    UsageError; finding and opening the collection; the model and encoder of a command (tests/e2e/test_cli.py)
- index.py     index, reindex, rebuild-index, index-texts (tests/e2e/test_cli.py)
- search.py    search, duplicates, classify (tests/e2e/test_cli.py)
- status.py    status, models, export-onnx (tests/e2e/test_cli.py)
- captions.py  caption, train-captioner, index-captions; captions of search hits (tests/e2e/test_cli_captions.py)
- ocr.py       index-ocr, ocr: the text in a collection's pictures, or in files (tests/e2e/test_cli_ocr.py)
- locate.py    locate, detect: boxes and heat maps in pictures (tests/e2e/test_show_where.py)
- train.py     train, datasets (tests/e2e/test_cli.py)
- serve.py     serve, demo (tests/e2e/test_http.py)
"""

from api.cli.main import main

__all__ = ["main"]
