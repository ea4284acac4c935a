"""What every `clipdex` command shares: the usage error, finding and opening the collection,
the model spec and encoder a command uses, and printing paths."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from api.services import encoder_recipe
from api.settings import Settings, index_config, user_cache_dir
from indexer.data_dir import default_data_dir, find_data_dir
from retrieval.images.decode import ImageError, read_image_file
from retrieval.models import DEFAULT_MODEL

if TYPE_CHECKING:
    from indexer.collection import Collection

RECENT_FILE = "last_collection"  # in the user's cache folder: the collection indexed last


class UsageError(Exception):
    """A wrong command line or missing input: printed, exit status 2."""


def remember(data_dir: str) -> None:
    path = user_cache_dir(RECENT_FILE)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write(data_dir)
    except OSError:
        pass  # only a convenience


def recent() -> str | None:
    try:
        with open(user_cache_dir(RECENT_FILE), encoding="utf-8", errors="surrogateescape") as handle:
            path = handle.read().strip()
    except OSError:
        return None
    return path if os.path.isdir(path) else None


def resolve_data_dir(args, settings: Settings, folders: list[str] | None = None) -> str:
    """--data-dir, then CLIPDEX_DATA_DIR, then FOLDER/.clipdex, then the nearest .clipdex
    above the current folder, then the collection indexed last."""
    chosen = getattr(args, "data_dir", None) or settings.data_dir
    if chosen:
        return os.path.abspath(chosen)
    if folders:
        first = folders[0] if os.path.isdir(folders[0]) else os.path.dirname(os.path.abspath(folders[0]))
        return default_data_dir(first)
    found = find_data_dir() or recent()
    if not found:
        raise UsageError("no collection found: run `clipdex index FOLDER` first, or pass --data-dir")
    return found


def open_collection(args, settings: Settings, folders=None, must_exist=True) -> Collection:
    from indexer.collection import Collection  # SQLAlchemy: once a search has started opening its text tower

    data_dir = resolve_data_dir(args, settings, folders)
    if must_exist and not os.path.isdir(data_dir):
        raise UsageError(f"no collection at {data_dir}: run `clipdex index FOLDER --data-dir {data_dir}`")
    config = index_config(settings, kind=getattr(args, "index_type", None), shards=getattr(args, "shards", None),
                          memory_mb=getattr(args, "memory_mb", None), nprobe=getattr(args, "nprobe", None))
    return Collection(data_dir, getattr(args, "db_url", None) or settings.database_url, config)


def model_spec(args, settings: Settings, collection: Collection | None = None) -> str:
    """--model, then CLIPDEX_MODEL, then the collection's model, then the default."""
    return args.model or settings.model or (collection.model_spec if collection else None) or DEFAULT_MODEL


def encoder_factory(spec: str, args, settings: Settings, indexing: bool = False):
    """The encoder of ``spec`` with this command line's --backend, --device and --batch-size;
    call it to build (only commands that need the model do). ``indexing``: see encoder_recipe."""
    return encoder_recipe(settings, spec, backend=getattr(args, "backend", None), device=args.device,
                          batch_size=args.batch_size, indexing=indexing)


def read_pictures(paths: list[str], settings: Settings, what: str = "pictures") -> tuple[list, list[str]]:
    """(pictures, their paths) of the files that decode; each one that does not is named on
    stderr with why. Raises UsageError when none does."""
    pictures, names = [], []
    for path in paths:
        try:
            pictures.append(read_image_file(path, settings.max_image_pixels).image)
            names.append(path)
        except ImageError as exc:
            print(f"{show_path(path)}: {exc}", file=sys.stderr)
    if not pictures:
        raise UsageError(f"none of the {what} could be read")
    return pictures, names


def files_encoder(args, settings: Settings):
    """The encoder for commands on loose files: --model, CLIPDEX_MODEL, the model of the
    collection found from here if there is one, else the default."""
    collection = None
    if not args.model and not settings.model:
        try:
            collection = open_collection(args, settings)
        except UsageError:
            pass  # no collection: the default model
    return encoder_factory(model_spec(args, settings, collection), args, settings)()


def show_path(path: str) -> str:
    """A path printable on any terminal, whatever bytes its name holds."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def require_indexed(collection: Collection) -> None:
    if collection.model_spec is None:
        raise UsageError(f"the collection at {collection.data_dir} is empty: run `clipdex index FOLDER` first")
