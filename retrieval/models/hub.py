"""Weights from the Hugging Face hub: the local cache first; offline and not cached fails at
once with how to get them, instead of letting the hub client retry for a minute.

Offline mode is huggingface_hub's own setting (``HF_HUB_OFFLINE``), read through the
library; no environment is read here.
"""

from __future__ import annotations

import os
import socket
import threading
from typing import Callable

from retrieval.models.spec import ModelNotAvailable

HUB_HOST = "huggingface.co"
DEFAULT_OPEN_CLIP_WEIGHTS = "open_clip_pytorch_model.bin"


def offline() -> bool:
    """Whether huggingface_hub is set to offline mode."""
    from huggingface_hub import constants

    is_offline = getattr(constants, "is_offline_mode", None)
    return bool(is_offline() if callable(is_offline) else constants.HF_HUB_OFFLINE)


def hub_reachable(timeout: float = 1.5) -> bool:
    """Whether the hub answers within ``timeout`` seconds, name lookup included (a machine
    without network can spend many seconds failing to resolve a name)."""
    answer: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((HUB_HOST, 443), timeout=timeout):
                answer.append(True)
        except OSError:
            answer.append(False)

    worker = threading.Thread(target=probe, daemon=True)
    worker.start()
    worker.join(timeout)
    return bool(answer and answer[0])


def download_command(repo_id: str) -> str:
    """The command the installed huggingface_hub offers to fetch a repository."""
    import huggingface_hub

    version = tuple(int(part) for part in huggingface_hub.__version__.split(".")[:2] if part.isdigit())
    return f"hf download {repo_id}" if version >= (0, 34) else f"huggingface-cli download {repo_id}"


def weight_file_names(filename: str) -> list[str]:
    """The names a checkpoint may have on the hub: safetensors first, then the one given."""
    stem, suffix = os.path.splitext(filename)
    names = [stem + ".safetensors"] if suffix in (".bin", ".pth", ".pt") else []
    return names + [filename]


def cached_or_downloaded(fetch: Callable[[bool], str], not_available: str, failed: str) -> str:
    """``fetch(local_only)`` from the cache, else from the hub when it can be reached.
    ``not_available``: the message when offline; ``failed``: its start when the download fails."""
    try:
        return fetch(True)
    except Exception:  # not (fully) in the cache
        pass
    if offline() or not hub_reachable():
        raise ModelNotAvailable(not_available)
    try:
        return fetch(False)
    except Exception as exc:
        raise ModelNotAvailable(f"{failed}: {exc}") from None


def how_to_get(repo_id: str, cache_dir: str | None) -> str:
    return (f"Download it once on a machine with network access (for example `{download_command(repo_id)}`, "
            f"or run clipdex there with the same cache directory), then copy the cache "
            f"({cache_dir or '~/.cache/huggingface/hub'}); or use a local path or `random:ARCH` for tests.")


def hub_file(repo_id: str, filenames: list[str], cache_dir: str | None, spec: str) -> str:
    """Path of the first of ``filenames`` found for ``repo_id``: cache first, then the hub."""
    from huggingface_hub import hf_hub_download

    def fetch(local_only: bool) -> str:
        last: Exception | None = None
        for name in filenames:
            try:
                return hf_hub_download(repo_id, name, cache_dir=cache_dir, local_files_only=local_only)
            except Exception as exc:  # try the next name (safetensors, then .bin)
                last = exc
        raise last or FileNotFoundError(repo_id)

    how = how_to_get(repo_id, cache_dir)
    return cached_or_downloaded(
        fetch, f"Model {spec!r} is not in the local cache and {HUB_HOST} cannot be reached (offline). {how}",
        f"Could not download {spec!r} from {repo_id}. {how}")


def hub_snapshot(repo_id: str, patterns: list[str], cache_dir: str | None, spec: str) -> str:
    """The folder of a hub repository's files (those matching ``patterns``): cache first."""
    from huggingface_hub import snapshot_download

    def fetch(local_only: bool) -> str:
        return snapshot_download(repo_id, cache_dir=cache_dir, allow_patterns=patterns, local_files_only=local_only)

    how = how_to_get(repo_id, cache_dir)
    return cached_or_downloaded(
        fetch, f"{spec!r} is not in the local cache and the Hugging Face hub cannot be reached. {how}",
        f"Could not download {spec!r}. {how}")
