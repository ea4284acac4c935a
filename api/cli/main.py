"""`clipdex`: parse the command line, run the command, turn its errors into messages and
exit codes (2: usage or input, 3: the database went away, 130: interrupted)."""

from __future__ import annotations

import logging
import sys

from api.cli.common import UsageError
from api.cli.parser import build_parser
from api.cli.search import start_early_encoder
from api.settings import get_settings

EXIT_USAGE, EXIT_DATABASE, EXIT_INTERRUPTED = 2, 3, 130


def _input_errors() -> tuple[type[BaseException], ...]:
    """What a command raises for wrong input; imported when an error is being matched, so that
    a command's start does not wait for the layers it may not use (SQLAlchemy most)."""
    from indexer.collection import CollectionError, ModelMismatch
    from indexer.store import StoreError
    from retrieval.index.vector_index import IndexFileError
    from retrieval.models import BadModelSpec, ModelNotAvailable
    from retrieval.ocr import OcrError

    return (UsageError, ModelMismatch, BadModelSpec, ModelNotAvailable, CollectionError, IndexFileError, StoreError,
            FileNotFoundError, ValueError, OcrError)


def _database_error() -> type[BaseException]:
    from sqlalchemy.exc import DBAPIError

    return DBAPIError


def main(argv: list[str] | None = None) -> int:
    # Our own progress lines at INFO; the chatter of open_clip and faiss only when it matters.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    for name in ("clipdex", "indexer", "retrieval", "api"):
        logging.getLogger(name).setLevel(logging.WARNING if getattr(args, "quiet", False) else logging.INFO)
    settings = get_settings()
    try:
        args.early_encoder = start_early_encoder(args, settings)
        return args.func(args, settings)
    except _input_errors() as exc:
        print(f"clipdex: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except _database_error() as exc:  # the database went away (server down, network, disk full)
        reason = str(exc.orig or exc).strip().splitlines()[0][:300]
        print(f"clipdex: error: the database failed ({reason}); what was saved before is kept: run the same "
              f"command again when the database is reachable", file=sys.stderr)
        return EXIT_DATABASE
    except KeyboardInterrupt:
        print("clipdex: interrupted; run the same command again to finish", file=sys.stderr)
        return EXIT_INTERRUPTED
