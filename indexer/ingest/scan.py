"""Walking image folders: every image file once, with its size and mtime.

Symlinked folders are followed but each real folder is visited once, so a symlink loop
ends. Folders and files that cannot be read are reported, not fatal.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from retrieval.images.decode import HEIF_SUPPORTED

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
    | ({".heic", ".heif"} if HEIF_SUPPORTED else set())
)


@dataclass(frozen=True)
class FoundFile:
    path: str  # absolute, as the OS gives it (surrogate-escaped when not UTF-8)
    size: int
    mtime_ns: int


@dataclass
class ScanResult:
    files: list[FoundFile] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)


def is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def scan_folders(roots: list[str]) -> ScanResult:
    result = ScanResult()
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[str] = set()
    for root in roots:
        root = os.path.abspath(root)
        if os.path.isfile(root):
            _add_file(root, result, seen_files)
            continue
        stack = [root]
        while stack:
            folder = stack.pop()
            try:
                info = os.stat(folder)
            except OSError as exc:
                result.errors.append((folder, f"cannot stat folder: {exc.strerror or exc}"))
                continue
            key = (info.st_dev, info.st_ino)
            if key in seen_dirs:  # a symlink loop, or the same folder reached twice
                continue
            seen_dirs.add(key)
            try:
                entries = list(os.scandir(folder))
            except OSError as exc:
                result.errors.append((folder, f"cannot list folder: {exc.strerror or exc}"))
                continue
            subfolders = []
            for entry in entries:
                if entry.name.startswith("."):
                    continue  # hidden files and clipdex's own data dir
                try:
                    if entry.is_dir(follow_symlinks=True):
                        subfolders.append(entry.path)
                    elif is_image_name(entry.name) and entry.is_file(follow_symlinks=True):
                        stat = entry.stat(follow_symlinks=True)
                        if entry.path not in seen_files:
                            seen_files.add(entry.path)
                            result.files.append(FoundFile(entry.path, stat.st_size, stat.st_mtime_ns))
                except OSError as exc:
                    result.errors.append((entry.path, f"cannot stat: {exc.strerror or exc}"))
            stack.extend(sorted(subfolders, reverse=True))
    result.files.sort(key=lambda f: f.path)
    return result


def _add_file(path: str, result: ScanResult, seen: set[str]) -> None:
    if not is_image_name(path):
        result.errors.append((path, "not an image file name"))
        return
    try:
        stat = os.stat(path)
    except OSError as exc:
        result.errors.append((path, f"cannot stat: {exc.strerror or exc}"))
        return
    if path not in seen:
        seen.add(path)
        result.files.append(FoundFile(path, stat.st_size, stat.st_mtime_ns))
