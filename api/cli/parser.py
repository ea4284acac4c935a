"""The `clipdex` command line: the flags every command shares, and each command group's
own (index.py, search.py, status.py, captions.py, ocr.py, locate.py, train.py, serve.py)."""

from __future__ import annotations

import argparse

from api.cli import captions, index, locate, ocr, search, serve, status, train
from retrieval.encoders.backend import BACKENDS
from retrieval.index.plan import KINDS as INDEX_KINDS
from retrieval.models import DEFAULT_MODEL

COMMAND_GROUPS = (index, search, status, captions, ocr, locate, train, serve)


def _common_flags() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", help="collection data dir (default: FOLDER/.clipdex)")
    common.add_argument("--db-url", help="SQLAlchemy database URL (default: SQLite in the data dir)")
    common.add_argument("--model", help=f"model spec (default: the collection's, else {DEFAULT_MODEL})")
    common.add_argument("--device", help="auto, cpu, cuda, cuda:1, mps")
    common.add_argument("--backend", choices=BACKENDS,
                        help="inference backend (default auto: ONNX Runtime on a CPU when installed)")
    common.add_argument("--batch-size", type=int, help="images per model batch")
    common.add_argument("--json", action="store_true", help="machine-readable output")
    common.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return common


def _index_flags() -> argparse.ArgumentParser:
    flags = argparse.ArgumentParser(add_help=False)
    flags.add_argument("--index-type", choices=INDEX_KINDS,
                       help="vector index type (default auto: by collection size); remembered")
    flags.add_argument("--shards", type=int, help="split the index into N shards; remembered")
    flags.add_argument("--memory-mb", type=int, help="memory budget of the index (auto type); remembered")
    return flags


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clipdex", description="Search image folders by meaning.")
    sub = parser.add_subparsers(dest="command", required=True)
    common, index_flags = _common_flags(), _index_flags()
    for group in COMMAND_GROUPS:
        group.add_parsers(sub, common, index_flags)
    return parser
