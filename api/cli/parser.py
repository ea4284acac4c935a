"""The `clipdex` command line: the flags commands share, each command taking only those it
uses (so its --help shows only them), and each command group's own (index.py, search.py,
status.py, captions.py, ocr.py, locate.py, train.py, serve.py)."""

from __future__ import annotations

import argparse

from api.cli import captions, index, locate, ocr, search, serve, status, train
from retrieval.encoders.backend import BACKENDS
from retrieval.index.plan import KINDS as INDEX_KINDS
from retrieval.models import DEFAULT_MODEL

COMMAND_GROUPS = (index, search, status, captions, ocr, locate, train, serve)
# Every shared flag's default, which is also its value for a command that does not take it.
UNSET = {"data_dir": None, "db_url": None, "model": None, "device": None, "backend": None, "batch_size": None,
         "json": False, "quiet": False, "index_type": None, "shards": None, "memory_mb": None}


class SharedFlags:
    """The shared flags, each a parent parser of its own; ``of(...)`` names those a command takes."""

    def __init__(self):
        self._parsers: dict[str, argparse.ArgumentParser] = {}
        self._add("data_dir", "--data-dir", help="collection data dir (default: FOLDER/.clipdex)")
        self._add("db_url", "--db-url", help="SQLAlchemy database URL (default: SQLite in the data dir)")
        self._add("model", "--model", help=f"model spec (default: the collection's, else {DEFAULT_MODEL})")
        self._add("device", "--device", help="auto, cpu, cuda, cuda:1, mps")
        self._add("backend", "--backend", choices=BACKENDS,
                  help="inference backend (default auto: ONNX Runtime on a CPU when installed, its image "
                       "tower int8 where that measured faster here)")
        self._add("batch_size", "--batch-size", type=int, help="images per model batch")
        self._add("json", "--json", action="store_true", help="machine-readable output")
        self._add("quiet", "-q", "--quiet", action="store_true", help="no progress bar")
        self._add("index_type", "--index-type", choices=INDEX_KINDS,
                  help="vector index type (default auto: by collection size); remembered")
        self._add("shards", "--shards", type=int, help="split the index into N shards; remembered")
        self._add("memory_mb", "--memory-mb", type=int, help="memory budget of the index (auto type); remembered")

    def _add(self, name: str, *flags: str, **options) -> None:
        parser = argparse.ArgumentParser(add_help=False)
        parser.add_argument(*flags, **options)
        self._parsers[name] = parser

    def of(self, *names: str) -> list[argparse.ArgumentParser]:
        """Parents for ``add_parser``: "collection" (--data-dir, --db-url), "encoder" (--model,
        --device, --backend, --batch-size), "index" (--index-type, --shards, --memory-mb), or
        single flags by name."""
        groups = {"collection": ("data_dir", "db_url"), "encoder": ("model", "device", "backend", "batch_size"),
                  "index": ("index_type", "shards", "memory_mb")}
        return [self._parsers[flag] for name in names for flag in groups.get(name, (name,))]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clipdex", description="Search image folders by meaning.")
    sub = parser.add_subparsers(dest="command", required=True)
    flags = SharedFlags()
    for group in COMMAND_GROUPS:
        group.add_parsers(sub, flags)
    for command in sub.choices.values():  # what a command does not take, it reads as unset
        command.set_defaults(**UNSET)  # (each value is the flag's own default: nothing it takes changes)
    return parser
